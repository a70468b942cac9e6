"""The `items` table: one row per item id, upserted from each run's accepted events."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lib.schemas.events import ITEMS_SCHEMA

ATTRIBUTES = ("title", "category", "category_path", "latest_price")


def _latest(value: str) -> Column:
    """The value of the latest event that has one (ties: the larger value)."""
    return F.max_by(F.col(value), F.when(F.col(value).isNotNull(), F.struct("event_time", value)))


def items_from_events(accepted: DataFrame) -> DataFrame:
    """Items seen in `accepted` (staged rows with title, category, category_path, unit_price, dt)."""
    return accepted.groupBy("item_id").agg(
        _latest("title").alias("title"),
        _latest("category").alias("category"),
        _latest("category_path").alias("category_path"),
        F.max_by(F.col("unit_price"), F.when(F.col("unit_price") > 0, F.struct("event_time", "unit_price")))
        .alias("latest_price"),
        F.min("dt").alias("first_seen"),
        F.max("dt").alias("last_seen"),
    ).select(*[F.col(f.name).cast(f.dataType) for f in ITEMS_SCHEMA.fields])


def upsert_items(existing: DataFrame, batch: DataFrame) -> DataFrame:
    """Merge by item id: seen dates widen; attributes come from the side seen last (the other fills gaps)."""
    old, new = existing.alias("old"), batch.alias("new")
    new_is_later = F.coalesce(F.col("new.last_seen") >= F.col("old.last_seen"), F.col("old.item_id").isNull())

    def pick(name: str) -> Column:
        newer, older = F.col(f"new.{name}"), F.col(f"old.{name}")
        return F.when(new_is_later, F.coalesce(newer, older)).otherwise(F.coalesce(older, newer))

    merged = old.join(new, on=F.col("old.item_id") == F.col("new.item_id"), how="full_outer")
    return merged.select(
        F.coalesce(F.col("new.item_id"), F.col("old.item_id")).alias("item_id"),
        *[pick(a).alias(a) for a in ATTRIBUTES],
        F.least(F.col("old.first_seen"), F.col("new.first_seen")).alias("first_seen"),
        F.greatest(F.col("old.last_seen"), F.col("new.last_seen")).alias("last_seen"),
    )
