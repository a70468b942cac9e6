"""Bundle candidates from the graph: cliques of strong edges inside one community.

Cliques are grown by joins: size 2 = strong pairs a < b of one community; a clique of size s grows by
an item greater than its last member that is a strong neighbour of all s members (a group-by count).
Only maximal cliques of size >= min_size are kept (a clique that grew is dropped), at most
`max_per_community` per community by their weakest edge. Each candidate is counted in the baskets
(how many contain every item) and gets the FPGrowth bundles' privacy status: `privacy` when that count
is below privacy_min_count, else `kept`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lib.schemas.graph import SOURCE_GRAPH
from lib.schemas.rules import KEPT, PRIVACY


@dataclass(frozen=True)
class BundleParams:
    min_weight: float = 0.3  # strong edges for bundles (symmetric weight)
    min_size: int = 3
    max_size: int = 4
    max_per_community: int = 5
    privacy_min_count: int = 5

    def validate(self) -> None:
        if not 2 <= self.min_size <= self.max_size <= 8:
            raise ValueError(f"bundles: need 2 <= min_size <= max_size <= 8, got {self.min_size}, {self.max_size}")
        if self.max_per_community < 1 or self.privacy_min_count < 1:
            raise ValueError("bundles: max_per_community and privacy_min_count must be >= 1")


def community_cliques(symmetric: DataFrame, communities: DataFrame, params: BundleParams) -> DataFrame:
    """(items sorted array, size, community_id, min_weight): maximal cliques, min_size..max_size."""
    params.validate()
    label = communities.select("item_id", "community_id")
    strong = (
        symmetric.where(F.col("weight") >= F.lit(params.min_weight))
        .join(label.withColumnRenamed("item_id", "src_item_id"), on="src_item_id", how="inner")
        .join(label.select(F.col("item_id").alias("dst_item_id"), F.col("community_id").alias("dst_community")),
              on="dst_item_id", how="inner")
        .where(F.col("community_id") == F.col("dst_community"))
        .select("src_item_id", "dst_item_id", "weight", "community_id")
    ).localCheckpoint(eager=True)
    cliques = strong.where(F.col("src_item_id") < F.col("dst_item_id")).select(
        F.array("src_item_id", "dst_item_id").alias("items"), "community_id", F.col("weight").alias("min_weight")
    )
    found = []
    for size in range(2, params.max_size):
        members = cliques.select("items", "community_id", "min_weight", F.explode("items").alias("src_item_id"))
        grown = (
            members.join(strong.select("src_item_id", "dst_item_id", "weight"), on="src_item_id", how="inner")
            .where(F.col("dst_item_id") > F.element_at("items", -1))
            .groupBy("items", "community_id", "dst_item_id")
            .agg(F.count(F.lit(1)).alias("links"), F.min("weight").alias("new_min"), F.first("min_weight").alias("min_weight"))
            .where(F.col("links") == F.lit(size))
            .select(
                F.concat("items", F.array("dst_item_id")).alias("items"), "community_id",
                F.least("min_weight", "new_min").alias("min_weight"),
            )
        ).localCheckpoint(eager=True)
        # a clique is maximal here when no grown clique contains it (every subset of a grown clique
        # of size `size` is itself a clique found at this size)
        grown_subsets = grown.select(
            F.explode(F.transform(F.sequence(F.lit(1), F.lit(size + 1)),
                                  lambda i: F.filter("items", lambda x, j: j != i - 1))).alias("items")
        ).distinct()
        maximal = cliques.join(grown_subsets, on="items", how="left_anti")
        if size >= params.min_size:
            found.append(maximal)
        cliques = grown
    if params.max_size >= params.min_size:
        found.append(cliques)
    result = found[0]
    for part in found[1:]:
        result = result.unionByName(part)
    best = Window.partitionBy("community_id").orderBy(F.col("min_weight").desc(), F.col("items").asc())
    return (
        result.withColumn("pick", F.row_number().over(best))
        .where(F.col("pick") <= F.lit(params.max_per_community))
        .select("items", F.size("items").cast("int").alias("size"), "community_id", "min_weight")
    )


def graph_bundles(cliques: DataFrame, baskets: DataFrame, items: DataFrame, n_baskets: int,
                  privacy_min_count: int) -> DataFrame:
    """GRAPH_BUNDLES columns (no dt). `baskets` is (basket_id, item_id) distinct, `items` the catalogue."""
    members = cliques.select("items", F.explode("items").alias("item_id"))
    covered = (
        members.join(baskets, on="item_id", how="inner")
        .groupBy("items", "basket_id")
        .agg(F.count(F.lit(1)).alias("present"))
        .where(F.col("present") == F.size("items"))
        .groupBy("items")
        .agg(F.count(F.lit(1)).alias("count"))
    )
    item_counts = baskets.groupBy("item_id").agg(F.count(F.lit(1)).alias("item_count"))
    catalogue = items.select("item_id", "title", "latest_price")
    details = (
        members.join(item_counts, on="item_id", how="left")
        .join(catalogue, on="item_id", how="left")
        .groupBy("items")
        .agg(
            F.max(F.coalesce("item_count", F.lit(0))).alias("max_item_count"),
            F.sort_array(F.collect_list(F.struct("item_id", "title"))).alias("titled"),
            F.sum("latest_price").alias("price_sum"),
            F.count("latest_price").alias("priced"),
        )
    )
    count = F.coalesce(F.col("count"), F.lit(0)).cast("long")
    return (
        cliques.join(covered, on="items", how="left")
        .join(details, on="items", how="inner")
        .select(
            "items",
            F.transform("titled", lambda s: s["title"]).alias("titles"),
            "size", "community_id", F.col("min_weight").cast("double"),
            count.alias("count"),
            (count / F.lit(float(max(n_baskets, 1)))).alias("support"),
            F.when(F.col("max_item_count") > 0, count / F.col("max_item_count")).otherwise(F.lit(0.0)).alias("all_confidence"),
            F.when(F.col("priced") == F.col("size"), F.col("price_sum")).alias("bundle_price"),
            F.when(count < F.lit(privacy_min_count), F.lit(PRIVACY)).otherwise(F.lit(KEPT)).alias("status"),
            F.lit(SOURCE_GRAPH).alias("source"),
        )
    )
