"""Weighted PageRank as DataFrame iterations over the directed, fused edges.

    pr_0(v) = 1 / N
    pr_{t+1}(v) = (1 - d) / N + d * ( sum_u pr_t(u) * w(u, v) / W(u)  +  dangling_t / N )

W(u) = sum of u's out-weights; dangling_t = the rank of items without out-edges, spread evenly.
A fixed number of iterations; each one is materialised (localCheckpoint) because it reads the
previous ranks three times (flow, dangling mass, node list): without the cut the plan would grow
threefold per iteration.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.graph.arrays import cut_lineage


@dataclass(frozen=True)
class PageRankParams:
    damping: float = 0.85
    iterations: int = 20

    def validate(self) -> None:
        if not 0.0 < self.damping < 1.0:
            raise ValueError(f"pagerank.damping must be in (0, 1), got {self.damping}")
        if self.iterations < 1:
            raise ValueError(f"pagerank.iterations must be >= 1, got {self.iterations}")


def pagerank(nodes: DataFrame, edges: DataFrame, params: PageRankParams) -> DataFrame:
    """(item_id, pagerank) for every item of `nodes`; `edges` is (src_item_id, dst_item_id, weight > 0)."""
    params.validate()
    n = nodes.count()
    if n == 0:
        return nodes.select("item_id", F.lit(0.0).alias("pagerank"))
    out_weight = edges.groupBy("src_item_id").agg(F.sum("weight").alias("out_weight"))
    transitions = cut_lineage(
        edges.join(out_weight, on="src_item_id", how="inner").select(
            "src_item_id", "dst_item_id", (F.col("weight") / F.col("out_weight")).alias("p")
        )
    )
    has_out = cut_lineage(out_weight.select(F.col("src_item_id").alias("item_id"), F.lit(True).alias("has_out")))
    ranks = cut_lineage(nodes.select("item_id", F.lit(1.0 / n).alias("pagerank")))
    d = params.damping
    for _ in range(params.iterations):
        dangling = (
            ranks.join(has_out, on="item_id", how="left_anti").agg(F.coalesce(F.sum("pagerank"), F.lit(0.0)).alias("dangling"))
        )
        flow = (
            transitions.join(ranks.withColumnRenamed("item_id", "src_item_id"), on="src_item_id", how="inner")
            .groupBy(F.col("dst_item_id").alias("item_id"))
            .agg(F.sum(F.col("pagerank") * F.col("p")).alias("flow"))
        )
        ranks = cut_lineage(
            ranks.select("item_id")
            .join(flow, on="item_id", how="left")
            .crossJoin(F.broadcast(dangling))
            .select(
                "item_id",
                (F.lit((1.0 - d) / n) + F.lit(d) * (F.coalesce(F.col("flow"), F.lit(0.0)) + F.col("dangling") / F.lit(n)))
                .alias("pagerank"),
            )
        )
    return ranks
