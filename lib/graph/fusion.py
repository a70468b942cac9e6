"""Fuse the signals into one edge table and cap it per node.

    weight(src, dst) = sum over signals s of weights[s] * score_s(src, dst)      (0 where s has no pair)

Each score_s is in [0, 1] (lib.graph.signals). Pairs with weight <= min_weight are dropped. The cap
keeps, per node, its `top_k` edges by weight (ties: dst_item_id ascending):
- `union`: a pair is kept when it is in the top k of either endpoint (a symmetric pair keeps both
  directions, so the graph stays symmetric; a node's degree can exceed k when it is popular);
- `mutual`: kept only when in the top k of both endpoints (degree <= k everywhere; a directed pair
  with no reverse row needs only its source's rank).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lib.graph.signals import score_column
from lib.schemas.graph import EDGES_SCHEMA, EVIDENCE_COLUMNS, EVIDENCE_FIELDS, SIGNALS

CAP_MODES = ("union", "mutual")


@dataclass(frozen=True)
class FusionParams:
    weights: Mapping[str, float] = field(
        default_factory=lambda: {"rules": 1.0, "co_occurrence": 1.0, "next_item": 0.5, "als": 0.5,
                                 "text": 0.5, "behaviour": 0.5}
    )
    top_k: int = 20
    min_weight: float = 0.0
    cap_mode: str = "union"

    def validate(self) -> None:
        unknown = sorted(set(self.weights) - set(SIGNALS))
        if unknown:
            raise ValueError(f"fusion.weights: unknown signal '{unknown[0]}' (known: {', '.join(SIGNALS)})")
        negative = sorted(k for k, v in self.weights.items() if v < 0)
        if negative:
            raise ValueError(f"fusion.weights.{negative[0]} must be >= 0, got {self.weights[negative[0]]}")
        if self.top_k < 1:
            raise ValueError(f"fusion.top_k must be >= 1, got {self.top_k}")
        if self.min_weight < 0:
            raise ValueError(f"fusion.min_weight must be >= 0, got {self.min_weight}")
        if self.cap_mode not in CAP_MODES:
            raise ValueError(f"fusion.cap_mode must be one of {', '.join(CAP_MODES)}, got '{self.cap_mode}'")


def _aligned(signal: str, frame: DataFrame) -> DataFrame:
    """The signal's frame with every evidence column (nulls for other signals') and its score."""
    present = set(frame.columns)
    columns = [
        F.col(f.name).cast(f.dataType) if f.name in present else F.lit(None).cast(f.dataType).alias(f.name)
        for f in EVIDENCE_FIELDS
    ]
    scores = [
        F.col(score_column(s)).cast("double") if s == signal else F.lit(None).cast("double").alias(score_column(s))
        for s in SIGNALS
    ]
    return frame.select("src_item_id", "dst_item_id", *columns, *scores)


def fuse_edges(signals: Mapping[str, DataFrame], params: FusionParams) -> DataFrame:
    """EDGES_SCHEMA from {signal name: its edge frame}; signals absent from the mapping are missing."""
    params.validate()
    unknown = sorted(set(signals) - set(SIGNALS))
    if unknown:
        raise ValueError(f"unknown signal '{unknown[0]}' (known: {', '.join(SIGNALS)})")
    if not signals:
        raise ValueError("no signal to build the graph from")
    parts = [_aligned(name, frame) for name, frame in sorted(signals.items())]
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part)
    merged = union.groupBy("src_item_id", "dst_item_id").agg(
        *[F.max(c).alias(c) for c in EVIDENCE_COLUMNS], *[F.max(score_column(s)).alias(score_column(s)) for s in SIGNALS]
    )
    weight = F.lit(0.0)
    for name in SIGNALS:
        weight = weight + F.lit(float(params.weights.get(name, 0.0))) * F.coalesce(F.col(score_column(name)), F.lit(0.0))
    weighted = (
        merged.where(F.col("src_item_id") != F.col("dst_item_id"))
        .withColumn("weight", weight)
        .where(F.col("weight") > F.lit(params.min_weight))
        .withColumn("directed", F.col("next_confidence").isNotNull())
    )
    return cap_per_node(weighted, params.top_k, params.cap_mode)


def with_rank(edges: DataFrame, name: str = "rank") -> DataFrame:
    by_weight = Window.partitionBy("src_item_id").orderBy(F.col("weight").desc(), F.col("dst_item_id").asc())
    return edges.withColumn(name, F.row_number().over(by_weight))


def cap_per_node(edges: DataFrame, top_k: int, cap_mode: str = "union") -> DataFrame:
    ranked = with_rank(edges, "src_rank")
    reverse = ranked.select(
        F.col("src_item_id").alias("dst_item_id"), F.col("dst_item_id").alias("src_item_id"),
        F.col("src_rank").alias("reverse_rank"),
    )
    both = ranked.join(reverse, on=["src_item_id", "dst_item_id"], how="left")
    own_ok = F.col("src_rank") <= F.lit(top_k)
    reverse_ok = F.col("reverse_rank") <= F.lit(top_k)
    if cap_mode == "union":
        keep = own_ok | F.coalesce(reverse_ok, F.lit(False))
    elif cap_mode == "mutual":
        keep = own_ok & F.coalesce(reverse_ok, F.lit(True))
    else:
        raise ValueError(f"cap_mode must be one of {', '.join(CAP_MODES)}, got '{cap_mode}'")
    return with_rank(both.where(keep)).select(
        *[F.col(f.name).cast(f.dataType) for f in EDGES_SCHEMA.fields]
    )


def symmetric_weights(edges: DataFrame) -> DataFrame:
    """(src_item_id, dst_item_id, weight) with weight = (w(a, b) + w(b, a)) / 2, both directions.

    The undirected view the communities, bundles and propagation work on; a directed-only edge
    counts half in each direction.
    """
    forward = edges.select("src_item_id", "dst_item_id", "weight")
    backward = edges.select(
        F.col("dst_item_id").alias("src_item_id"), F.col("src_item_id").alias("dst_item_id"), "weight"
    )
    return (
        forward.unionByName(backward)
        .groupBy("src_item_id", "dst_item_id")
        .agg((F.sum("weight") / F.lit(2.0)).alias("weight"))
    )
