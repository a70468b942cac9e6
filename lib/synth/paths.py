"""Planted purchase paths "A then B within `path_max_days` days": an order holding A is followed, with
probability `path_strength`, by a new order of B 1..path_max_days days later (uniform), in a new
session of the same user. Follow-ups that would fall after the shop's last day are not generated.

So for a user whose first A order is at least path_max_days before the end, P(B within
path_max_days days after it) = path_strength, plus B's organic chance (B is a rarely bought item of
another top category). Derived from the spec alone, like the planted bundles.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.synth.bundles import plan_bundles, top_index_of
from lib.synth.randomness import uniform
from lib.synth.spec import ShopSpec

PATH_MEMBERS_SCHEMA = T.StructType(
    [
        T.StructField("path_id", T.IntegerType(), False),
        T.StructField("first_number", T.LongType(), False),
        T.StructField("then_number", T.LongType(), False),
    ]
)
PATH_TRUTH_SCHEMA = T.StructType(
    [
        T.StructField("path_id", T.IntegerType(), False),
        T.StructField("first_item_id", T.StringType(), False),
        T.StructField("then_item_id", T.StringType(), False),
        T.StructField("max_days", T.IntegerType(), False),
        T.StructField("strength", T.DoubleType(), False),
    ]
)


@dataclass(frozen=True)
class PlantedPath:
    path_id: int
    first: int
    then: int


def plan_paths(spec: ShopSpec) -> list[PlantedPath]:
    """First items among the popular ones (4, 9, 14, ...: never a bundle anchor); then-items from
    the middle of the catalogue's tail, in another top category, never a bundle member."""
    bundle_items = {n for b in plan_bundles(spec) for n in (b.anchor, *b.companions)}
    used = set(bundle_items)
    paths = []
    candidate = (2 * spec.items) // 3
    for path_id in range(spec.paths):
        first = 4 + path_id * 5
        if first >= spec.items // 2:
            raise ValueError(f"{spec.paths} planted paths need more items than {spec.items}")
        used.add(first)
        while candidate in used or top_index_of(candidate, spec) == top_index_of(first, spec):
            candidate -= 1
        if candidate <= spec.items // 2:
            raise ValueError(f"{spec.paths} planted paths need more items than {spec.items}")
        used.add(candidate)
        paths.append(PlantedPath(path_id, first, candidate))
    return paths


def path_members(spark: SparkSession, paths: list[PlantedPath]) -> DataFrame:
    return spark.createDataFrame([(p.path_id, p.first, p.then) for p in paths], PATH_MEMBERS_SCHEMA)


def path_ground_truth(spark: SparkSession, spec: ShopSpec) -> DataFrame:
    rows = [(p.path_id, f"i{p.first:05d}", f"i{p.then:05d}", spec.path_max_days, float(spec.path_strength))
            for p in plan_paths(spec)]
    return spark.createDataFrame(rows, PATH_TRUTH_SCHEMA)


def path_purchases(purchases: DataFrame, members: DataFrame, spec: ShopSpec, end_date: dt.date) -> DataFrame:
    """Follow-up cart + purchase events of B for orders holding A (columns of lib.synth.events)."""
    seed = spec.seed
    anchors = (
        purchases.select("date", "session_id", "user_number", "order_id", "event_time", "item_number")
        .join(F.broadcast(members), F.col("item_number") == F.col("first_number"), how="inner")
        .dropDuplicates(["order_id", "path_id"])
    )
    key = (F.col("order_id"), F.col("path_id"))
    delay = (F.lit(1) + F.floor(uniform(seed, "path_delay", *key) * spec.path_max_days)).cast("int")
    chosen = anchors.where(uniform(seed, "path", *key) < spec.path_strength).withColumn("delay", delay)
    follow = chosen.where(F.date_add("date", F.col("delay")) <= F.lit(end_date)).select(
        F.date_add("date", F.col("delay")).alias("date"),
        F.concat("session_id", F.lit("-p"), F.col("path_id").cast("string")).alias("session_id"),
        "user_number",
        (F.col("event_time") + F.make_interval(days=F.col("delay"))).alias("checkout"),
        F.col("then_number").alias("item_number"),
    )
    rows = follow.select(
        "*",
        F.explode(F.array(
            F.struct(F.lit("cart").alias("event_type"), (F.col("checkout") - F.expr("INTERVAL 30 SECONDS"))
                     .alias("event_time")),
            F.struct(F.lit("purchase").alias("event_type"), F.col("checkout").alias("event_time")),
        )).alias("e"),
    )
    return rows.select(
        F.concat_ws("-", "session_id", F.col("e.event_type")).alias("event_id"),
        F.col("e.event_time").alias("event_time"),
        "user_number", "session_id",
        F.when(F.col("e.event_type") == "purchase", F.concat(F.lit("o"), F.col("session_id"))).alias("order_id"),
        "item_number", F.col("e.event_type").alias("event_type"), F.lit(1).alias("quantity"), "date",
    )
