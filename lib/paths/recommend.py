"""The next-purchase recommender: order and recency, from the user's latest baskets.

For each user, the items of their last `recent_baskets` baskets up to `as_of` are seeds, each weighted
0.5 ** (age_days / half_life_days) (age of the newest basket holding it). A candidate item B scores
    transition_weight * T(B) / max T + embedding_weight * E(B) / max E      (maxima per user)
with T(B) = sum over seeds A of weight(A) * confidence(A -> B within `within_days`) (lib.paths.next_items)
and  E(B) = sum over seeds A of weight(A) * cosine(A, B) over A's `neighbours` most similar items by
behaviour (lib.paths.item2vec). Seed items are not recommended again when `exclude_seed_items`.
Users without a basket get no rows (the hybrid's cold-start path covers them).

Plug-in signature for the evaluation harness (name -> function producing RECOMMENDATIONS_SCHEMA):
    recommend_next_purchase(training_events, users, as_of, k, params) -> DataFrame
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lib.paths.item2vec import Item2VecParams, fit_item2vec, sentences, similar_by_behaviour
from lib.paths.next_items import transition_counts
from lib.paths.sequences import user_baskets
from lib.recs.baselines import distinct_users
from lib.recs.ranking import top_k_per_user
from lib.schemas.paths import SOURCE_NEXT_PURCHASE


@dataclass(frozen=True)
class NextPurchaseParams:
    recent_baskets: int = 3
    half_life_days: float = 30.0
    within_days: int = 30
    min_pair_count: int = 2
    transition_weight: float = 1.0
    embedding_weight: float = 0.5  # 0 = transitions only (no Word2Vec fit)
    neighbours: int = 20
    exclude_seed_items: bool = True
    max_basket_items: int = 50
    max_baskets_per_user: int = 100
    item2vec: Item2VecParams = field(default_factory=Item2VecParams)


def validate_next_purchase(params: NextPurchaseParams) -> None:
    if params.recent_baskets < 1 or params.within_days < 1 or params.min_pair_count < 1 or params.neighbours < 1:
        raise ValueError("recent_baskets, within_days, min_pair_count and neighbours must be >= 1")
    if not params.half_life_days > 0:
        raise ValueError(f"half_life_days must be > 0, got {params.half_life_days}")
    if params.transition_weight < 0 or params.embedding_weight < 0 or (
        params.transition_weight + params.embedding_weight == 0
    ):
        raise ValueError("transition_weight and embedding_weight must be >= 0 and not both 0")


def seed_items(baskets: DataFrame, users: DataFrame, as_of: dt.date, recent_baskets: int,
               half_life_days: float) -> DataFrame:
    """(user_id, seed_item_id, weight): items of each user's last baskets, decayed by basket age."""
    newest_first = Window.partitionBy("user_id").orderBy(F.col("seq").desc())
    age = F.datediff(F.lit(as_of), F.col("basket_date"))
    recent = (
        baskets.where(F.col("basket_date") <= F.lit(as_of))
        .join(distinct_users(users), on="user_id", how="inner")
        .withColumn("_from_end", F.row_number().over(newest_first))
        .where(F.col("_from_end") <= F.lit(recent_baskets))
    )
    return (
        recent.select("user_id", F.explode("items").alias("seed_item_id"),
                      F.pow(F.lit(0.5), age / F.lit(float(half_life_days))).alias("w"))
        .groupBy("user_id", "seed_item_id")
        .agg(F.max("w").alias("weight"))
    )


def _propagate(seeds: DataFrame, edges: DataFrame, name: str) -> DataFrame:
    """(user_id, item_id, name): sum of seed weight * edge score, divided by the user's maximum."""
    summed = (
        seeds.join(edges, on="seed_item_id", how="inner")
        .groupBy("user_id", "item_id")
        .agg(F.sum(F.col("weight") * F.col("edge")).alias("_s"))
        .where(F.col("_s") > F.lit(0.0))
    )
    per_user = Window.partitionBy("user_id").rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    return summed.select("user_id", "item_id", (F.col("_s") / F.max("_s").over(per_user)).alias(name))


def score_next_purchase(
    seeds: DataFrame, transitions: DataFrame | None, similar: DataFrame | None, k: int,
    params: NextPurchaseParams,
) -> DataFrame:
    """RECOMMENDATIONS_SCHEMA from seeds and the two evidence frames: `transitions` (item_id,
    next_item_id, confidence), `similar` (item_id, similar_item_id, score); either may be None."""
    parts = []
    if transitions is not None and params.transition_weight > 0:
        edges = transitions.select(F.col("item_id").alias("seed_item_id"), F.col("next_item_id").alias("item_id"),
                                   F.col("confidence").alias("edge"))
        parts.append((_propagate(seeds, edges, "t"), "t", params.transition_weight))
    if similar is not None and params.embedding_weight > 0:
        edges = similar.select(F.col("item_id").alias("seed_item_id"), F.col("similar_item_id").alias("item_id"),
                               F.greatest(F.col("score"), F.lit(0.0)).alias("edge"))
        parts.append((_propagate(seeds, edges, "e"), "e", params.embedding_weight))
    if not parts:
        raise ValueError("no evidence to score with: give transitions and/or similar items with a weight > 0")
    combined = parts[0][0]
    for frame, _, _ in parts[1:]:
        combined = combined.join(frame, on=["user_id", "item_id"], how="full")
    score = sum((F.coalesce(F.col(c), F.lit(0.0)) * F.lit(float(w)) for _, c, w in parts), F.lit(0.0))
    scored = combined.select("user_id", "item_id", score.alias("score"))
    if params.exclude_seed_items:
        own = seeds.select("user_id", F.col("seed_item_id").alias("item_id"))
        scored = scored.join(own, on=["user_id", "item_id"], how="left_anti")
    return top_k_per_user(scored, k, SOURCE_NEXT_PURCHASE)


def recommend_next_purchase(
    events: DataFrame, users: DataFrame, as_of: dt.date, k: int, params: NextPurchaseParams
) -> DataFrame:
    """RECOMMENDATIONS_SCHEMA top-k per user from training `events` (canonical events up to `as_of`):
    transitions and, when embedding_weight > 0, item2vec are fitted on those events here."""
    validate_next_purchase(params)
    training = events.where(F.to_date("event_time") <= F.lit(as_of))
    baskets = user_baskets(training, params.max_basket_items, params.max_baskets_per_user).persist()
    seeds = seed_items(baskets, users, as_of, params.recent_baskets, params.half_life_days)
    transitions = None
    if params.transition_weight > 0:
        transitions = transition_counts(baskets, as_of, params.within_days, params.min_pair_count)
    similar = None
    if params.embedding_weight > 0:
        embeddings = fit_item2vec(sentences(training, baskets, params.item2vec), params.item2vec)
        similar = similar_by_behaviour(embeddings, params.neighbours)
    return score_next_purchase(seeds, transitions, similar, k, params)
