"""The propagated-embedding recommender: a candidate source of the recommendations shape.

    profile(u)      = sum over u's `recent_items` most recent purchased items i of decay(i) * unit(z_i)
    candidates(u)   = graph neighbours (1 hop, or 2 with hops = 2) of those items, the items themselves
                      excluded
    score(u, c)     = cos(profile(u), z_c)

z = lib.graph.propagation.propagate over the item graph; decay = 0.5 ** (age_days / half_life_days).
Candidates come from the graph, so the cost is users x recent items x degree, never users x catalogue.
Cold items (text, no purchases) are reachable through their text edges and scored by their
propagated vector, which carries their neighbours' behaviour.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.graph.arrays import dot, scaled, sum_arrays, unit
from lib.graph.fusion import symmetric_weights
from lib.graph.propagation import PropagationParams, initial_vectors, propagate
from lib.recs.baselines import recent_purchased_items
from lib.recs.interactions import decay
from lib.recs.ranking import top_k_per_user
from lib.schemas.events import PURCHASE
from lib.schemas.graph import SOURCE_GRAPH_PROPAGATION


@dataclass(frozen=True)
class GraphRecParams:
    k: int = 50  # rows per user
    recent_items: int = 20
    half_life_days: float = 60.0
    hops: int = 1
    propagation: PropagationParams = field(default_factory=PropagationParams)

    def validate(self) -> None:
        if self.k < 1 or self.recent_items < 1:
            raise ValueError("graph recommender: k and recent_items must be >= 1")
        if self.hops not in (1, 2):
            raise ValueError(f"graph recommender: hops must be 1 or 2, got {self.hops}")
        if not self.half_life_days > 0:
            raise ValueError(f"graph recommender: half_life_days must be > 0, got {self.half_life_days}")
        self.propagation.validate()


def user_seeds(events: DataFrame, users: DataFrame, as_of: dt.date, params: GraphRecParams) -> DataFrame:
    """(user_id, item_id, seed_weight): recent distinct purchases up to `as_of`, decayed by the last one."""
    known = events.where(F.to_date(F.col("event_time")) <= F.lit(as_of))
    recent = recent_purchased_items(known, users, params.recent_items)
    last = (
        known.where(F.col("event_type") == F.lit(PURCHASE))
        .groupBy("user_id", "item_id")
        .agg(F.max("event_time").alias("event_time"))
    )
    return recent.join(last, on=["user_id", "item_id"], how="inner").select(
        "user_id", "item_id", decay(as_of, params.half_life_days).alias("seed_weight")
    )


def candidate_items(seeds: DataFrame, symmetric: DataFrame, hops: int) -> DataFrame:
    """(user_id, item_id): neighbours of the seeds within `hops`, seeds excluded."""
    links = symmetric.select(F.col("src_item_id").alias("seed"), F.col("dst_item_id").alias("item_id"))
    reached = seeds.select("user_id", F.col("item_id").alias("seed")).join(links, on="seed", how="inner").select(
        "user_id", "item_id"
    ).distinct()
    if hops == 2:
        second = reached.select("user_id", F.col("item_id").alias("seed")).join(links, on="seed", how="inner")
        reached = reached.unionByName(second.select("user_id", "item_id")).distinct()
    return reached.join(seeds.select("user_id", "item_id"), on=["user_id", "item_id"], how="left_anti")


def score_candidates(seeds: DataFrame, candidates: DataFrame, vectors: DataFrame, k: int) -> DataFrame:
    unit_vectors = vectors.select("item_id", unit(F.col("vector")).alias("vector")).where(F.col("vector").isNotNull())
    profiles = (
        seeds.join(unit_vectors, on="item_id", how="inner")
        .groupBy("user_id")
        .agg(sum_arrays(F.collect_list(scaled(F.col("vector"), F.col("seed_weight")))).alias("profile"))
        .select("user_id", unit(F.col("profile")).alias("profile"))
        .where(F.col("profile").isNotNull())
    )
    scored = (
        candidates.join(unit_vectors, on="item_id", how="inner")
        .join(profiles, on="user_id", how="inner")
        .select("user_id", "item_id", dot(F.col("profile"), F.col("vector")).alias("score"))
    )
    return top_k_per_user(scored, k, SOURCE_GRAPH_PROPAGATION)


def recommend_propagated(
    events: DataFrame,
    item_graph: DataFrame,
    text: DataFrame | None,
    behaviour: DataFrame | None,
    users: DataFrame,
    as_of: dt.date,
    params: GraphRecParams,
) -> DataFrame:
    """RECOMMENDATIONS_SCHEMA (source graph_propagation), top `params.k` per user of `users`.

    events: canonical training events (nothing after `as_of` is used); item_graph: EDGES_SCHEMA
    (src_item_id, dst_item_id, weight, ...) built from the same training data; text / behaviour:
    (item_id, vector) or None (e.g. ALS item factors renamed features -> vector as behaviour).
    Users without a purchase, or whose items have no edge, get no rows.
    """
    params.validate()
    symmetric = symmetric_weights(item_graph)
    vectors = propagate(initial_vectors(text, behaviour, params.propagation), symmetric, params.propagation)
    seeds = user_seeds(events, users, as_of, params)
    return score_candidates(seeds, candidate_items(seeds, symmetric, params.hops), vectors, params.k)


