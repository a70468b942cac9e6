"""Communities over strong edges, as DataFrame iterations (a fixed number of synchronous rounds).

`label_propagation` (weighted): every item starts with its own id as label; each round every item
takes the label with the largest summed weight among its strong neighbours and itself, its own label
voting with the weight of its strongest strong edge (this damps the two-colour oscillation of plain
synchronous LPA); ties go to the smallest label. `connected_components`: every item takes the
smallest label among itself and its strong neighbours (exact after diameter-many rounds).
Every round is materialised (localCheckpoint: a round reads the previous labels twice, so an uncut
plan doubles per round); both stop early when a round changes no label.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lib.graph.arrays import cut_lineage

METHODS = ("label_propagation", "connected_components")


@dataclass(frozen=True)
class CommunityParams:
    method: str = "label_propagation"
    min_weight: float = 0.2  # strong edges: symmetric weight >= this
    max_iterations: int = 10
    hubs: int = 20  # items with the largest PageRank in the whole graph are marked is_hub

    def validate(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"communities.method must be one of {', '.join(METHODS)}, got '{self.method}'")
        if self.max_iterations < 1 or self.hubs < 0:
            raise ValueError("communities: max_iterations must be >= 1 and hubs >= 0")


def graph_nodes(edges: DataFrame) -> DataFrame:
    """(item_id) of every item with an edge."""
    return (
        edges.select(F.col("src_item_id").alias("item_id"))
        .unionByName(edges.select(F.col("dst_item_id").alias("item_id")))
        .distinct()
    )


def strong_edges(symmetric: DataFrame, min_weight: float) -> DataFrame:
    return symmetric.where(F.col("weight") >= F.lit(min_weight)).select("src_item_id", "dst_item_id", "weight")


def _lpa_round(labels: DataFrame, strong: DataFrame, self_votes: DataFrame) -> DataFrame:
    neighbour_votes = (
        strong.join(labels.withColumnRenamed("item_id", "dst_item_id"), on="dst_item_id", how="inner")
        .select(F.col("src_item_id").alias("item_id"), "label", F.col("weight").alias("vote"))
    )
    own_votes = labels.join(self_votes, on="item_id", how="inner").select("item_id", "label", "vote")
    totals = neighbour_votes.unionByName(own_votes).groupBy("item_id", "label").agg(F.sum("vote").alias("vote"))
    best = Window.partitionBy("item_id").orderBy(F.col("vote").desc(), F.col("label").asc())
    return totals.withColumn("pick", F.row_number().over(best)).where(F.col("pick") == 1).select("item_id", "label")


def _cc_round(labels: DataFrame, strong: DataFrame) -> DataFrame:
    neighbour = strong.join(labels.withColumnRenamed("item_id", "dst_item_id"), on="dst_item_id", how="inner").select(
        F.col("src_item_id").alias("item_id"), "label"
    )
    return labels.unionByName(neighbour).groupBy("item_id").agg(F.min("label").alias("label"))


def detect_communities(nodes: DataFrame, symmetric: DataFrame, params: CommunityParams) -> DataFrame:
    """(item_id, community_id) for every item of `nodes`; items without a strong edge are alone.

    `symmetric` is (src_item_id, dst_item_id, weight) in both directions (fusion.symmetric_weights).
    """
    params.validate()
    strong = cut_lineage(strong_edges(symmetric, params.min_weight))
    labels = cut_lineage(nodes.select("item_id", F.col("item_id").alias("label")))
    self_votes = strong.groupBy(F.col("src_item_id").alias("item_id")).agg(F.max("weight").alias("vote"))
    for _ in range(params.max_iterations):
        if params.method == "label_propagation":
            updated = _lpa_round(labels, strong, self_votes)
            # items with no strong edge receive no vote and keep their own label
            updated = labels.join(updated.withColumnRenamed("label", "new"), on="item_id", how="left").select(
                "item_id", F.coalesce(F.col("new"), F.col("label")).alias("label")
            )
        else:
            updated = _cc_round(labels, strong)
        updated = cut_lineage(updated)
        changed = (
            updated.join(labels.withColumnRenamed("label", "old"), on="item_id", how="inner")
            .where(F.col("label") != F.col("old"))
            .count()
        )
        labels = updated
        if changed == 0:
            break
    return labels.select("item_id", F.col("label").alias("community_id"))


def top_category(category_path: str = "category_path", category: str = "category") -> F.Column:
    """The first segment of category_path ("home/kitchen" -> "home"), else the category."""
    return F.coalesce(F.nullif(F.split(F.col(category_path), "/").getItem(0), F.lit("")), F.col(category))


def name_communities(assignments: DataFrame, centrality: DataFrame, items: DataFrame, hubs: int) -> DataFrame:
    """ITEM_COMMUNITIES columns (no dt) with a readable name per community:

    "<most common top category (or 'mixed' when none is known)>: <title of its top hub> (+N more)".
    """
    catalogue = items.select("item_id", "title", top_category().alias("top_category"))
    members = (
        assignments.join(centrality, on="item_id", how="left")
        .join(catalogue, on="item_id", how="left")
        .withColumn("pagerank", F.coalesce(F.col("pagerank"), F.lit(0.0)))
    )
    in_community = Window.partitionBy("community_id").orderBy(F.col("pagerank").desc(), F.col("item_id").asc())
    whole = Window.partitionBy("community_id").rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    category_counts = (
        members.where(F.col("top_category").isNotNull())
        .groupBy("community_id", "top_category")
        .agg(F.count(F.lit(1)).alias("n"))
    )
    by_count = Window.partitionBy("community_id").orderBy(F.col("n").desc(), F.col("top_category").asc())
    dominant = (
        category_counts.withColumn("pick", F.row_number().over(by_count))
        .where(F.col("pick") == 1)
        .select("community_id", F.col("top_category").alias("dominant_category"))
    )
    ranked = (
        members.withColumn("hub_rank", F.row_number().over(in_community))
        .withColumn("community_size", F.count(F.lit(1)).over(whole))
    )
    top_hubs = (
        members.orderBy(F.col("pagerank").desc(), F.col("item_id").asc())
        .limit(hubs)
        .select("item_id", F.lit(True).alias("is_hub"))
    )
    hub_title = F.coalesce(F.col("title"), F.col("item_id"))
    names = (
        ranked.where(F.col("hub_rank") == 1)
        .join(dominant, on="community_id", how="left")
        .select(
            "community_id",
            F.concat(
                F.coalesce(F.col("dominant_category"), F.lit("mixed")), F.lit(": "), hub_title,
                F.when(F.col("community_size") > 1, F.concat(F.lit(" (+"), (F.col("community_size") - 1).cast("string"), F.lit(" more)")))
                .otherwise(F.lit("")),
            ).alias("community_name"),
        )
    )
    return ranked.join(names, on="community_id", how="inner").join(top_hubs, on="item_id", how="left").select(
        "item_id", "title", "top_category", "community_id", "community_name",
        F.col("community_size").cast("long"), F.col("pagerank").cast("double"), F.col("hub_rank").cast("int"),
        F.coalesce(F.col("is_hub"), F.lit(False)).alias("is_hub"),
    )
