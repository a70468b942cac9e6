"""Rules from frequent itemsets, and every rule metric, computed in Spark from basket counts.

For a rule A -> b over n baskets: n_ab baskets hold A and b, n_a hold A, n_b hold b. All metrics are
Column expressions over these four counts (formulas in docs/rules.md, "Metrics").
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

COUNT_COLUMNS = ("n_ab", "n_a", "n_b", "n")


def candidate_rules(itemsets: DataFrame, max_rule_length: int) -> DataFrame:
    """Every rule X\\{c} -> c for every frequent itemset X with 2 <= |X| <= max_rule_length.

    `itemsets` has `items` (sorted), `size`, `count`. MLlib's associationRules gives single-item
    consequents only and no n_a/n_b; here the counts come from joins with the itemsets themselves,
    which hold every antecedent and consequent (every subset of a frequent itemset is frequent), so
    they are exact. Output: antecedent (sorted), consequent, rule_length, n_ab, n_a, n_b.
    """
    if max_rule_length < 2:
        raise ValueError(f"max_rule_length must be at least 2, got {max_rule_length}")
    sources = itemsets.filter(F.col("size").between(2, max_rule_length))
    exploded = sources.select(
        F.col("items"), F.col("size").alias("rule_length"), F.col("count").alias("n_ab"),
        F.explode("items").alias("consequent"),
    ).select(
        F.array_remove("items", F.col("consequent")).alias("antecedent"),
        "consequent", "rule_length", "n_ab",
    )
    antecedents = itemsets.select(F.col("items").alias("antecedent"), F.col("count").alias("n_a"))
    consequents = itemsets.filter(F.col("size") == 1).select(
        F.col("items")[0].alias("consequent"), F.col("count").alias("n_b")
    )
    return (
        exploded.join(antecedents, on="antecedent", how="inner")
        .join(consequents, on="consequent", how="inner")
        .select("antecedent", "consequent", "rule_length", "n_ab", "n_a", "n_b")
    )


def _d(name: str) -> Column:
    return F.col(name).cast("double")


def support() -> Column:
    return _d("n_ab") / _d("n")


def antecedent_support() -> Column:
    return _d("n_a") / _d("n")


def consequent_support() -> Column:
    return _d("n_b") / _d("n")


def confidence() -> Column:
    return _d("n_ab") / _d("n_a")


def lift() -> Column:
    return (_d("n_ab") * _d("n")) / (_d("n_a") * _d("n_b"))


def leverage() -> Column:
    return support() - antecedent_support() * consequent_support()


def conviction() -> Column:
    """(1 - s(b)) / (1 - conf); infinite when conf = 1, stored as null."""
    return F.when(F.col("n_ab") == F.col("n_a"), F.lit(None).cast("double")).otherwise(
        (1.0 - consequent_support()) / (1.0 - confidence())
    )


def zhangs_metric() -> Column:
    """leverage / max(s(ab)(1 - s(a)), s(a)(s(b) - s(ab))), in [-1, 1]; null when 0/0."""
    denominator = F.greatest(
        support() * (1.0 - antecedent_support()),
        antecedent_support() * (consequent_support() - support()),
    )
    return F.when(denominator == 0.0, F.lit(None).cast("double")).otherwise(leverage() / denominator)


def jaccard() -> Column:
    return _d("n_ab") / (_d("n_a") + _d("n_b") - _d("n_ab"))


def kulczynski() -> Column:
    return 0.5 * (_d("n_ab") / _d("n_a") + _d("n_ab") / _d("n_b"))


def certainty_factor() -> Column:
    """(conf - s(b)) / (1 - s(b)) when conf > s(b); (conf - s(b)) / s(b) when below; 0 when equal."""
    # Compare exactly in integers: conf > s(b)  <=>  n_ab * n > n_a * n_b.
    above = F.col("n_ab") * F.col("n") > F.col("n_a") * F.col("n_b")
    below = F.col("n_ab") * F.col("n") < F.col("n_a") * F.col("n_b")
    gap = confidence() - consequent_support()
    return (
        F.when(above, gap / (1.0 - consequent_support()))
        .when(below, gap / consequent_support())
        .otherwise(F.lit(0.0))
    )


def with_n(rules: DataFrame, n_baskets: int) -> DataFrame:
    return rules.withColumn("n", F.lit(n_baskets).cast("long"))


# Every metric, in the order of the output columns.
METRICS: dict[str, Callable[[], Column]] = {
    "support": support,
    "confidence": confidence,
    "lift": lift,
    "antecedent_support": antecedent_support,
    "consequent_support": consequent_support,
    "leverage": leverage,
    "conviction": conviction,
    "zhangs_metric": zhangs_metric,
    "jaccard": jaccard,
    "kulczynski": kulczynski,
    "certainty_factor": certainty_factor,
}


@functools.cache
def rule_metric_columns() -> tuple[Column, ...]:
    """Every metric as a named Column. Built once per process: the expressions are constants, and
    building them is ~150 calls into the JVM, 0.25-0.45 s of the driver's time on a 2-core machine
    (docs/figures.md, "pfp and the rules' scoring, eighth stop") for every frame they are added to."""
    return tuple(metric().alias(name) for name, metric in METRICS.items())


def with_rule_metrics(rules: DataFrame) -> DataFrame:
    """Add every metric to a frame with n_ab, n_a, n_b, n (longs)."""
    return rules.select("*", *rule_metric_columns())
