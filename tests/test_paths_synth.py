"""The planted "A then B within 14 days" paths of the synthetic shop: the plan, and the follow-ups."""

from __future__ import annotations

import datetime as dt

import pytest
from pyspark.sql import functions as F

from lib.synth.bundles import plan_bundles, top_index_of
from lib.synth.events import generate_events
from lib.synth.paths import plan_paths
from lib.synth.spec import ShopSpec

END = dt.date(2024, 3, 31)


def test_plan_avoids_bundles_and_the_head_category():
    spec = ShopSpec(items=300, bundles=6, paths=5)
    paths = plan_paths(spec)
    bundle_items = {n for b in plan_bundles(spec) for n in (b.anchor, *b.companions)}
    assert [p.first for p in paths] == [4, 9, 14, 19, 24]
    assert len({p.then for p in paths}) == 5 and not {p.then for p in paths} & bundle_items
    assert all(top_index_of(p.then, spec) != top_index_of(p.first, spec) for p in paths)
    assert plan_paths(ShopSpec(paths=0)) == []
    with pytest.raises(ValueError, match="planted paths need more items"):
        plan_paths(ShopSpec(items=20, bundles=1, paths=3))


def test_follow_ups_are_new_orders_of_b_1_to_14_days_later(spark):
    spec = ShopSpec(seed=3, days=16, users=150, items=120, top_categories=3, subcategories_per_top=2,
                    sessions_per_day=40, bundles=2, paths=2, path_strength=1.0, path_max_days=14)
    events = generate_events(spark, spec, END)
    follow = events.where(F.col("session_id").contains("-p") & (F.col("event_type") == "purchase"))
    anchors = events.where((F.col("event_type") == "purchase") & ~F.col("session_id").contains("-p")).select(
        F.col("session_id").alias("anchor_session"), F.col("user_number").alias("anchor_user"),
        F.col("date").alias("anchor_date"), F.col("item_number").alias("anchor_item"),
    )
    joined = follow.withColumn("anchor_session", F.regexp_extract("session_id", r"^(.*)-p\d+$", 1)).join(
        anchors.dropDuplicates(["anchor_session", "anchor_item"]), on="anchor_session", how="inner"
    )
    first_of = {p.then: p.first for p in plan_paths(spec)}
    rows = joined.select("user_number", "anchor_user", "date", "anchor_date", "item_number", "anchor_item",
                         "order_id").collect()  # a few dozen follow-ups
    assert rows, "strength 1.0 plants a follow-up for every A order that fits before the end"
    matched = [r for r in rows if r["anchor_item"] == first_of[r["item_number"]]]  # not the session's other items
    assert {r["order_id"] for r in matched} == {r["order_id"] for r in follow.select("order_id").collect()}
    for r in matched:
        assert r["user_number"] == r["anchor_user"] and r["order_id"].startswith("o")
        assert 1 <= (r["date"] - r["anchor_date"]).days <= 14 and r["date"] <= END
