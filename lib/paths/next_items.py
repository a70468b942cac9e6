""""Bought after": item -> items most often bought in a later basket within N days, with evidence.

Counted per user, from the user's FIRST basket with item A in the window (its `anchor`):
- n_a: users whose anchor basket is at least N days before `as_of` (the whole N days after it are
  observed, so recent buyers do not dilute the confidence; they are simply not counted yet);
- n_ab: those of them with B in a later basket (seq greater, same day allowed) at most N days after;
- n_b: users who bought B at all in the window; n: users with a basket in the window.
confidence = n_ab / n_a (P(B within N days | A)); lift = confidence / (n_b / n); Fisher and BH as for
the rules. B = A (a repeat purchase) and B only in the anchor basket itself (bought together) are not
"bought after".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lib.rules.metrics import confidence, lift
from lib.rules.pruning import PruningParams, rule_status
from lib.rules.significance import fisher_p_value, with_bh_adjusted

RANKING_METRICS = ("lift", "confidence", "n_ab")


@dataclass(frozen=True)
class NextItemsParams:
    within_days: int = 14
    min_count: int = 5  # n_ab below this is not a candidate at all (mining threshold)
    top_k: int = 10
    metric: str = "lift"  # lift | confidence | n_ab
    fdr_buckets: int = 16


def basket_items(baskets: DataFrame) -> DataFrame:
    """(user_id, seq, basket_date, item_id): one row per item of each basket."""
    return baskets.select("user_id", "seq", "basket_date", F.explode("items").alias("item_id"))


def anchors(baskets: DataFrame) -> DataFrame:
    """(user_id, item_id, anchor_seq, anchor_date): each user's first basket holding each item."""
    return (
        basket_items(baskets)
        .groupBy("user_id", "item_id")
        .agg(F.min(F.struct("seq", "basket_date")).alias("first"))
        .select("user_id", "item_id", F.col("first.seq").alias("anchor_seq"),
                F.col("first.basket_date").alias("anchor_date"))
    )


def transition_counts(baskets: DataFrame, as_of: dt.date, within_days: int, min_count: int) -> DataFrame:
    """(item_id, next_item_id, n_ab, n_a, n_b, n, confidence, lift, median_days) for pairs with
    n_ab >= min_count, from USER_BASKETS_SCHEMA `baskets` of the window ending at `as_of`."""
    if within_days < 1 or min_count < 1:
        raise ValueError(f"within_days and min_count must be >= 1, got {within_days}, {min_count}")
    last_anchor_date = as_of - dt.timedelta(days=within_days)
    eligible = anchors(baskets).where(F.col("anchor_date") <= F.lit(last_anchor_date))
    later = basket_items(baskets).select(
        "user_id", F.col("seq").alias("later_seq"), F.col("basket_date").alias("later_date"),
        F.col("item_id").alias("next_item_id"),
    )
    days = F.datediff("later_date", "anchor_date")
    is_after = (F.col("later_seq") > F.col("anchor_seq")) & (days <= F.lit(within_days))
    per_user = (
        eligible.join(later, on="user_id", how="inner")
        .where(is_after & (F.col("next_item_id") != F.col("item_id")))
        .groupBy("user_id", "item_id", "next_item_id")
        .agg(F.min(days).alias("days"))
    )
    pairs = (
        per_user.groupBy("item_id", "next_item_id")
        .agg(F.count(F.lit(1)).alias("n_ab"), F.percentile_approx("days", 0.5).cast("int").alias("median_days"))
        .where(F.col("n_ab") >= F.lit(min_count))
    )
    n_a = eligible.groupBy("item_id").agg(F.count(F.lit(1)).alias("n_a"))
    n_b = basket_items(baskets).groupBy(F.col("item_id").alias("next_item_id")).agg(
        F.countDistinct("user_id").alias("n_b")
    )
    n = baskets.agg(F.countDistinct("user_id").alias("n"))
    counted = (
        pairs.join(n_a, on="item_id", how="inner")
        .join(n_b, on="next_item_id", how="inner")
        .crossJoin(n)
    )
    return counted.select(
        "item_id", "next_item_id",
        *[F.col(c).cast("long").alias(c) for c in ("n_ab", "n_a", "n_b", "n")],
        confidence().alias("confidence"), lift().alias("lift"), "median_days",
    )


def next_items(
    baskets: DataFrame, as_of: dt.date, params: NextItemsParams, pruning: PruningParams
) -> DataFrame:
    """NEXT_ITEMS_SCHEMA without titles and dt: each item's top_k next items, kept ones first, then
    by `metric` (ties: next_item_id)."""
    if params.metric not in RANKING_METRICS:
        raise ValueError(f"metric must be one of {', '.join(RANKING_METRICS)}, got '{params.metric}'")
    counted = transition_counts(baskets, as_of, params.within_days, params.min_count).withColumn(
        "p_value", fisher_p_value()
    ).persist()
    pruned = with_bh_adjusted(counted, buckets=params.fdr_buckets).withColumn(
        "status", rule_status(dataclasses.replace(pruning, redundant=False))
    )
    order = Window.partitionBy("item_id").orderBy(
        (F.col("status") == F.lit("kept")).desc(), F.col(params.metric).desc(), F.col("next_item_id").asc()
    )
    return (
        pruned.withColumn("rank", F.row_number().over(order))
        .where(F.col("rank") <= F.lit(params.top_k))
        .select(
            "item_id", F.col("rank").cast("int"), "next_item_id",
            F.lit(params.within_days).cast("int").alias("within_days"),
            "n_ab", "n_a", "n_b", "n", "confidence", "lift", "median_days", "p_value", "p_adjusted", "status",
        )
    )
