"""Pruning a merchandiser can trust: every pruned rule stays, with the reason in `status`."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lib.schemas.rules import KEPT, NOT_SIGNIFICANT, PRIVACY, REDUNDANT


@dataclass(frozen=True)
class PruningParams:
    """Each step can be switched off; precedence when several apply: privacy, FDR, redundancy."""

    fdr: bool = True
    fdr_alpha: float = 0.05
    redundant: bool = True
    min_improvement: float = 0.0
    privacy: bool = True
    privacy_min_count: int = 5


def proper_subsets(items: Column) -> Column:
    """All non-empty proper subsets of an array of k >= 2 items (2^k - 2 arrays, order kept).

    Subset `mask` (1 .. 2^k - 2) holds the items whose bit is set. Only call for k >= 2:
    for k = 1 Spark's sequence(1, 0) would count down.
    """
    k = F.size(items)
    masks = F.sequence(F.lit(1), F.pow(F.lit(2), k).cast("int") - F.lit(2))
    return F.transform(
        masks,
        lambda mask: F.filter(items, lambda _item, i: mask.bitwiseAND(F.pow(F.lit(2), i).cast("int")) != 0),
    )


def with_max_sub_confidence(rules: DataFrame) -> DataFrame:
    """Add `max_sub_confidence`: the best confidence of a rule Y -> c with Y a proper, non-empty
    subset of this rule's antecedent (null for single-item antecedents).

    `rules` must hold every candidate rule (not only those above min_confidence): all sub-rules
    of a rule from a frequent itemset are themselves candidates, so the lookup is exact.
    """
    subsets = rules.filter(F.size("antecedent") >= 2).select(
        "antecedent", "consequent", F.explode(proper_subsets(F.col("antecedent"))).alias("sub_antecedent")
    )
    sub_rules = rules.select(
        F.col("antecedent").alias("sub_antecedent"), "consequent", F.col("confidence").alias("sub_confidence")
    )
    best = (
        subsets.join(sub_rules, on=["sub_antecedent", "consequent"], how="inner")
        .groupBy("antecedent", "consequent")
        .agg(F.max("sub_confidence").alias("max_sub_confidence"))
    )
    return rules.join(best, on=["antecedent", "consequent"], how="left")


def filter_thresholds(rules: DataFrame, min_confidence: float, min_lift: float) -> DataFrame:
    """The mining thresholds (not pruning): rules below them are not rules of this run."""
    return rules.filter((F.col("confidence") >= min_confidence) & (F.col("lift") >= min_lift))


def rule_status(params: PruningParams) -> Column:
    """The first enabled pruning reason that applies, else 'kept'."""
    checks: list[tuple[Column, str]] = []
    if params.privacy:
        checks.append((F.col("n_ab") < params.privacy_min_count, PRIVACY))
    if params.fdr:
        checks.append((F.col("p_adjusted") > params.fdr_alpha, NOT_SIGNIFICANT))
    if params.redundant:
        is_redundant = F.col("max_sub_confidence").isNotNull() & (
            F.col("max_sub_confidence") >= F.col("confidence") - F.lit(params.min_improvement)
        )
        checks.append((is_redundant, REDUNDANT))
    status: Column | None = None
    for condition, reason in checks:
        status = F.when(condition, reason) if status is None else status.when(condition, reason)
    return F.lit(KEPT) if status is None else status.otherwise(KEPT)


def with_status(rules: DataFrame, params: PruningParams) -> DataFrame:
    return rules.withColumn("status", rule_status(params))


def itemset_status(params: PruningParams) -> Column:
    """'privacy' when an itemset's basket `count` is below `privacy_min_count` (and privacy is on),
    else 'kept'. The same minimum count as for rules (a rule's n_ab is its itemset's count), so a
    count hidden in `association_rules` is not published in `frequent_itemsets` or `bundles`."""
    if params.privacy:
        return F.when(F.col("count") < params.privacy_min_count, F.lit(PRIVACY)).otherwise(F.lit(KEPT))
    return F.lit(KEPT)


def with_itemset_status(itemsets: DataFrame, params: PruningParams) -> DataFrame:
    return itemsets.withColumn("status", itemset_status(params))
