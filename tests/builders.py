"""Builders shared by the tests (no tests here): events, baskets, items, users, recommendation lists.

    from builders import event, event_at, basket_row, events_frame, purchases_frame, items_frame

The row layouts of the canonical tables live here only; a test module's own helper (its defaults:
one user, minutes apart, ...) calls these.
"""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lib.schemas.events import EVENTS_SCHEMA, ITEMS_SCHEMA
from lib.schemas.recs import RECOMMENDATIONS_SCHEMA


def event(
    event_id: str,
    day: str,
    user: str | None,
    item: str,
    event_type: str,
    order: str | None = None,
    quantity: int = 1,
    hour: int = 12,
) -> tuple:
    day_date = dt.date.fromisoformat(day)
    time = dt.datetime.combine(day_date, dt.time(hour))
    return (event_id, time, user, None, order, item, event_type, quantity, 1.0, "test", day_date)


def event_at(
    event_id: str,
    time: dt.datetime,
    user: str | None,
    item: str | None,
    order: str | None = None,
    session: str | None = None,
    event_type: str = "purchase",
    quantity: int = 1,
) -> tuple:
    """One `events` row (EVENTS_SCHEMA) at `time`; dt is its date, unit price 1.0, source "test"."""
    return (event_id, time, user, session, order, item, event_type, quantity, 1.0, "test", time.date())


def basket_row(user: str, seq: int, time: dt.datetime, items: list[str], session: str | None = None) -> tuple:
    """One `user_baskets` row (USER_BASKETS_SCHEMA): basket `<user>-<seq>`, the user's seq-th basket."""
    return (user, f"{user}-{seq}", time, time.date(), seq, session, items)


def events_frame(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, EVENTS_SCHEMA)


def items_frame(spark: SparkSession, rows: list[tuple[str, str | None]]) -> DataFrame:
    first = dt.date(2024, 1, 1)
    return spark.createDataFrame(
        [(item, item.upper(), category, None, 1.0, first, first) for item, category in rows], ITEMS_SCHEMA
    )


def users_frame(spark: SparkSession, users: list[str | None]) -> DataFrame:
    schema = T.StructType([T.StructField("user_id", T.StringType(), True)])
    return spark.createDataFrame([(u,) for u in users], schema)


def recs_frame(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    return spark.createDataFrame(rows, RECOMMENDATIONS_SCHEMA)


def purchases_frame(spark: SparkSession, rows: list[tuple]) -> DataFrame:
    """rows: (user_id, item_id, event_type, 'YYYY-MM-DD', order_id) -> canonical events (10:00 each)."""
    full = []
    for n, (user, item, event_type, day, order) in enumerate(rows):
        when = dt.datetime.fromisoformat(f"{day} 10:00:00")
        full.append((f"e{n}", when, user, None, order, item, event_type, 1, 1.0, "test", when.date()))
    return spark.createDataFrame(full, EVENTS_SCHEMA)

