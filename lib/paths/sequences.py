"""Purchase sequences: per user, the time-ordered baskets of the window, with gaps in days, cut into
episodes wherever two consecutive baskets are more than `max_gap_days` apart.

A basket is one order (`order_id`) of purchase events of a known user. Caps, both documented in
docs/paths.md and counted by `unplaced_purchases` so nothing is dropped silently:
- `max_basket_items`: baskets with more distinct items are left out (wholesale invoices of hundreds
  of lines say nothing about an order of purchases and make sequence mining explode); 0 = no cap.
- `max_baskets_per_user`: only the user's latest baskets are kept (bounds the pair joins); 0 = no cap.
"""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lib.schemas.events import PURCHASE


@dataclass(frozen=True)
class SequenceParams:
    max_basket_items: int = 50
    max_baskets_per_user: int = 100
    max_gap_days: int = 30


def is_placed_purchase() -> Column:
    return (F.col("event_type") == F.lit(PURCHASE)) & F.col("user_id").isNotNull() & F.col("order_id").isNotNull()


def _raw_baskets(events: DataFrame) -> DataFrame:
    return (
        events.where(is_placed_purchase())
        .groupBy("user_id", F.col("order_id").alias("basket_id"))
        .agg(F.min("event_time").alias("basket_time"), F.array_sort(F.collect_set("item_id")).alias("items"))
    )


def _within_cap(size: Column, cap: int) -> Column:
    return F.lit(True) if cap == 0 else size <= F.lit(cap)


def user_baskets(events: DataFrame, max_basket_items: int = 0, max_baskets_per_user: int = 0) -> DataFrame:
    """USER_BASKETS_SCHEMA: each known user's orders in time order (ties: basket_id), `seq` from 1,
    `gap_days` since the previous kept basket (null for the first). Same-day baskets are separate
    baskets with gap 0."""
    if max_basket_items < 0 or max_baskets_per_user < 0:
        raise ValueError("max_basket_items and max_baskets_per_user must be >= 0 (0 = no cap)")
    newest_first = Window.partitionBy("user_id").orderBy(F.col("basket_time").desc(), F.col("basket_id").desc())
    in_order = Window.partitionBy("user_id").orderBy(F.col("basket_time").asc(), F.col("basket_id").asc())
    kept = (
        _raw_baskets(events)
        .where(_within_cap(F.size("items"), max_basket_items))
        .withColumn("from_end", F.row_number().over(newest_first))
        .where(_within_cap(F.col("from_end"), max_baskets_per_user))
        .withColumn("basket_date", F.to_date("basket_time"))
    )
    return kept.select(
        "user_id", "basket_id", "basket_time", "basket_date",
        F.row_number().over(in_order).cast("int").alias("seq"),
        F.datediff("basket_date", F.lag("basket_date").over(in_order)).cast("int").alias("gap_days"),
        "items",
    )


def unplaced_purchases(events: DataFrame, max_basket_items: int = 0, max_baskets_per_user: int = 0) -> DataFrame:
    """One row counting the purchase lines the sequences leave out, by reason: `no_user_or_order`,
    `in_large_baskets` (more than max_basket_items items), `in_old_baskets` (beyond max_baskets_per_user)."""
    is_purchase = F.col("event_type") == F.lit(PURCHASE)
    unplaced = events.where(is_purchase & ~is_placed_purchase()).agg(F.count(F.lit(1)).alias("n"))
    baskets = _raw_baskets(events).withColumn("lines", F.size("items"))
    large = baskets.where(~_within_cap(F.col("lines"), max_basket_items))
    newest_first = Window.partitionBy("user_id").orderBy(F.col("basket_time").desc(), F.col("basket_id").desc())
    old = (
        baskets.where(_within_cap(F.col("lines"), max_basket_items))
        .withColumn("from_end", F.row_number().over(newest_first))
        .where(~_within_cap(F.col("from_end"), max_baskets_per_user))
    )
    return unplaced.crossJoin(large.agg(F.coalesce(F.sum("lines"), F.lit(0)).alias("large"))).crossJoin(
        old.agg(F.coalesce(F.sum("lines"), F.lit(0)).alias("old"))
    ).select(
        F.col("n").cast("long").alias("no_user_or_order"),
        F.col("large").cast("long").alias("in_large_baskets"),
        F.col("old").cast("long").alias("in_old_baskets"),
    )


def user_sequences(baskets: DataFrame, max_gap_days: int) -> DataFrame:
    """SEQUENCES_SCHEMA: `baskets` (USER_BASKETS_SCHEMA) grouped into episodes per user; a new episode
    starts after a gap longer than `max_gap_days`. `gaps` holds each step's gap within the episode
    (null for its first step)."""
    if max_gap_days < 0:
        raise ValueError(f"max_gap_days must be >= 0, got {max_gap_days}")
    in_order = Window.partitionBy("user_id").orderBy("seq").rowsBetween(Window.unboundedPreceding, Window.currentRow)
    breaks = F.when(F.col("gap_days") > F.lit(max_gap_days), 1).otherwise(0)
    starts_episode = F.col("gap_days").isNull() | (F.col("gap_days") > F.lit(max_gap_days))
    episodes = baskets.withColumn("episode", (F.lit(1) + F.sum(breaks).over(in_order)).cast("int")).withColumn(
        "step_gap", F.when(starts_episode, F.lit(None).cast("int")).otherwise(F.col("gap_days"))
    )
    grouped = episodes.groupBy("user_id", "episode").agg(
        F.array_sort(F.collect_list(F.struct("seq", "items", "step_gap", "basket_date"))).alias("_steps")
    )
    return grouped.select(
        "user_id", "episode",
        F.col("_steps")[0]["basket_date"].alias("first_date"),
        F.element_at("_steps", -1)["basket_date"].alias("last_date"),
        F.size("_steps").cast("int").alias("n_baskets"),
        F.transform("_steps", lambda s: s["items"]).alias("steps"),
        F.transform("_steps", lambda s: s["step_gap"]).alias("gaps"),
    )
