"""The synthetic shop's planted bundles are found: jobs/fpgrowth.py, run on a small generated shop,
keeps every planted anchor -> companion rule with lift above the planted strength and confidence
near it, ranks the companions first in the anchor's bought-together list, and lists every planted
triple as a bundle."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.fpgrowth import parse_args, run
from lib.schemas.events import EVENTS, EVENTS_SCHEMA, ITEMS, ITEMS_SCHEMA
from lib.schemas.rules import ASSOCIATION_RULES, BOUGHT_TOGETHER, BUNDLES
from lib.synth.bundles import plan_bundles
from lib.synth.catalog import generate_items
from lib.synth.events import generate_events
from lib.synth.spec import ShopSpec

END = dt.date(2024, 3, 31)
# Small enough to generate and mine in seconds (~2,800 orders), large enough that the least popular
# anchor is in dozens of orders: bundles = 4 keeps the anchors (items 3, 8, 13, 18) popular.
SPEC = ShopSpec(seed=11, days=14, users=1_000, items=300, sessions_per_day=400, bundles=4, bundle_strength=0.6)
MIN_COUNT = 10
# confidence(anchor -> companion) = strength + (1 - strength) * P(companion bought anyway | anchor);
# companions are long-tail items, so that second term is small. Allowed: 4 binomial standard errors
# of a proportion over n_a orders, plus 0.05 upwards for organic purchases of the companion.
SIGMAS, ORGANIC = 4.0, 0.05


def conform(frame: DataFrame, schema: T.StructType) -> DataFrame:
    return frame.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def canonical_tables(spark: SparkSession, spec: ShopSpec) -> tuple[DataFrame, DataFrame]:
    """The generator's events and catalogue as the canonical `events` and `items` tables, as ingest
    makes them: item_number -> item id "i%05d" (the ground truth's ids), user_number -> "u%06d"."""
    catalogue = generate_items(spark, spec)
    generated = generate_events(spark, spec, END).join(
        catalogue.select("item_number", "item_id", "price"), on="item_number", how="inner"
    )
    events = generated.select(
        "event_id", "event_time", F.format_string("u%06d", F.col("user_number")).alias("user_id"),
        "session_id", "order_id", "item_id", "event_type", "quantity",
        F.col("price").alias("unit_price"), F.lit("synthetic").alias("source"), F.col("date").alias("dt"),
    )
    items = catalogue.select(
        "item_id", "title", "category", "category_path", F.col("price").alias("latest_price"),
        F.lit(END - dt.timedelta(days=spec.days - 1)).alias("first_seen"), F.lit(END).alias("last_seen"),
    )
    return conform(events, EVENTS_SCHEMA), conform(items, ITEMS_SCHEMA)


@pytest.fixture
def mined_shop(spark, store, warehouse):
    events, items = canonical_tables(spark, SPEC)
    store.append(EVENTS, events)
    store.overwrite(ITEMS, items, partition_by=())
    config = parse_args([
        "--env", "local", "--date", END.isoformat(),
        "--set", f"storage.warehouse={warehouse}", "--set", "storage.engine=embedded",
        "--set", f"window_days={SPEC.days}", "--set", "min_support=0.0", "--set", f"min_count={MIN_COUNT}",
        "--set", "min_confidence=0.1", "--set", "min_lift=1.0", "--set", "max_rule_length=3",
        "--set", "category.enabled=false",
    ])  # pruning as shipped: FDR at 0.05, redundancy, privacy below 5 baskets
    summary = run(spark, config)
    return store, summary


def test_planted_bundles_are_found_as_kept_rules(mined_shop):
    store, summary = mined_shop
    planted = plan_bundles(SPEC)
    pairs = sorted((f"i{b.anchor:05d}", f"i{c:05d}") for b in planted for c in b.companions)
    anchors = sorted({anchor for anchor, _ in pairs})
    assert len(pairs) == 6 and summary["baskets"] > 2_000  # the shop is the size the bounds assume

    # Every planted pair is a kept rule: lift above the strength, confidence near it.
    rules = store.read(ASSOCIATION_RULES).filter(
        (F.col("rule_length") == 2) & F.col("antecedent")[0].isin(*anchors)
    )  # the anchors' pair rules: a few dozen rows at most
    found = {(r["antecedent"][0], r["consequent"]): r for r in rules.collect()}
    strength = SPEC.bundle_strength
    for anchor, companion in pairs:
        rule = found.get((anchor, companion))
        assert rule is not None, f"planted rule {anchor} -> {companion} was not mined"
        assert rule["status"] == "kept", f"{anchor} -> {companion}: {rule['status']}"
        assert rule["lift"] > strength, f"{anchor} -> {companion}: lift {rule['lift']}"
        tolerance = SIGMAS * math.sqrt(strength * (1 - strength) / rule["n_a"])
        assert strength - tolerance <= rule["confidence"] <= strength + tolerance + ORGANIC, (
            f"{anchor} -> {companion}: confidence {rule['confidence']:.3f} over {rule['n_a']} orders "
            f"is not near the planted {strength}"
        )

    # The companions stand out: they are the anchor's best companions by lift (ranks 1..k).
    together = store.read(BOUGHT_TOGETHER).filter(F.col("item_id").isin(*anchors)).collect()  # <= 4 * top_k
    for bundle in planted:
        anchor = f"i{bundle.anchor:05d}"
        top = {r["companion_id"] for r in together if r["item_id"] == anchor and r["rank"] <= len(bundle.companions)}
        assert top == {f"i{c:05d}" for c in bundle.companions}, f"{anchor}: best companions {top}"

    # Every planted triple (anchor + two companions) is a bundle, kept.
    bundles = {tuple(r["items"]): r["status"] for r in store.read(BUNDLES).collect()}  # a handful
    for bundle in planted:
        if len(bundle.companions) == 2:
            triple = tuple(sorted(f"i{n:05d}" for n in (bundle.anchor, *bundle.companions)))
            assert bundles.get(triple) == "kept", f"planted triple {triple}: {bundles.get(triple)}"
