"""One edge frame per signal: (src_item_id, dst_item_id, its evidence columns, score in [0, 1]).

Symmetric signals (rules, co-occurrence, cosines) yield both directions of every pair with the same
score; the next-item signal only src -> dst. Each function's `score_<signal>` column is what the fusion
weighs (docs/graph.md gives each normalisation).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lib.recs.similar import similar_items
from lib.schemas.events import PURCHASE
from lib.schemas.graph import (
    SIGNAL_ALS, SIGNAL_BEHAVIOUR, SIGNAL_CO_OCCURRENCE, SIGNAL_NEXT_ITEM, SIGNAL_RULES, SIGNAL_TEXT,
)
from lib.schemas.rules import KEPT

COSINE_COLUMNS = {SIGNAL_ALS: "als_cosine", SIGNAL_TEXT: "text_cosine", SIGNAL_BEHAVIOUR: "behaviour_cosine"}


def score_column(signal: str) -> str:
    return f"score_{signal}"


def both_directions(pairs: DataFrame, *columns: str) -> DataFrame:
    """(src, dst, columns...) and (dst, src, columns...) for every pair."""
    forward = pairs.select("src_item_id", "dst_item_id", *columns)
    backward = pairs.select(
        F.col("dst_item_id").alias("src_item_id"), F.col("src_item_id").alias("dst_item_id"), *columns
    )
    return forward.unionByName(backward)


def rule_pairs_from_association_rules(rules: DataFrame) -> DataFrame:
    """(item_id, other_id, lift, confidence, n_ab): kept rules with a one-item antecedent."""
    return rules.where((F.col("status") == F.lit(KEPT)) & (F.size("antecedent") == F.lit(1))).select(
        F.element_at("antecedent", 1).alias("item_id"), F.col("consequent").alias("other_id"),
        F.col("lift").cast("double"), F.col("confidence").cast("double"), F.col("n_ab").cast("long"),
    )


def rule_pairs_from_bought_together(bought_together: DataFrame) -> DataFrame:
    """The same pairs from the FPGrowth job's `bought_together` (its top companions per item)."""
    return bought_together.select(
        F.col("item_id"), F.col("companion_id").alias("other_id"), F.col("lift").cast("double"),
        F.col("confidence").cast("double"), F.col("n_ab").cast("long"),
    )


def rule_signal(rule_pairs: DataFrame) -> DataFrame:
    """rule_lift (best of both directions), rule_confidence (src -> dst, null if only dst -> src
    was mined), rule_n_ab; score = 1 - 1/lift for lift > 1, else 0 (lift 2 -> 0.5, lift 10 -> 0.9)."""
    forward = rule_pairs.select(
        F.col("item_id").alias("src_item_id"), F.col("other_id").alias("dst_item_id"), "lift",
        F.col("confidence"), "n_ab",
    )
    backward = rule_pairs.select(
        F.col("other_id").alias("src_item_id"), F.col("item_id").alias("dst_item_id"), "lift",
        F.lit(None).cast("double").alias("confidence"), "n_ab",
    )
    lift = F.max("lift")
    return (
        forward.unionByName(backward)
        .where(F.col("src_item_id") != F.col("dst_item_id"))
        .groupBy("src_item_id", "dst_item_id")
        .agg(lift.alias("rule_lift"), F.max("confidence").alias("rule_confidence"), F.max("n_ab").alias("rule_n_ab"))
        .withColumn(
            score_column(SIGNAL_RULES),
            F.when(F.col("rule_lift") > F.lit(1.0), F.lit(1.0) - F.lit(1.0) / F.col("rule_lift")).otherwise(F.lit(0.0)),
        )
    )


def basket_items(events: DataFrame, max_basket_items: int) -> DataFrame:
    """(basket_id, item_id) distinct: purchases grouped by order_id; oversized baskets left out."""
    lines = (
        events.where((F.col("event_type") == F.lit(PURCHASE)) & F.col("order_id").isNotNull())
        .select(F.col("order_id").alias("basket_id"), "item_id")
        .distinct()
    )
    whole_basket = Window.partitionBy("basket_id").rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    return (
        lines.withColumn("basket_size", F.count(F.lit(1)).over(whole_basket))
        .where(F.col("basket_size") <= F.lit(max_basket_items))
        .select("basket_id", "item_id")
    )


def co_occurrence_signal(events: DataFrame, max_basket_items: int, min_count: int) -> DataFrame:
    """co_count = baskets with both, co_cosine = co_count / sqrt(n_src * n_dst); score = co_cosine.

    Pairs seen in fewer than `min_count` baskets are left out.
    """
    baskets = basket_items(events, max_basket_items)
    item_counts = baskets.groupBy("item_id").agg(F.count(F.lit(1)).alias("n_item"))
    pairs = (
        baskets.withColumnRenamed("item_id", "src_item_id")
        .join(baskets.withColumnRenamed("item_id", "dst_item_id"), on="basket_id", how="inner")
        .where(F.col("src_item_id") != F.col("dst_item_id"))
        .groupBy("src_item_id", "dst_item_id")
        .agg(F.count(F.lit(1)).alias("co_count"))
        .where(F.col("co_count") >= F.lit(min_count))
    )
    n_src = item_counts.select(F.col("item_id").alias("src_item_id"), F.col("n_item").alias("n_src"))
    n_dst = item_counts.select(F.col("item_id").alias("dst_item_id"), F.col("n_item").alias("n_dst"))
    cosine = F.col("co_count") / F.sqrt(F.col("n_src").cast("double") * F.col("n_dst"))
    return (
        pairs.join(n_src, on="src_item_id", how="inner")
        .join(n_dst, on="dst_item_id", how="inner")
        .select("src_item_id", "dst_item_id", F.col("co_count").cast("long"), cosine.alias("co_cosine"))
        .withColumn(score_column(SIGNAL_CO_OCCURRENCE), F.col("co_cosine"))
    )


def next_item_signal(next_items: DataFrame) -> DataFrame:
    """Directed: next_confidence = P(next bought is dst | src), next_count; score = next_confidence."""
    return (
        next_items.where(F.col("item_id") != F.col("next_item_id"))
        .select(
            F.col("item_id").alias("src_item_id"), F.col("next_item_id").alias("dst_item_id"),
            F.col("confidence").cast("double").alias("next_confidence"), F.col("count").cast("long").alias("next_count"),
        )
        .withColumn(score_column(SIGNAL_NEXT_ITEM), F.greatest(F.least(F.col("next_confidence"), F.lit(1.0)), F.lit(0.0)))
    )


def cosine_pairs(embeddings: DataFrame, k: int, method: str = "exact_blocked", num_blocks: int = 8) -> DataFrame:
    """(item_id, similar_item_id, score): each item's `k` nearest by cosine of `vector` (lib.recs.similar)."""
    factors = embeddings.select("item_id", F.col("vector").alias("features"))
    return similar_items(factors, k, method, num_blocks).select("item_id", "similar_item_id", "score")


def cosine_signal(pairs: DataFrame, signal: str) -> DataFrame:
    """Symmetric kNN pairs (item_id, similar_item_id, score=cosine): the larger cosine of either
    direction; score = max(cosine, 0)."""
    column = COSINE_COLUMNS[signal]
    named = pairs.select(
        F.col("item_id").alias("src_item_id"), F.col("similar_item_id").alias("dst_item_id"),
        F.col("score").cast("double").alias(column),
    ).where(F.col("src_item_id") != F.col("dst_item_id"))
    positive: Column = F.greatest(F.col(column), F.lit(0.0))
    return (
        both_directions(named, column)
        .groupBy("src_item_id", "dst_item_id")
        .agg(F.max(column).alias(column))
        .withColumn(score_column(signal), positive)
    )
