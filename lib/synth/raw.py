"""The synthetic shop's events in the canonical `generic` raw format that ingest reads."""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

# The column order of the raw CSV files (header row included); ingest's generic mapping names these.
RAW_COLUMNS = ("event_id", "event_time", "user_id", "session_id", "order_id", "item_id", "event_type",
               "quantity", "unit_price", "category_path", "title")
RAW_TIME_FORMAT = "yyyy-MM-dd HH:mm:ss"
DAY_FOLDER_COLUMN = "date"  # one folder per day: <landing>/<shop>/date=YYYY-MM-DD/


def to_generic_raw(events: DataFrame, items: DataFrame) -> DataFrame:
    catalogue = items.select("item_number", "item_id", "title", "category_path", "price")
    joined = events.join(F.broadcast(catalogue), on="item_number", how="inner")
    return joined.select(
        "event_id",
        F.date_format("event_time", RAW_TIME_FORMAT).alias("event_time"),
        F.format_string("u%06d", F.col("user_number")).alias("user_id"),
        "session_id",
        "order_id",
        "item_id",
        "event_type",
        F.col("quantity").cast("string").alias("quantity"),
        F.format_string("%.2f", F.col("price")).alias("unit_price"),
        "category_path",
        "title",
        F.col("date").alias(DAY_FOLDER_COLUMN),
    )
