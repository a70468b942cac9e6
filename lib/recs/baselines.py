"""Baseline recommenders and the cold-start path: popularity, buy-again, co-occurrence.

`events` are canonical events (lib.schemas.events) of the training window; `users` is a frame with a
`user_id` column: the users to recommend for. Each function returns RECOMMENDATIONS_SCHEMA.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lib.recs.interactions import decay
from lib.recs.ranking import RECOMMENDATION_COLUMNS, top_k_per_user
from lib.schemas.events import PURCHASE, RETURN
from lib.schemas.recs import (
    SOURCE_BUY_AGAIN,
    SOURCE_CO_OCCURRENCE,
    SOURCE_COLD_START_CATEGORY,
    SOURCE_COLD_START_POPULAR,
    SOURCE_POPULARITY,
)

def is_purchase() -> Column:
    return F.col("event_type") == F.lit(PURCHASE)


def is_return() -> Column:
    return F.col("event_type") == F.lit(RETURN)


def distinct_users(users: DataFrame) -> DataFrame:
    return users.select(F.col("user_id").cast("string")).where(F.col("user_id").isNotNull()).distinct()


def in_window(as_of: dt.date, window_days: int) -> Column:
    """The event's date is one of the `window_days` days ending at `as_of` (inclusive)."""
    if window_days < 1:
        raise ValueError(f"window_days must be >= 1, got {window_days}")
    first_day = as_of - dt.timedelta(days=window_days - 1)
    event_date = F.to_date(F.col("event_time"))
    return (event_date >= F.lit(first_day)) & (event_date <= F.lit(as_of))


def best_sellers(events: DataFrame, as_of: dt.date, window_days: int) -> DataFrame:
    """(item_id, score): purchase lines (events, known user or not) in the window, per item."""
    return (
        events.where(is_purchase() & in_window(as_of, window_days))
        .groupBy("item_id")
        .agg(F.count(F.lit(1)).cast("double").alias("score"))
    )


def top_global(scored_items: DataFrame, k: int) -> DataFrame:
    """The best `k` (item_id, score) rows overall; at most k rows, so safe to broadcast."""
    return scored_items.orderBy(F.col("score").desc(), F.col("item_id").asc()).limit(k)


def recommend_popularity(
    events: DataFrame, users: DataFrame, as_of: dt.date, window_days: int, k: int
) -> DataFrame:
    """The same best sellers of the window for every user (ties: item_id ascending)."""
    top = top_global(best_sellers(events, as_of, window_days), k)
    return top_k_per_user(distinct_users(users).crossJoin(F.broadcast(top)), k, SOURCE_POPULARITY)


def recommend_buy_again(
    events: DataFrame, users: DataFrame, as_of: dt.date, k: int, half_life_days: float
) -> DataFrame:
    """Each user's own purchases up to `as_of`: +decay per purchase, -decay per return.

    Items whose score nets to <= 0 are not recommended; users without purchases get no rows.
    """
    if not half_life_days > 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    sign = F.when(is_purchase(), F.lit(1.0)).otherwise(F.lit(-1.0))
    scored = (
        events.where((is_purchase() | is_return()) & (F.to_date(F.col("event_time")) <= F.lit(as_of)))
        .join(distinct_users(users), on="user_id", how="inner")
        .groupBy("user_id", "item_id")
        .agg(F.sum(sign * decay(as_of, half_life_days)).alias("score"))
        .where(F.col("score") > F.lit(1e-12))
    )
    return top_k_per_user(scored, k, SOURCE_BUY_AGAIN)


def recent_purchased_items(events: DataFrame, users: DataFrame, recent_items_n: int) -> DataFrame:
    """(user_id, item_id): each user's `recent_items_n` most recently bought distinct items."""
    by_recency = Window.partitionBy("user_id").orderBy(F.col("last_bought").desc(), F.col("item_id").asc())
    return (
        events.where(is_purchase())
        .join(distinct_users(users), on="user_id", how="inner")
        .groupBy("user_id", "item_id")
        .agg(F.max("event_time").alias("last_bought"))
        .withColumn("recency_rank", F.row_number().over(by_recency))
        .where(F.col("recency_rank") <= F.lit(recent_items_n))
        .select("user_id", "item_id")
    )


def recommend_co_occurrence(
    events: DataFrame, users: DataFrame, bought_together: DataFrame, k: int, recent_items_n: int
) -> DataFrame:
    """Companions of each user's recent purchases: score = sum of companion scores over the seeds.

    `bought_together` is (item_id, companion_item_id, score) — the FPGrowth job's table or
    `bought_together_from_baskets`. Companions that are themselves among the seeds are skipped.
    """
    if recent_items_n < 1:
        raise ValueError(f"recent_items_n must be >= 1, got {recent_items_n}")
    seeds = recent_purchased_items(events, users, recent_items_n)
    companions = bought_together.select(
        F.col("item_id").alias("seed_item_id"), F.col("companion_item_id").alias("item_id"), "score"
    )
    scored = (
        seeds.withColumnRenamed("item_id", "seed_item_id")
        .join(companions, on="seed_item_id", how="inner")
        .join(seeds, on=["user_id", "item_id"], how="left_anti")
        .groupBy("user_id", "item_id")
        .agg(F.sum("score").alias("score"))
    )
    return top_k_per_user(scored, k, SOURCE_CO_OCCURRENCE)


def bought_together_from_baskets(
    events: DataFrame, top_n: int, max_basket_items: int = 100, min_baskets: int = 1
) -> DataFrame:
    """Fallback for `bought_together`: (item_id, companion_item_id, score = baskets with both).

    A basket is an order (order_id), else a known user's purchases of one day. Baskets with more
    than `max_basket_items` distinct items are left out (their pairs grow quadratically and say
    little); each item keeps its `top_n` companions (ties: companion_item_id ascending).
    """
    basket_id = F.coalesce(
        F.concat(F.lit("o:"), F.col("order_id")),
        F.concat(F.lit("u:"), F.col("user_id"), F.lit(":"), F.to_date(F.col("event_time")).cast("string")),
    )
    basket_items = (
        events.where(is_purchase())
        .select(basket_id.alias("basket_id"), "item_id")
        .where(F.col("basket_id").isNotNull())
        .distinct()
    )
    basket_size = Window.partitionBy("basket_id").rowsBetween(
        Window.unboundedPreceding, Window.unboundedFollowing
    )
    bounded = (
        basket_items.withColumn("basket_size", F.count(F.lit(1)).over(basket_size))
        .where(F.col("basket_size") <= F.lit(max_basket_items))
        .select("basket_id", "item_id")
    )
    pairs = (
        bounded.join(bounded.withColumnRenamed("item_id", "companion_item_id"), on="basket_id", how="inner")
        .where(F.col("item_id") != F.col("companion_item_id"))
        .groupBy("item_id", "companion_item_id")
        .agg(F.count(F.lit(1)).cast("double").alias("score"))
        .where(F.col("score") >= F.lit(min_baskets))
    )
    by_score = Window.partitionBy("item_id").orderBy(F.col("score").desc(), F.col("companion_item_id").asc())
    return (
        pairs.withColumn("companion_rank", F.row_number().over(by_score))
        .where(F.col("companion_rank") <= F.lit(top_n))
        .select("item_id", "companion_item_id", "score")
    )


def recommend_cold_start(
    events: DataFrame, items: DataFrame, users: DataFrame, as_of: dt.date, window_days: int, k: int
) -> DataFrame:
    """Best sellers of the categories each user interacted with, topped up with global best sellers.

    Category rows (source cold_start_category) rank before the global fill (cold_start_popular);
    within each, by best-seller score then item_id. Users with no known category get only the fill.
    `items` needs (item_id, category); the user's events up to `as_of` (any type) give the categories.
    """
    sellers = best_sellers(events, as_of, window_days)
    item_category = items.select("item_id", "category").where(F.col("category").isNotNull())
    by_category = Window.partitionBy("category").orderBy(F.col("score").desc(), F.col("item_id").asc())
    category_top = (
        sellers.join(item_category, on="item_id", how="inner")
        .withColumn("category_rank", F.row_number().over(by_category))
        .where(F.col("category_rank") <= F.lit(k))
        .select("category", "item_id", "score")
    )
    user_categories = (
        events.where(F.to_date(F.col("event_time")) <= F.lit(as_of))
        .join(distinct_users(users), on="user_id", how="inner")
        .join(item_category, on="item_id", how="inner")
        .select("user_id", "category")
        .distinct()
    )
    category_rows = user_categories.join(category_top, on="category", how="inner").select(
        "user_id", "item_id", "score", F.lit(0).alias("priority")
    )
    popular_rows = (
        distinct_users(users)
        .crossJoin(F.broadcast(top_global(sellers, k)))
        .select("user_id", "item_id", "score", F.lit(1).alias("priority"))
    )
    first_path = Window.partitionBy("user_id", "item_id").orderBy(F.col("priority").asc())
    ranked = Window.partitionBy("user_id").orderBy(
        F.col("priority").asc(), F.col("score").desc(), F.col("item_id").asc()
    )
    return (
        category_rows.unionByName(popular_rows)
        .withColumn("path_rank", F.row_number().over(first_path))
        .where(F.col("path_rank") == F.lit(1))
        .withColumn("rank", F.row_number().over(ranked))
        .where(F.col("rank") <= F.lit(k))
        .select(
            F.col("user_id"),
            F.col("rank").cast("int"),
            F.col("item_id"),
            F.col("score").cast("double"),
            F.when(F.col("priority") == F.lit(0), F.lit(SOURCE_COLD_START_CATEGORY))
            .otherwise(F.lit(SOURCE_COLD_START_POPULAR))
            .alias("source"),
        )
        .select(*RECOMMENDATION_COLUMNS)
    )
