"""jobs/paths.py end to end on a small generated shop: every table is written, the planted
"A then B within 14 days" paths are found as kept next items with their planted confidence and as
kept purchase paths, and bad config names its key."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.paths import parse_args, run
from lib.config import ConfigError
from lib.schemas.events import EVENTS, EVENTS_SCHEMA, ITEMS, ITEMS_SCHEMA
from lib.schemas.paths import ITEM_BEHAVIOUR_EMBEDDINGS, NEXT_ITEMS, PURCHASE_PATHS, SIMILAR_BEHAVIOUR_ITEMS
from lib.synth.catalog import generate_items
from lib.synth.events import generate_events
from lib.synth.paths import plan_paths
from lib.synth.spec import ShopSpec

END = dt.date(2024, 3, 31)
# ~1,900 orders over 35 days; the two path heads (items 4 and 9) are popular, so dozens of users
# buy them in the first 21 days (eligible for a full 14 days of follow-up).
SPEC = ShopSpec(seed=5, days=35, users=600, items=200, sessions_per_day=120, bundles=2, paths=2,
                path_strength=0.6, path_max_days=14)
# confidence = strength + (1 - strength) * P(B bought anyway within 14 days); B is a rarely bought
# tail item, so the second term is small: 4 binomial standard errors, plus 0.05 upwards.
SIGMAS, ORGANIC = 4.0, 0.05


def conform(frame: DataFrame, schema: T.StructType) -> DataFrame:
    return frame.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def canonical_tables(spark: SparkSession, spec: ShopSpec) -> tuple[DataFrame, DataFrame]:
    """The generator's events and catalogue as ingest writes them (item ids "i%05d")."""
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


def config_for(warehouse: str, *extra: str):
    return parse_args([
        "--env", "local", "--date", END.isoformat(),
        "--set", f"storage.warehouse={warehouse}", "--set", "storage.engine=embedded",
        "--set", f"window_days={SPEC.days}", "--set", "patterns.min_count=8", "--set", "next_items.min_count=5",
        "--set", "patterns.max_pattern_length=2", "--set", 'item2vec.sentences=["purchases"]',
        "--set", "item2vec.vector_size=8", "--set", "item2vec.similar_k=5", *extra,
    ])


def test_planted_paths_are_found_with_their_confidence(spark, store, warehouse):
    events, items = canonical_tables(spark, SPEC)
    store.append(EVENTS, events)
    store.overwrite(ITEMS, items, partition_by=())
    summary = run(spark, config_for(warehouse))
    assert summary["sequences"] > 300 and summary["top_paths"], summary

    planted = [(f"i{p.first:05d}", f"i{p.then:05d}") for p in plan_paths(SPEC)]
    heads = [head for head, _ in planted]
    after = {(r["item_id"], r["next_item_id"]): r
             for r in store.read(NEXT_ITEMS).where(F.col("item_id").isin(*heads)).collect()}  # <= 2 * top_k
    strength = SPEC.path_strength
    for head, then in planted:
        row = after.get((head, then))
        assert row is not None, f"planted {head} -> {then} is not in next_items"
        assert row["status"] == "kept" and row["rank"] == 1, (head, then, row["status"], row["rank"])
        tolerance = SIGMAS * math.sqrt(strength * (1 - strength) / row["n_a"])
        assert strength - tolerance <= row["confidence"] <= strength + tolerance + ORGANIC, (
            f"{head} -> {then}: confidence {row['confidence']:.3f} over {row['n_a']} users, planted {strength}"
        )
        assert 1 <= row["median_days"] <= SPEC.path_max_days

    paths = {(r["path"][0][0], r["path"][1][0]): r for r in store.read(PURCHASE_PATHS)
             .where((F.col("path_length") == 2) & (F.size(F.col("path")[0]) == 1)
                    & (F.size(F.col("path")[1]) == 1) & F.col("path")[0][0].isin(*heads)).collect()}
    for head, then in planted:
        path = paths.get((head, then))
        assert path is not None and path["status"] == "kept" and path["lift"] > 5, (head, then, path)

    embeddings = store.read(ITEM_BEHAVIOUR_EMBEDDINGS)
    similar = store.read(SIMILAR_BEHAVIOUR_ITEMS)
    assert summary["rows"][ITEM_BEHAVIOUR_EMBEDDINGS] == embeddings.count() > 50
    assert similar.agg(F.max("rank"), F.min("dt"), F.max("dt")).first() == (5, END, END)


def test_bad_config_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="next_items.within_days"):
        config_for(str(tmp_path), "--set", "next_items.within_days=60")
    with pytest.raises(ConfigError, match="item2vec.sentences"):
        config_for(str(tmp_path), "--set", 'item2vec.sentences=["clicks"]')


def test_empty_window_writes_empty_partitions(spark, store, warehouse):
    summary = run(spark, config_for(warehouse))
    assert summary["sequences"] == 0 and summary["top_paths"] == []
    assert set(summary["rows"].values()) == {0}
    assert store.read(PURCHASE_PATHS).count() == 0
