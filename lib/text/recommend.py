"""Recommending in text space: cold items to users, and cold items as companions of sold ones.

`recommend_by_text` returns the recommendations shape (user_id, rank, item_id, score, source="text")
that every candidate source of the evaluation and the hybrid produces.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.schemas.text import SOURCE_TEXT
from lib.text.profiles import user_text_profiles
from lib.text.similar import top_k_cosine


def recommend_by_text(
    events: DataFrame,
    users: DataFrame,
    embeddings: DataFrame,
    candidate_items: DataFrame,
    as_of: dt.date,
    k: int,
    half_life_days: float = 60.0,
    num_blocks: int = 4,
) -> DataFrame:
    """Each user in `users` (user_id) gets the `k` items of `candidate_items` (item_id; usually
    `cold_items(...)`) closest by cosine to their text profile (decayed mean embedding of their
    purchases up to `as_of`). score = cosine; users without a profile get no rows.

    RECOMMENDATIONS_SCHEMA columns: user_id, rank, item_id, score, source.
    """
    profiles = user_text_profiles(events, embeddings, as_of, half_life_days).join(
        users.select("user_id").distinct(), on="user_id", how="left_semi"
    )
    candidates = embeddings.select("item_id", "vector").join(
        candidate_items.select("item_id").distinct(), on="item_id", how="left_semi"
    )
    top = top_k_cosine(profiles, candidates, k, num_blocks, exclude_same_id=False,
                       query_id="user_id", candidate_id="item_id")
    return top.select(
        F.col("query_id").alias("user_id"),
        F.col("rank"),
        F.col("candidate_id").alias("item_id"),
        F.col("score"),
        F.lit(SOURCE_TEXT).alias("source"),
    )


def cold_item_companions(embeddings: DataFrame, cold: DataFrame, sold: DataFrame, companions_per_cold: int = 3,
                         num_blocks: int = 4) -> DataFrame:
    """(item_id, companion_item_id, score): each cold item (of `cold`) becomes a companion of its
    `companions_per_cold` nearest sold items (of `sold`), score = cosine. The same shape as the
    bought_together input of the co-occurrence recommender (BOUGHT_TOGETHER_INPUT_SCHEMA), so a
    new product shows up next to the products it resembles from day one."""
    vectors = embeddings.select("item_id", "vector")
    cold_vectors = vectors.join(cold.select("item_id").distinct(), on="item_id", how="left_semi")
    sold_vectors = vectors.join(sold.select("item_id").distinct(), on="item_id", how="left_semi")
    nearest = top_k_cosine(cold_vectors, sold_vectors, companions_per_cold, num_blocks, exclude_same_id=True)
    return nearest.select(
        F.col("candidate_id").alias("item_id"),
        F.col("query_id").alias("companion_item_id"),
        F.col("score"),
    )
