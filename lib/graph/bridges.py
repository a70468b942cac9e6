"""Bridges: strong edges whose ends lie in different communities or different top categories.

A pair (a < b) is a bridge when its stronger direction's fused weight is >= min_weight and the two
items are in different communities (kind `community`), have different known top categories
(`category`) or both (`community_and_category`). Ranked by that weight, then by the item ids; each
row carries the stronger direction's evidence, so a merchandiser sees why the two belong together.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lib.schemas.graph import BRIDGE_BOTH, BRIDGE_CATEGORY, BRIDGE_COMMUNITY, EVIDENCE_COLUMNS


def strongest_direction(edges: DataFrame) -> DataFrame:
    """One row per unordered pair: item_a < item_b, the evidence and weight of the heavier direction."""
    low = F.least("src_item_id", "dst_item_id")
    high = F.greatest("src_item_id", "dst_item_id")
    pick = Window.partitionBy("item_a", "item_b").orderBy(F.col("weight").desc(), F.col("src_item_id").asc())
    return (
        edges.withColumn("item_a", low)
        .withColumn("item_b", high)
        .withColumn("pick", F.row_number().over(pick))
        .where(F.col("pick") == 1)
        .select("item_a", "item_b", "weight", *EVIDENCE_COLUMNS)
    )


def cross_category_bridges(edges: DataFrame, communities: DataFrame, min_weight: float, top_n: int) -> DataFrame:
    """CROSS_CATEGORY_BRIDGES columns (no dt), at most `top_n` rows.

    `communities` has (item_id, title, top_category, community_id) for every item of the graph.
    """
    side = communities.select("item_id", "title", "top_category", "community_id")
    a = side.select(
        F.col("item_id").alias("item_a"), F.col("title").alias("title_a"),
        F.col("top_category").alias("category_a"), F.col("community_id").alias("community_a"),
    )
    b = side.select(
        F.col("item_id").alias("item_b"), F.col("title").alias("title_b"),
        F.col("top_category").alias("category_b"), F.col("community_id").alias("community_b"),
    )
    other_community = F.col("community_a") != F.col("community_b")
    other_category = F.coalesce(F.col("category_a") != F.col("category_b"), F.lit(False))
    kind = (
        F.when(other_community & other_category, F.lit(BRIDGE_BOTH))
        .when(other_community, F.lit(BRIDGE_COMMUNITY))
        .when(other_category, F.lit(BRIDGE_CATEGORY))
    )
    by_weight = Window.orderBy(F.col("weight").desc(), F.col("item_a").asc(), F.col("item_b").asc())
    candidates = (
        strongest_direction(edges)
        .where(F.col("weight") >= F.lit(min_weight))
        .join(a, on="item_a", how="inner")
        .join(b, on="item_b", how="inner")
        .withColumn("kind", kind)
        .where(F.col("kind").isNotNull())
    )
    # the global window numbers at most top_n rows (the limit comes first)
    return (
        candidates.orderBy(F.col("weight").desc(), F.col("item_a").asc(), F.col("item_b").asc())
        .limit(top_n)
        .withColumn("rank", F.row_number().over(by_weight).cast("int"))
        .select(
            "rank", "item_a", "item_b", "title_a", "title_b", "community_a", "community_b", "category_a",
            "category_b", "kind", "weight", *EVIDENCE_COLUMNS,
        )
    )
