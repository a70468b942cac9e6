"""The demo's "ten strongest kept rules with titles"."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import Row
from pyspark.sql import types as T

from lib.rules.report import format_rule_lines, top_rules

SCHEMA = T.StructType(
    [
        T.StructField("antecedent", T.ArrayType(T.StringType()), False),
        T.StructField("consequent", T.StringType(), False),
        T.StructField("antecedent_titles", T.ArrayType(T.StringType()), False),
        T.StructField("consequent_title", T.StringType(), True),
        T.StructField("n_ab", T.LongType(), False),
        T.StructField("support", T.DoubleType(), False),
        T.StructField("confidence", T.DoubleType(), False),
        T.StructField("lift", T.DoubleType(), False),
        T.StructField("p_adjusted", T.DoubleType(), False),
        T.StructField("status", T.StringType(), False),
    ]
)
ROWS = [
    (["a"], "b", ["Apple"], "Bread", 30, 0.3, 0.6, 2.0, 0.001, "kept"),
    (["a"], "c", ["Apple"], None, 40, 0.4, 0.7, 2.0, 0.001, "kept"),  # same lift, higher confidence
    (["x"], "y", ["X"], "Y", 9, 0.09, 0.9, 9.0, 0.001, "privacy"),  # strongest, but not kept
    (["a", "b"], "d", ["Apple", None], "Dates", 20, 0.2, 0.5, 1.5, 0.01, "kept"),
    (["d"], "e", ["Dates"], "Eggs", 20, 0.2, 0.5, 1.2, 0.02, "kept"),
]


def test_top_rules_orders_kept_rules_by_lift_then_confidence_and_limits(spark):
    rules = spark.createDataFrame(ROWS, SCHEMA)
    expected = spark.createDataFrame([r[:9] for r in (ROWS[1], ROWS[0], ROWS[3])], T.StructType(SCHEMA.fields[:9]))
    actual = top_rules(rules, 3)
    assert_df_equality(actual.select(*expected.columns), expected, ignore_nullable=True)  # order matters
    assert actual.columns == ["antecedent_titles", "consequent_title", "antecedent", "consequent",
                              "n_ab", "support", "confidence", "lift", "p_adjusted"]


def test_format_rule_lines_falls_back_to_item_ids_for_missing_titles():
    row = Row(antecedent_titles=["Apple", None], consequent_title=None, antecedent=["a", "b"],
              consequent="d", n_ab=20, support=0.2, confidence=0.5, lift=1.5, p_adjusted=0.0123)
    assert format_rule_lines([row]) == [
        "Apple + b -> d  (lift 1.50, confidence 0.50, baskets 20, q 0.012)"
    ]
