"""Baskets: the de-duplicated, sorted set of items per basket in a date window.

Basket kinds: `order` (purchases by order_id), `session` (the configured event types by session_id),
`user_day` (a user's purchases on one day: user_id|dt) and `user_window` (a user's purchases within
`user_window_days` days: windows counted back from the window's last day, key user_id|last day of
the window), so a shop without order ids still gets baskets without changing its export.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.schemas.events import EVENT_TYPES, PURCHASE

ORDER, SESSION, USER_DAY, USER_WINDOW = "order", "session", "user_day", "user_window"
BASKET_KINDS = (ORDER, SESSION, USER_DAY, USER_WINDOW)
KEY_COLUMN = {ORDER: "order_id", SESSION: "session_id", USER_DAY: "user_id", USER_WINDOW: "user_id"}

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


def basket_key(kind: str, user_window_days: int = 7, end: dt.date | None = None) -> Column:
    """The basket an event belongs to (see the module doc). Null = no basket.

    `user_window`: windows of `user_window_days` days ending on `end`, `end - N`, ... (needs `end`).
    """
    if kind in (ORDER, SESSION):
        return F.col(KEY_COLUMN[kind])
    if kind == USER_DAY:
        return F.concat_ws("|", F.col("user_id"), F.col("dt").cast("string"))
    if kind == USER_WINDOW:
        if end is None or user_window_days < 1:
            raise ValueError(f"user_window baskets need the window's last day and user_window_days >= 1, "
                             f"got {end}, {user_window_days}")
        back = F.floor(F.datediff(F.lit(end), F.col("dt")) / F.lit(user_window_days)).cast("int")
        last_day = F.date_sub(F.lit(end), back * F.lit(user_window_days))
        return F.concat_ws("|", F.col("user_id"), last_day.cast("string"))
    raise ValueError(f"basket kind must be one of {', '.join(BASKET_KINDS)}, got '{kind}'")


def _keyed(kind: str) -> Column:
    """The events that can have a basket key: its key column is present."""
    return F.col(KEY_COLUMN[kind]).isNotNull()


def filter_basket_events(events: DataFrame, kind: str, session_event_types: tuple[str, ...] = ()) -> DataFrame:
    """The events that make baskets: purchases, except sessions, which take the given event types."""
    if kind not in BASKET_KINDS:
        raise ValueError(f"basket kind must be one of {', '.join(BASKET_KINDS)}, got '{kind}'")
    if kind != SESSION:
        return events.filter(F.col("event_type") == PURCHASE)
    unknown = sorted(set(session_event_types) - set(EVENT_TYPES))
    if unknown or not session_event_types:
        raise ValueError(
            f"session_event_types must be a non-empty subset of {', '.join(EVENT_TYPES)}, got {session_event_types}"
        )
    return events.filter(F.col("event_type").isin(*session_event_types))


def build_baskets(
    events: DataFrame, kind: str, session_event_types: tuple[str, ...] = (), user_window_days: int = 7,
    end: dt.date | None = None,
) -> DataFrame:
    """One row per basket: `basket_id`, `items` (unique item ids, sorted).

    Events whose basket key is null cannot be placed in a basket; `count_unbasketed` counts them so
    the job can report them (they are not silently lost).
    """
    key = basket_key(kind, user_window_days, end)
    return (
        filter_basket_events(events, kind, session_event_types)
        .filter(_keyed(kind))
        .groupBy(key.alias("basket_id"))
        .agg(F.array_sort(F.collect_set("item_id")).alias("items"))
        .select("basket_id", "items")
    )


def count_unbasketed(events: DataFrame, kind: str, session_event_types: tuple[str, ...] = ()) -> DataFrame:
    """Basket events and those whose basket key is null (one row: `basket_events`, `unbasketed_events`),
    to report, not drop silently."""
    return filter_basket_events(events, kind, session_event_types).agg(
        F.count(F.lit(1)).alias("basket_events"),
        F.count(F.when(~_keyed(kind), F.lit(1))).alias("unbasketed_events"),
    ).select("unbasketed_events", "basket_events")


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
