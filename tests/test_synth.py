"""The synthetic shop: deterministic, realistic in shape, and its planted bundles are really there."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.synth.bundles import PlantedBundle, plan_bundles
from lib.synth.catalog import generate_items
from lib.synth.events import generate_events
from lib.synth.randomness import geometric_count, uniform, zipf_rank
from lib.synth.raw import RAW_COLUMNS, to_generic_raw
from lib.synth.spec import ShopSpec

END = dt.date(2024, 3, 31)
SMALL = ShopSpec(seed=7, days=14, users=300, items=120, top_categories=3, subcategories_per_top=2,
                 leaves_per_subcategory=2, sessions_per_day=400, bundles=4, bundle_strength=0.6)


def test_zipf_rank_inverts_the_cdf_at_known_points(spark):
    frame = spark.createDataFrame([(0.0,), (0.5,), (0.999999,), (None,)], "u double")
    result = frame.select(
        "u",
        zipf_rank(F.col("u"), 100, 1.0).alias("s1"),
        zipf_rank(F.col("u"), 100, 2.0).alias("s2"),
    )
    # s = 1: floor(100 ** u) - 1; s = 2: floor(1 / (1 - u * (1 - 1/100))) - 1, clamped to [0, 99]
    expected = spark.createDataFrame(
        [(0.0, 0, 0), (0.5, 9, 0), (0.999999, 98, 98), (None, None, None)],
        "u double, s1 long, s2 long",
    )
    assert_df_equality(result, expected, ignore_row_order=True, ignore_nullable=True)


def test_uniform_is_deterministic_in_unit_interval_and_geometric_counts_are_capped(spark):
    frame = spark.range(2000).select(
        uniform(1, "t", F.col("id")).alias("u"),
        uniform(1, "t", F.col("id")).alias("same"),
        uniform(2, "t", F.col("id")).alias("other_seed"),
    )
    stats = frame.agg(
        F.min("u"), F.max("u"), F.avg("u"),
        F.sum(F.when(F.col("u") == F.col("same"), 1).otherwise(0)),
        F.sum(F.when(F.col("u") == F.col("other_seed"), 1).otherwise(0)),
    ).first()
    assert 0.0 <= stats[0] < 0.01 and 0.99 < stats[1] < 1.0
    assert abs(stats[2] - 0.5) < 0.03
    assert stats[3] == 2000 and stats[4] == 0
    counts = spark.createDataFrame([(0.0,), (0.999999999,)], "u double").select(
        geometric_count(F.col("u"), 5.0, 40).alias("n")
    )
    assert_df_equality(counts, spark.createDataFrame([(1,), (40,)], "n int"), ignore_nullable=True)


def test_plan_bundles_takes_popular_anchors_and_tail_companions_from_another_top_category():
    spec = ShopSpec(items=100, top_categories=2, subcategories_per_top=1, leaves_per_subcategory=2, bundles=3)
    # 4 leaves; the top category of item k is (k mod 4) // 2; the tail is walked once, downwards
    assert plan_bundles(spec) == [
        PlantedBundle(0, 3, (97,)),  # anchor in top 1: 99, 98 are top 1 (skipped), 97 is top 0
        PlantedBundle(1, 8, (95, 94)),  # anchor in top 0: 96 is top 0 (skipped), 95 and 94 are top 1
        PlantedBundle(2, 13, (91,)),  # anchor in top 0: 93, 92 are top 0 (skipped), 91 is top 1
    ]


def test_catalogue_rows_are_derived_from_the_item_number(spark):
    spec = ShopSpec(seed=1, items=5, top_categories=2, subcategories_per_top=1, leaves_per_subcategory=2)
    items = generate_items(spark, spec).select("item_number", "item_id", "leaf", "top_index", "category_path")
    expected = spark.createDataFrame(
        [
            (0, "i00000", 0, 0, "kitchen/essentials/kitchen-essentials-1"),
            (1, "i00001", 1, 0, "kitchen/essentials/kitchen-essentials-2"),
            (2, "i00002", 2, 1, "garden/essentials/garden-essentials-1"),
            (3, "i00003", 3, 1, "garden/essentials/garden-essentials-2"),
            (4, "i00004", 0, 0, "kitchen/essentials/kitchen-essentials-1"),
        ],
        "item_number long, item_id string, leaf int, top_index int, category_path string",
    )
    assert_df_equality(items, expected, ignore_row_order=True, ignore_nullable=True)


@pytest.fixture(scope="module")
def shop(spark):
    events = generate_events(spark, SMALL, END).cache()
    yield events
    events.unpersist()


def test_same_seed_gives_the_same_shop_and_another_seed_does_not(spark, shop):
    again = generate_events(spark, SMALL, END)
    assert_df_equality(shop, again, ignore_row_order=True)
    other = generate_events(spark, dataclasses.replace(SMALL, seed=8), END)
    assert shop.select("event_id", "item_number").exceptAll(other.select("event_id", "item_number")).count() > 1000


def test_events_have_unique_ids_valid_types_and_stay_in_the_window(spark, shop):
    summary = shop.agg(
        F.count("*").alias("rows"),
        F.countDistinct("event_id").alias("ids"),
        F.min("date").alias("first"),
        F.max("date").alias("last"),
        F.sum(F.when(F.col("event_type").isin("view", "fav", "cart", "purchase"), 0).otherwise(1)).alias("bad_type"),
        F.sum(F.when((F.col("event_type") == "purchase") != F.col("order_id").isNotNull(), 1).otherwise(0))
        .alias("order_id_mismatch"),
        F.sum(F.when(F.to_date("event_time") != F.col("date"), 1).otherwise(0)).alias("off_day"),
    ).first()
    assert summary["rows"] == summary["ids"]
    assert (summary["first"], summary["last"]) == (END - dt.timedelta(days=SMALL.days - 1), END)
    assert summary["bad_type"] == 0 and summary["order_id_mismatch"] == 0 and summary["off_day"] == 0


def test_orders_have_several_items_and_users_buy_again(spark, shop):
    purchases = shop.where(F.col("event_type") == "purchase")
    per_order = purchases.groupBy("order_id").agg(F.countDistinct("item_number").alias("n"))
    assert per_order.where(F.col("n") >= 2).count() / per_order.count() > 0.3
    repeat = purchases.groupBy("user_number", "item_number").agg(F.countDistinct("order_id").alias("orders"))
    assert repeat.where(F.col("orders") >= 2).count() > 50


def test_weekends_are_busier_than_midweek(spark, shop):
    sessions = shop.groupBy(F.dayofweek("date").alias("dow")).agg(F.countDistinct("session_id").alias("n"))
    by_day = {row["dow"]: row["n"] for row in sessions.collect()}  # at most 7 rows
    assert by_day[7] > 1.2 * by_day[3]  # Saturday (weight 1.35) vs Tuesday (0.95)


def test_planted_bundles_appear_at_the_configured_strength(spark, shop):
    bundles = plan_bundles(SMALL)
    pairs = spark.createDataFrame(
        [(b.anchor, c) for b in bundles for c in b.companions], "anchor long, companion long"
    )
    baskets = (
        shop.where(F.col("event_type") == "purchase")
        .groupBy("order_id")
        .agg(F.collect_set("item_number").alias("items"))
    )
    strength = (
        baskets.crossJoin(F.broadcast(pairs))
        .where(F.array_contains("items", F.col("anchor")))
        .groupBy("anchor", "companion")
        .agg(
            F.count("*").alias("anchor_orders"),
            F.avg(F.array_contains("items", F.col("companion")).cast("double")).alias("confidence"),
        )
        .collect()  # one row per planted pair
    )
    assert len(strength) == pairs.count()
    for row in strength:
        assert row["anchor_orders"] >= 30, row
        assert abs(row["confidence"] - SMALL.bundle_strength) < 0.12, row


def test_raw_output_has_the_generic_columns_and_formats(spark):
    spec = dataclasses.replace(SMALL, days=1, sessions_per_day=20)
    raw = to_generic_raw(generate_events(spark, spec, END), generate_items(spark, spec))
    assert tuple(raw.columns) == (*RAW_COLUMNS, "date")
    assert all(isinstance(f.dataType, (T.StringType, T.DateType)) for f in raw.schema.fields)
    bad = raw.where(
        ~F.col("event_time").rlike(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
        | ~F.col("user_id").rlike(r"^u\d{6}$")
        | ~F.col("unit_price").rlike(r"^\d+\.\d{2}$")
        | (F.size(F.split("category_path", "/")) != 3)
    )
    assert bad.count() == 0
    assert raw.count() == generate_events(spark, spec, END).count()  # the catalogue join drops nothing
