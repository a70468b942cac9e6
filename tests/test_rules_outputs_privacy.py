"""The privacy minimum count on frequent_itemsets and bundles: rows below it are kept with
status 'privacy' (as rules are), not dropped; the switch turns it off."""

from __future__ import annotations

import datetime as dt

from chispa import assert_approx_df_equality
from pyspark.sql import types as T

from lib.rules.outputs import bundles_table, frequent_itemsets_table
from lib.rules.pruning import PruningParams
from lib.schemas.events import ITEMS_SCHEMA

RUN_DATE = dt.date(2024, 3, 31)
N_BASKETS = 20

ITEMSETS_SCHEMA = T.StructType([
    T.StructField("items", T.ArrayType(T.StringType(), False), False),
    T.StructField("size", T.IntegerType(), False),
    T.StructField("count", T.LongType(), False),
    T.StructField("support", T.DoubleType(), False),
])
ITEMSET_COUNTS = {
    "a": 10, "b": 8, "c": 6, "d": 4,
    "ab": 6, "ac": 5, "bc": 5, "ad": 4, "bd": 4, "cd": 4,
    "abc": 5,  # exactly the minimum count (5): kept
    "abd": 4,  # one below: privacy
    "acd": 4, "bcd": 4,
    "abcd": 4,  # a 4-item bundle below the minimum
}
ITEMS = [
    ("a", "Apple", "food", "home/food", 1.0),
    ("b", "Bread", "food", "home/food", 2.0),
    ("c", "Cheese", "food", "home/food", None),  # unknown price: bundle price unknown
    ("d", "Dates", "food", "home/food", 4.0),
]


def itemsets_frame(spark):
    rows = [(list(k), len(k), c, c / N_BASKETS) for k, c in ITEMSET_COUNTS.items()]
    return spark.createDataFrame(rows, ITEMSETS_SCHEMA)


def items_frame(spark):
    first = dt.date(2024, 1, 1)
    return spark.createDataFrame([(*row, first, RUN_DATE) for row in ITEMS], ITEMS_SCHEMA)


def expected_itemsets(spark, private: set[str]):
    schema = T.StructType([*ITEMSETS_SCHEMA.fields, T.StructField("status", T.StringType(), False),
                           T.StructField("dt", T.DateType(), False)])
    rows = [(list(k), len(k), c, c / N_BASKETS, "privacy" if k in private else "kept", RUN_DATE)
            for k, c in ITEMSET_COUNTS.items()]
    return spark.createDataFrame(rows, schema)


def test_frequent_itemsets_below_the_privacy_count_are_flagged_not_dropped(spark):
    pruning = PruningParams(privacy=True, privacy_min_count=5)
    actual = frequent_itemsets_table(itemsets_frame(spark), pruning, RUN_DATE)
    private = {"d", "ad", "bd", "cd", "abd", "acd", "bcd", "abcd"}
    assert_approx_df_equality(actual, expected_itemsets(spark, private), precision=1e-12,
                              ignore_row_order=True, ignore_nullable=True)


def test_frequent_itemsets_privacy_switched_off(spark):
    actual = frequent_itemsets_table(itemsets_frame(spark), PruningParams(privacy=False), RUN_DATE)
    assert_approx_df_equality(actual, expected_itemsets(spark, set()), precision=1e-12,
                              ignore_row_order=True, ignore_nullable=True)


BUNDLE_SCHEMA = T.StructType([
    T.StructField("items", T.ArrayType(T.StringType()), True),
    T.StructField("titles", T.ArrayType(T.StringType()), True),
    T.StructField("count", T.LongType(), True),
    T.StructField("all_confidence", T.DoubleType(), True),
    T.StructField("bundle_price", T.DoubleType(), True),
    T.StructField("status", T.StringType(), True),
])


def test_bundles_below_the_privacy_count_are_flagged_not_dropped(spark):
    # all-confidence = count / max single count (a: 10); floor 0.4 keeps every 3+ itemset (>= 4/10).
    pruning = PruningParams(privacy=True, privacy_min_count=5)
    actual = bundles_table(itemsets_frame(spark), items_frame(spark), 3, 0.4, pruning, RUN_DATE)
    expected = spark.createDataFrame([
        (["a", "b", "c"], ["Apple", "Bread", "Cheese"], 5, 0.5, None, "kept"),
        (["a", "b", "d"], ["Apple", "Bread", "Dates"], 4, 0.4, 7.0, "privacy"),
        (["a", "c", "d"], ["Apple", "Cheese", "Dates"], 4, 0.4, None, "privacy"),
        # b, c, d: max single count is b's 8, all-confidence 0.5
        (["b", "c", "d"], ["Bread", "Cheese", "Dates"], 4, 0.5, None, "privacy"),
        (["a", "b", "c", "d"], ["Apple", "Bread", "Cheese", "Dates"], 4, 0.4, None, "privacy"),
    ], BUNDLE_SCHEMA)
    assert_approx_df_equality(actual.select(*BUNDLE_SCHEMA.fieldNames()), expected, precision=1e-12,
                              ignore_row_order=True, ignore_nullable=True)
    assert actual.filter("dt IS NULL OR dt <> DATE'2024-03-31'").isEmpty()


def test_bundles_privacy_switched_off(spark):
    actual = bundles_table(itemsets_frame(spark), items_frame(spark), 3, 0.45, PruningParams(privacy=False), RUN_DATE)
    expected = spark.createDataFrame([
        (["a", "b", "c"], ["Apple", "Bread", "Cheese"], 5, 0.5, None, "kept"),
        (["b", "c", "d"], ["Bread", "Cheese", "Dates"], 4, 0.5, None, "kept"),
    ], BUNDLE_SCHEMA)
    assert_approx_df_equality(actual.select(*BUNDLE_SCHEMA.fieldNames()), expected, precision=1e-12,
                              ignore_row_order=True, ignore_nullable=True)
