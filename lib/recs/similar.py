"""Similar items: cosine top-K between item factor vectors, without a catalogue-wide row cross join.

`exact_blocked` (default): normalise the vectors, cut the catalogue into `num_blocks` blocks (one row
per block holding its ids and its matrix), pair the blocks (num_blocks² rows, not items²) and, per
pair, multiply the two matrices in numpy inside `mapInPandas`, keeping each item's top K of that
block; a final window keeps the top K over all blocks. Exact; cost O(items² · rank) flops in BLAS,
memory per task O(block² ), rows shuffled O(items · num_blocks).

`lsh`: MLlib BucketedRandomProjectionLSH on the unit vectors and an approximate self-join with a
Euclidean threshold derived from `lsh_min_cosine` (|a-b|² = 2 - 2 cos). Approximate: pairs below
the threshold or never hashed together are missed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

METHODS = ("exact_blocked", "lsh")

SIMILAR_PAIRS_SCHEMA = T.StructType(
    [
        T.StructField("item_id", T.StringType(), False),
        T.StructField("similar_item_id", T.StringType(), False),
        T.StructField("score", T.DoubleType(), False),
    ]
)


@dataclass(frozen=True)
class SimilarItemsParams:
    k: int = 10
    method: str = "exact_blocked"
    num_blocks: int = 8
    lsh_bucket_length: float = 0.5
    lsh_num_hash_tables: int = 4
    lsh_min_cosine: float = 0.5


def with_unit_features(item_factors: DataFrame) -> DataFrame:
    """(item_id, unit array<double>): features / |features|; zero vectors (no direction) are left out."""
    # The squared length is bound once in the aggregate's finish function: a `norm` column used in the
    # element lambda is inlined there by the optimizer and re-evaluated per element (d^2 per vector).
    unit = F.aggregate(
        F.col("features"), F.lit(0.0).cast("double"), lambda acc, x: acc + x * x,
        lambda squared: F.when(squared > F.lit(0.0), F.transform(F.col("features"), lambda x: x / F.sqrt(squared))),
    )
    return item_factors.select("item_id", unit.alias("unit")).where(F.col("unit").isNotNull())


def similar_items(
    item_factors: DataFrame,
    k: int,
    method: str = "exact_blocked",
    num_blocks: int = 8,
    lsh_bucket_length: float = 0.5,
    lsh_num_hash_tables: int = 4,
    lsh_min_cosine: float = 0.5,
) -> DataFrame:
    """(item_id, rank, similar_item_id, score=cosine): each item's `k` most similar other items.

    `item_factors` has (item_id, features array<float|double>). Ties: similar_item_id ascending.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    unit = with_unit_features(item_factors)
    if method == "exact_blocked":
        if num_blocks < 1:
            raise ValueError(f"num_blocks must be >= 1, got {num_blocks}")
        pairs = blocked_top_k(unit, k, num_blocks)
    elif method == "lsh":
        pairs = lsh_pairs(unit, lsh_bucket_length, lsh_num_hash_tables, lsh_min_cosine)
    else:
        raise ValueError(f"unknown similar-items method '{method}' (known: {', '.join(METHODS)})")
    by_score = Window.partitionBy("item_id").orderBy(F.col("score").desc(), F.col("similar_item_id").asc())
    return (
        pairs.withColumn("rank", F.row_number().over(by_score))
        .where(F.col("rank") <= F.lit(k))
        .select("item_id", F.col("rank").cast("int"), "similar_item_id", F.col("score").cast("double"))
    )


def blocked_top_k(unit: DataFrame, k: int, num_blocks: int) -> DataFrame:
    """Per (item, other block): the item's top `k` cosines in that block (self excluded)."""
    block = F.pmod(F.xxhash64(F.col("item_id")), F.lit(num_blocks)).cast("int")
    blocks = (
        unit.select(block.alias("block"), F.struct("item_id", "unit").alias("item"))
        .groupBy("block")
        .agg(F.collect_list("item").alias("items"))
        .select(
            "block",
            F.transform("items", lambda x: x["item_id"]).alias("ids"),
            F.transform("items", lambda x: x["unit"]).alias("vectors"),
        )
    )
    left = blocks.select(F.col("ids").alias("left_ids"), F.col("vectors").alias("left_vectors"), F.col("block").alias("lb"))
    right = blocks.select(F.col("ids").alias("right_ids"), F.col("vectors").alias("right_vectors"), F.col("block").alias("rb"))
    block_pairs = left.crossJoin(right).repartition(max(1, num_blocks), "lb", "rb").drop("lb", "rb")

    def top_k_of_pairs(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            for row in batch.itertuples(index=False):
                yield block_pair_top_k(
                    np.asarray(row.left_ids, dtype=object), _matrix(row.left_vectors),
                    np.asarray(row.right_ids, dtype=object), _matrix(row.right_vectors), k,
                )

    return block_pairs.mapInPandas(top_k_of_pairs, SIMILAR_PAIRS_SCHEMA)


def _matrix(vectors: object) -> np.ndarray:
    return np.stack([np.asarray(v, dtype=np.float64) for v in vectors])


def block_pair_top_k(
    left_ids: np.ndarray, left: np.ndarray, right_ids: np.ndarray, right: np.ndarray, k: int
) -> pd.DataFrame:
    """Each left item's top `k` cosines among the right items (both unit-normalised), self excluded."""
    scores = left @ right.T
    scores[left_ids[:, None] == right_ids[None, :]] = -np.inf
    keep = min(k, scores.shape[1])
    if keep < scores.shape[1]:
        top = np.argpartition(-scores, keep - 1, axis=1)[:, :keep]
    else:
        top = np.broadcast_to(np.arange(scores.shape[1]), scores.shape)
    rows = np.repeat(np.arange(scores.shape[0]), top.shape[1])
    cols = top.reshape(-1)
    values = scores[rows, cols]
    valid = np.isfinite(values)
    return pd.DataFrame(
        {
            "item_id": left_ids[rows[valid]],
            "similar_item_id": right_ids[cols[valid]],
            "score": values[valid],
        }
    )


def lsh_pairs(unit: DataFrame, bucket_length: float, num_hash_tables: int, min_cosine: float) -> DataFrame:
    """Approximate (item, other item, cosine) pairs with cosine >= `min_cosine`, both directions."""
    from pyspark.ml.feature import BucketedRandomProjectionLSH
    from pyspark.ml.functions import array_to_vector

    if not -1.0 <= min_cosine <= 1.0:
        raise ValueError(f"lsh_min_cosine must be in [-1, 1], got {min_cosine}")
    vectors = unit.select("item_id", array_to_vector("unit").alias("vector"))
    lsh = BucketedRandomProjectionLSH(
        inputCol="vector", outputCol="hashes", bucketLength=bucket_length, numHashTables=num_hash_tables, seed=7
    )
    model = lsh.fit(vectors)
    threshold = math.sqrt(max(0.0, 2.0 - 2.0 * min_cosine)) + 1e-9
    joined = model.approxSimilarityJoin(vectors, vectors, threshold, distCol="distance")
    return (
        joined.select(
            F.col("datasetA.item_id").alias("item_id"),
            F.col("datasetB.item_id").alias("similar_item_id"),
            (F.lit(1.0) - F.col("distance") * F.col("distance") / F.lit(2.0)).alias("score"),
        )
        .where(F.col("item_id") != F.col("similar_item_id"))
    )
