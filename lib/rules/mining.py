"""Frequent itemsets with Spark MLlib's FPGrowth, with an exact absolute count threshold."""

from __future__ import annotations

import math

from pyspark.ml.fpm import FPGrowth
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# Absorbs floating error in min_support * n (0.1 * 30 = 3.0000000000000004 must mean 3 baskets).
_EPSILON = 1e-9


def effective_min_count(n_baskets: int, min_support: float, min_count: int) -> int:
    """The absolute basket count an itemset needs: the stricter of `min_support`·n and `min_count`.

    0 leaves a threshold unset; at least one must be set, and the result is at least 1.
    """
    if not 0.0 <= min_support <= 1.0:
        raise ValueError(f"min_support must be a fraction in [0, 1], got {min_support}")
    if min_count < 0:
        raise ValueError(f"min_count must be >= 0, got {min_count}")
    if min_support == 0.0 and min_count == 0:
        raise ValueError("set min_support (a fraction of baskets) or min_count (a number of baskets)")
    from_support = math.ceil(min_support * n_baskets - _EPSILON)
    return max(1, from_support, min_count)


def mllib_min_support(min_count: int, n_baskets: int) -> float:
    """The fraction to give MLlib so that its `ceil(minSupport * n)` is exactly `min_count`."""
    return (min_count - 0.5) / n_baskets


def fit_fpgrowth(baskets: DataFrame, min_count: int, n_baskets: int, num_partitions: int):
    """Fit MLlib's FPGrowth on `baskets.items` (unique items per basket) at an exact count."""
    model = FPGrowth(
        itemsCol="items",
        minSupport=mllib_min_support(min_count, n_baskets),
        minConfidence=1.0,  # MLlib's own rules are not used; see metrics.candidate_rules
        numPartitions=num_partitions,
    )
    return model.fit(baskets.select("items"))


def clean_itemsets(freq_itemsets: DataFrame, min_count: int) -> DataFrame:
    """MLlib's `freqItemsets` (items, freq) -> `items` (sorted), `size`, `count`."""
    return (
        freq_itemsets.filter(F.col("freq") >= min_count)
        .select(
            F.array_sort("items").alias("items"),
            F.size("items").alias("size"),
            F.col("freq").cast("long").alias("count"),
        )
    )


def mine_itemsets(baskets: DataFrame, min_count: int, n_baskets: int, num_partitions: int) -> DataFrame:
    """Frequent itemsets (`items`, `size`, `count`). Persist the result: MLlib recomputes them on
    every action otherwise (10-24 s each on FIMI retail, see SPARK-NOTES)."""
    model = fit_fpgrowth(baskets, min_count, n_baskets, num_partitions)
    return clean_itemsets(model.freqItemsets, min_count)


ENGINES = ("mllib", "pfp")


def mine_itemsets_with(engine: str, baskets: DataFrame, min_count: int, n_baskets: int, num_partitions: int,
                       pfp=None) -> DataFrame:
    """Frequent itemsets (`items`, `size`, `count`) by `engine`: "mllib" (MLlib FPGrowth, the
    reference) or "pfp" (lib.rules.pfp: parallel FP-growth with a compiled miner per item group)."""
    if engine == "mllib":
        return mine_itemsets(baskets, min_count, n_baskets, num_partitions)
    if engine == "pfp":
        from lib.rules.pfp import PfpParams, mine_itemsets_pfp

        return mine_itemsets_pfp(baskets, min_count, pfp if pfp is not None else PfpParams())
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")


def with_support(itemsets: DataFrame, n_baskets: int) -> DataFrame:
    return itemsets.withColumn("support", F.col("count") / F.lit(float(n_baskets)))
