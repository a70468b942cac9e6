"""Baskets: the de-duplicated, sorted set of items per order (or per session) in a date window."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.schemas.events import EVENT_TYPES, PURCHASE

ORDER, SESSION = "order", "session"
BASKET_KINDS = (ORDER, SESSION)

BASKETS_SCHEMA = T.StructType(
    [
        T.StructField("basket_id", T.StringType(), False),
        T.StructField("items", T.ArrayType(T.StringType(), False), False),  # sorted, unique
    ]
)


def window_start(run_date: dt.date, window_days: int) -> dt.date:
    """First day of the `window_days`-day window that ends on (and includes) `run_date`."""
    if window_days < 1:
        raise ValueError(f"window_days must be at least 1, got {window_days}")
    return run_date - dt.timedelta(days=window_days - 1)


def basket_key(kind: str) -> Column:
    """The basket an event belongs to: its order, or its (user's) session. Null = no basket."""
    if kind == ORDER:
        return F.col("order_id")
    if kind == SESSION:
        return F.col("session_id")
    raise ValueError(f"basket kind must be one of {', '.join(BASKET_KINDS)}, got '{kind}'")


def filter_basket_events(events: DataFrame, kind: str, session_event_types: tuple[str, ...] = ()) -> DataFrame:
    """The events that make baskets: purchases for orders; the given event types for sessions."""
    if kind == ORDER:
        return events.filter(F.col("event_type") == PURCHASE)
    unknown = sorted(set(session_event_types) - set(EVENT_TYPES))
    if unknown or not session_event_types:
        raise ValueError(
            f"session_event_types must be a non-empty subset of {', '.join(EVENT_TYPES)}, got {session_event_types}"
        )
    return events.filter(F.col("event_type").isin(*session_event_types))


def build_baskets(events: DataFrame, kind: str, session_event_types: tuple[str, ...] = ()) -> DataFrame:
    """One row per basket: `basket_id`, `items` (unique item ids, sorted).

    Events whose basket key is null cannot be placed in a basket; `count_unbasketed` counts them so
    the job can report them (they are not silently lost).
    """
    key = basket_key(kind)
    return (
        filter_basket_events(events, kind, session_event_types)
        .filter(key.isNotNull())
        .groupBy(key.alias("basket_id"))
        .agg(F.array_sort(F.collect_set("item_id")).alias("items"))
        .select("basket_id", "items")
    )


def count_unbasketed(events: DataFrame, kind: str, session_event_types: tuple[str, ...] = ()) -> DataFrame:
    """Basket events whose basket key is null (one row: `unbasketed_events`), to report, not drop silently."""
    return (
        filter_basket_events(events, kind, session_event_types)
        .filter(basket_key(kind).isNull())
        .agg(F.count("*").alias("unbasketed_events"))
    )


def with_category_items(baskets: DataFrame, items: DataFrame) -> DataFrame:
    """Roll each basket's items up to their category (`category_path`, else `category`).

    Items with no known category are left out of the category baskets (the job counts them);
    baskets are kept even when empty, so `n` is the same basket count as for the item rules.
    """
    categories = items.select(
        F.col("item_id"), F.coalesce(F.col("category_path"), F.col("category")).alias("category_key")
    ).filter(F.col("category_key").isNotNull())
    exploded = baskets.select("basket_id", F.explode("items").alias("item_id"))
    rolled = (
        exploded.join(categories, on="item_id", how="left")
        .groupBy("basket_id")
        .agg(F.array_sort(F.collect_set("category_key")).alias("items"))
    )
    return rolled.select("basket_id", "items")


def count_uncategorised(baskets: DataFrame, items: DataFrame) -> DataFrame:
    """Distinct basket items that have no category (one row: `uncategorised_items`)."""
    categories = items.filter(
        F.coalesce(F.col("category_path"), F.col("category")).isNotNull()
    ).select("item_id")
    basket_items = baskets.select(F.explode("items").alias("item_id")).distinct()
    return basket_items.join(categories, on="item_id", how="left_anti").agg(
        F.count("*").alias("uncategorised_items")
    )
