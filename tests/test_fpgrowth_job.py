"""jobs/fpgrowth.py end to end on a small events table: outputs by hand, and a re-run replaces."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import types as T

from builders import event_at
from jobs.fpgrowth import parse_args, run
from lib.config import ConfigError
from lib.schemas.events import EVENTS, EVENTS_SCHEMA, ITEMS, ITEMS_SCHEMA
from lib.schemas.rules import (
    ASSOCIATION_RULES, BOUGHT_TOGETHER, BUNDLES, CATEGORY_RULES, FREQUENT_ITEMSETS,
)

RUN_DATE = dt.date(2024, 3, 31)
DAY = dt.date(2024, 3, 30)
OLD_DAY = dt.date(2024, 3, 20)  # before the 7-day window: must not count

# The six hand baskets: {a b c e} {a b e} {a b d} {b c} {a c} {d}.
ORDERS = {"o1": "abce", "o2": "abe", "o3": "abd", "o4": "bc", "o5": "ac", "o6": "d"}


def event(i: int, order: str | None, item: str, kind: str = "purchase", day: dt.date = DAY) -> tuple:
    time = dt.datetime.combine(day, dt.time(12, 0)) + dt.timedelta(minutes=i)
    return event_at(f"e{i}", time, "u1", item, order, session="s1", event_type=kind)


def make_events() -> list[tuple]:
    rows = []
    for order, items in ORDERS.items():
        for item in items:
            rows.append(event(len(rows), order, item))
    rows.append(event(len(rows), "o1", "a"))  # the same item twice in an order: de-duplicated
    rows.append(event(len(rows), "old", "a", day=OLD_DAY))  # outside the window
    rows.append(event(len(rows), "old", "d", day=OLD_DAY))
    rows.append(event(len(rows), None, "c", kind="view"))  # not a purchase
    rows.append(event(len(rows), None, "e"))  # a purchase without an order: reported, in no basket
    return rows


ITEMS_ROWS = [
    ("a", "Apple", "kitchen", "home/kitchen", 1.0),
    ("b", "Bread", "kitchen", "home/kitchen", 2.5),
    ("c", "Cheese", "bath", "home/bath", 3.0),
    ("e", "Eggs", "tools", "garden/tools", 4.0),
    # "d" is unknown to the items table: no title, no category
]


@pytest.fixture
def shop(spark, store):
    store.append(EVENTS, spark.createDataFrame(make_events(), EVENTS_SCHEMA))
    items = [(*row, dt.date(2024, 1, 1), RUN_DATE) for row in ITEMS_ROWS]
    store.overwrite(ITEMS, spark.createDataFrame(items, ITEMS_SCHEMA), partition_by=())
    return store


def job_config(warehouse: str, *extra: str):
    return parse_args([
        "--env", "local", "--date", RUN_DATE.isoformat(),
        "--set", f"storage.warehouse={warehouse}", "--set", "storage.engine=embedded",
        "--set", "window_days=7", "--set", "min_count=2", "--set", "min_support=0.0",
        "--set", "min_confidence=0.0", "--set", "min_lift=1.0", "--set", "max_rule_length=3",
        "--set", "pruning.fdr=false", "--set", "pruning.privacy_min_count=2",
        "--set", "bought_together.top_k=2", "--set", "bought_together.metric=lift",
        "--set", "category.min_count=2", "--set", "category.min_confidence=0.0",
        "--set", "bundles.min_all_confidence=0.3",
        *extra,
    ])


def read_all(store):
    return {t: store.read(t) for t in (FREQUENT_ITEMSETS, ASSOCIATION_RULES, BOUGHT_TOGETHER, BUNDLES, CATEGORY_RULES)}


def test_job_end_to_end_and_rerun_replaces(spark, shop, warehouse):
    config = job_config(warehouse)
    summary = run(spark, config)
    assert summary["baskets"] == 6 and summary["unbasketed_events"] == 1
    assert summary["itemset_statuses"] == {"kept": 11}
    assert summary["rule_statuses"] == {"kept": 11, "redundant": 2}
    first = {name: frame.collect() for name, frame in read_all(shop).items()}

    itemsets_schema = T.StructType([
        T.StructField("items", T.ArrayType(T.StringType()), True), T.StructField("count", T.LongType(), True),
        T.StructField("support", T.DoubleType(), True), T.StructField("status", T.StringType(), True),
    ])
    expected_itemsets = spark.createDataFrame(  # every count >= privacy_min_count 2: all kept
        [(list(k), c, c / 6, "kept") for k, c in {
            "a": 4, "b": 4, "c": 3, "d": 2, "e": 2, "ab": 3, "ac": 2, "ae": 2, "bc": 2, "be": 2, "abe": 2,
        }.items()],
        itemsets_schema,
    )
    assert_approx_df_equality(
        shop.read(FREQUENT_ITEMSETS).select("items", "count", "support", "status"), expected_itemsets,
        precision=1e-12, ignore_row_order=True, ignore_nullable=True,
    )

    rules_schema = T.StructType([
        T.StructField("antecedent", T.ArrayType(T.StringType()), True),
        T.StructField("consequent", T.StringType(), True),
        T.StructField("antecedent_titles", T.ArrayType(T.StringType()), True),
        T.StructField("consequent_title", T.StringType(), True),
        *[T.StructField(c, T.LongType(), True) for c in ("n_ab", "n_a", "n_b", "n")],
        T.StructField("status", T.StringType(), True),
        T.StructField("dt", T.DateType(), True),
    ])
    title = {"a": "Apple", "b": "Bread", "c": "Cheese", "e": "Eggs"}
    rule_rows = [
        ("a", "b", 3, 4, 4), ("b", "a", 3, 4, 4), ("a", "c", 2, 4, 3), ("c", "a", 2, 3, 4),
        ("a", "e", 2, 4, 2), ("e", "a", 2, 2, 4), ("b", "c", 2, 4, 3), ("c", "b", 2, 3, 4),
        ("b", "e", 2, 4, 2), ("e", "b", 2, 2, 4), ("ab", "e", 2, 3, 2),
    ]
    expected_rules = [
        (list(a), c, [title[x] for x in a], title[c], n_ab, n_a, n_b, 6, "kept", RUN_DATE)
        for a, c, n_ab, n_a, n_b in rule_rows
    ] + [
        (["a", "e"], "b", ["Apple", "Eggs"], "Bread", 2, 2, 4, 6, "redundant", RUN_DATE),  # e -> b has conf 1
        (["b", "e"], "a", ["Bread", "Eggs"], "Apple", 2, 2, 4, 6, "redundant", RUN_DATE),  # e -> a has conf 1
    ]
    assert_df_equality(
        shop.read(ASSOCIATION_RULES).select(*rules_schema.fieldNames()),
        spark.createDataFrame(expected_rules, rules_schema), ignore_row_order=True, ignore_nullable=True,
    )

    together_schema = T.StructType([
        T.StructField("item_id", T.StringType(), True), T.StructField("rank", T.IntegerType(), True),
        T.StructField("companion_id", T.StringType(), True), T.StructField("companion_title", T.StringType(), True),
        T.StructField("score", T.DoubleType(), True), T.StructField("n_ab", T.LongType(), True),
        T.StructField("confidence", T.DoubleType(), True), T.StructField("lift", T.DoubleType(), True),
    ])
    # Top 2 by lift; ties on lift and n_ab break on the companion id; d has no kept pair rule.
    expected_together = spark.createDataFrame([
        ("a", 1, "e", "Eggs", 1.5, 2, 0.5, 1.5), ("a", 2, "b", "Bread", 1.125, 3, 0.75, 1.125),
        ("b", 1, "e", "Eggs", 1.5, 2, 0.5, 1.5), ("b", 2, "a", "Apple", 1.125, 3, 0.75, 1.125),
        ("c", 1, "a", "Apple", 1.0, 2, 2 / 3, 1.0), ("c", 2, "b", "Bread", 1.0, 2, 2 / 3, 1.0),
        ("e", 1, "a", "Apple", 1.5, 2, 1.0, 1.5), ("e", 2, "b", "Bread", 1.5, 2, 1.0, 1.5),
    ], together_schema)
    assert_approx_df_equality(
        shop.read(BOUGHT_TOGETHER).select(*together_schema.fieldNames()), expected_together,
        precision=1e-12, ignore_row_order=True, ignore_nullable=True,
    )

    bundles = shop.read(BUNDLES).select("items", "titles", "count", "all_confidence", "bundle_price", "status")
    assert [tuple(r) for r in bundles.collect()] == [(["a", "b", "e"], ["Apple", "Bread", "Eggs"], 2, 0.5, 7.5, "kept")]

    # Categories: K = home/kitchen (a, b), B = home/bath (c), G = garden/tools (e); d has none.
    category_schema = T.StructType([
        T.StructField("antecedent", T.ArrayType(T.StringType()), True),
        T.StructField("consequent", T.StringType(), True), T.StructField("cross_category", T.BooleanType(), True),
        *[T.StructField(c, T.LongType(), True) for c in ("n_ab", "n_a", "n_b", "n")],
        T.StructField("status", T.StringType(), True),
    ])
    kitchen, bath, tools = "home/kitchen", "home/bath", "garden/tools"
    expected_categories = spark.createDataFrame([
        ([kitchen], bath, False, 3, 5, 3, 6, "kept"), ([bath], kitchen, False, 3, 3, 5, 6, "kept"),
        ([kitchen], tools, True, 2, 5, 2, 6, "kept"), ([tools], kitchen, True, 2, 2, 5, 6, "kept"),
    ], category_schema)
    assert_df_equality(
        shop.read(CATEGORY_RULES).select(*category_schema.fieldNames()), expected_categories,
        ignore_row_order=True, ignore_nullable=True,
    )
    assert summary["uncategorised_items"] == 1

    # A re-run of the same date replaces its partitions: same rows, not twice as many.
    run(spark, config)
    for name, frame in read_all(shop).items():
        assert_df_equality(frame, spark.createDataFrame(first[name], frame.schema),
                           ignore_row_order=True, ignore_nullable=True)
    assert len(shop.history(ASSOCIATION_RULES)) == 2


def test_bad_config_values_name_the_key():
    with pytest.raises(ConfigError, match="'basket'"):
        job_config("/tmp/unused", "--set", "basket=cart")
    with pytest.raises(ConfigError, match="'bought_together.metric'"):
        job_config("/tmp/unused", "--set", "bought_together.metric=popularity")
    with pytest.raises(ConfigError, match="'min_count'"):
        job_config("/tmp/unused", "--set", "min_count=0")
    with pytest.raises(ConfigError, match="'pruning.privacy_min_count'"):
        job_config("/tmp/unused", "--set", "pruning.privacy_min_count=0")
