"""Cold items: in the catalogue, never bought yet, so purchase-based models cannot rank them."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.schemas.events import PURCHASE


def cold_items(items: DataFrame, events: DataFrame, as_of: dt.date, window_days: int | None = None) -> DataFrame:
    """(item_id, first_seen): items with no purchase event dated on or before `as_of`.

    `window_days` keeps only items first seen in the `window_days` days ending at `as_of` ("new this
    window"); None keeps every never-bought item of `items` (an evaluation passes the catalogue known
    at the split, and the items first seen later are the ones launched in its test window).
    """
    bought = (
        events.where((F.col("event_type") == F.lit(PURCHASE)) & (F.to_date("event_time") <= F.lit(as_of)))
        .select("item_id")
        .distinct()
    )
    candidates = items.select("item_id", "first_seen")
    if window_days is not None:
        if window_days < 1:
            raise ValueError(f"window_days must be >= 1 or None, got {window_days}")
        first_day = as_of - dt.timedelta(days=window_days - 1)
        candidates = candidates.where((F.col("first_seen") >= F.lit(first_day)) & (F.col("first_seen") <= F.lit(as_of)))
    return candidates.join(bought, on="item_id", how="left_anti")


def truth_cold_items(truth: DataFrame, training: DataFrame) -> DataFrame:
    """The evaluation's `cold_items` slice: truth pairs (user_id, item_id) whose item nobody bought
    in `training` (events of the training days)."""
    bought = training.where(F.col("event_type") == F.lit(PURCHASE)).select("item_id").distinct()
    return truth.join(bought, on="item_id", how="left_anti").select("user_id", "item_id")
