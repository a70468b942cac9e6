"""The report's bounded extracts, on small frames with the tables' schemas (null and edge rows incl.)."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality
from pyspark.sql import types as T

from lib.report import extract
from lib.schemas.ingest import INGEST_AUDIT_SCHEMA
from lib.schemas.rules import BOUGHT_TOGETHER_SCHEMA, BUNDLES_SCHEMA, CATEGORY_RULES_SCHEMA
from tests.report_builders import category_row

D = dt.date(2024, 3, 31)
T0 = dt.datetime(2024, 3, 31, 6, 0)


def test_audit_keeps_the_last_run_of_each_day_and_source_within_the_days(spark):
    audit = spark.createDataFrame(
        [
            (D, "r1", "generic", "p", T0, 10, 8, 1, 1, {"bad_number": 1}, None, None),
            (D, "r2", "generic", "p", T0 + dt.timedelta(hours=1), 12, 9, 1, 2, {"bad_number": 1, "malformed_line": 1}, None, None),
            (D, "r9", "online_retail", "q", T0, 5, 5, 0, 0, {}, None, None),  # another source the same day
            (D - dt.timedelta(days=1), "r0", "generic", "p", T0, 7, 6, 0, 1, {"malformed_line": 1}, None, None),
            (D - dt.timedelta(days=5), "old", "generic", "p", T0, 99, 0, 0, 99, {"bad_number": 99}, None, None),  # before start
        ],
        INGEST_AUDIT_SCHEMA,
    )
    start = D - dt.timedelta(days=2)
    days = extract.audit_by_day(audit, start, D)
    expected = spark.createDataFrame(
        [(D - dt.timedelta(days=1), 7, 6, 0, 1), (D, 17, 14, 1, 2)],
        "dt date, input_rows long, accepted long, duplicates long, quarantined long",
    )
    assert_df_equality(days, expected, ignore_nullable=True)  # ordered by day
    reasons = extract.quarantine_reasons(audit, start, D, limit=5)
    assert_df_equality(reasons, spark.createDataFrame([("malformed_line", 2), ("bad_number", 1)], "reason string, rows long"),
                       ignore_nullable=True)


def test_category_pairs_roll_kept_one_to_one_rules_up_to_families(spark):
    rules = spark.createDataFrame(
        [
            category_row(["kitchen/pans/small"], "garden/tools/spades", True, 30, 2.5),
            category_row(["kitchen/knives/chef"], "garden/seeds/herbs", True, 10, 3.5),  # same pair, higher lift
            category_row(["kitchen/pans/small"], "kitchen/knives/chef", False, 50, 1.8),
            category_row(["garden/tools/spades", "kitchen/pans/small"], "toys/cars/red", True, 12, 4.0),  # length 3
            category_row(["toys/cars/red"], "garden/seeds/herbs", True, 4, 9.0, status="privacy"),  # not kept
        ],
        CATEGORY_RULES_SCHEMA,
    )
    expected = spark.createDataFrame(
        [("kitchen", "garden", 3.5, 2, 40), ("kitchen", "kitchen", 1.8, 1, 50)],
        "from_family string, to_family string, max_lift double, rules long, n_ab long",
    )
    assert_df_equality(extract.category_pairs(rules, limit=10), expected, ignore_nullable=True)
    assert [r["to"] for r in extract.top_cross_category_rules(rules, 2).collect()] == ["toys/cars/red", "garden/seeds/herbs"]


def test_top_bundles_are_kept_ones_by_baskets_with_ids_for_missing_titles(spark):
    bundles = spark.createDataFrame(
        [
            (["a", "b", "c"], ["A", "B", "C"], 3, 20, 0.02, 0.2, 9.5, "kept", D),
            (["a", "d", "e"], ["A", None, "E"], 3, 30, 0.03, 0.3, None, "kept", D),  # price unknown
            (["x", "y", "z"], ["X", "Y", "Z"], 3, 90, 0.09, 0.9, 1.0, "privacy", D),
        ],
        BUNDLES_SCHEMA,
    )
    expected = spark.createDataFrame(
        [("A + d + E", 3, 30, 0.03, 0.3, None), ("A + B + C", 3, 20, 0.02, 0.2, 9.5)],
        "bundle string, size int, count long, support double, all_confidence double, bundle_price double",
    )
    assert_df_equality(extract.top_bundles(bundles, limit=5), expected, ignore_nullable=True)


def test_bought_together_sample_takes_the_items_whose_first_companion_is_in_most_baskets(spark):
    together = spark.createDataFrame(
        [
            ("a", 1, "b", "B", "lift", 3.0, 50, 0.5, 3.0, D), ("a", 2, "c", None, "lift", 2.0, 20, 0.2, 2.0, D),
            ("a", 3, "d", "D", "lift", 1.5, 10, 0.1, 1.5, D),  # rank above per_item
            ("b", 1, "a", "A", "lift", 3.0, 40, 0.4, 3.0, D), ("c", 1, "a", "A", "lift", None, 5, 0.9, 9.0, D),
        ],
        BOUGHT_TOGETHER_SCHEMA,
    )
    items = spark.createDataFrame([("a", "Apple"), ("b", None)], "item_id string, title string")
    actual = extract.bought_together_sample(together, items, n_items=2, per_item=2).select("item", "rank", "companion")
    expected = spark.createDataFrame([("Apple", 1, "B"), ("Apple", 2, "c"), ("b", 1, "A")],
                                     "item string, rank int, companion string")
    assert_df_equality(actual, expected, ignore_nullable=True)


def test_preview_of_an_unknown_table_ranks_by_its_measure_and_flattens_arrays(spark):
    schema = T.StructType([
        T.StructField("path", T.ArrayType(T.StringType()), True),
        T.StructField("weight", T.DoubleType(), True),
        T.StructField("n_ab", T.LongType(), True),
        T.StructField("props", T.MapType(T.StringType(), T.StringType()), True),  # not shown
        T.StructField("parts", T.ArrayType(T.StructType([T.StructField("x", T.StringType())])), True),  # not shown
        T.StructField("dt", T.DateType(), False),
    ])
    frame = spark.createDataFrame(
        [(["a", "b"], 0.2, 9, {}, [("p",)], D), (["c"], 0.9, 1, None, None, D), (None, None, 5, None, None, D),
         (["z"], 5.0, 1, None, None, D - dt.timedelta(days=1))],
        schema,
    )
    assert extract.value_column(frame) == "weight"  # known measures in VALUE_COLUMNS order: weight before n_ab
    expected = spark.createDataFrame([("c", 0.9, 1), ("a + b", 0.2, 9)], "path string, weight double, n_ab long")
    assert_df_equality(extract.preview(frame, D, limit=2), expected, ignore_nullable=True)
