"""Pruning statuses and sub-rule confidences on hand-made rules."""

from __future__ import annotations

from chispa import assert_df_equality
from pyspark.sql import types as T

from lib.rules.pruning import PruningParams, with_max_sub_confidence, with_status

RULES_SCHEMA = T.StructType(
    [
        T.StructField("antecedent", T.ArrayType(T.StringType(), True), False),
        T.StructField("consequent", T.StringType(), False),
        T.StructField("n_ab", T.LongType(), False),
        T.StructField("confidence", T.DoubleType(), False),
        T.StructField("p_adjusted", T.DoubleType(), False),
    ]
)
OUT_SCHEMA = T.StructType(
    [
        *RULES_SCHEMA.fields,
        T.StructField("max_sub_confidence", T.DoubleType(), True),
        T.StructField("status", T.StringType(), False),
    ]
)
RULES = [
    (["a"], "b", 3, 0.75, 0.01),
    (["e"], "b", 2, 1.0, 0.02),
    (["a", "e"], "b", 2, 1.0, 0.01),  # e -> b is as confident: redundant
    (["a"], "e", 2, 0.5, 0.01),
    (["b"], "e", 2, 0.5, 0.01),
    (["a", "b"], "e", 2, 2 / 3, 0.2),  # improves on a -> e by 1/6, but p_adj .2 > .05
    (["a"], "d", 1, 0.25, 0.9),  # n_ab 1 < 2 (privacy wins over significance)
    (["b", "c"], "d", 3, 0.35, 0.001),  # no sub-rule present: never redundant
    (["a", "b", "c"], "d", 3, 0.3, 0.001),  # sub-rules a->d .25, b,c->d .35 (>= .3 - .1): redundant
    (["a", "b", "c"], "x", 4, 0.9, 0.001),  # sub-rules absent: kept
]


def test_statuses_with_every_step_on(spark):
    rules = spark.createDataFrame(RULES, RULES_SCHEMA)
    params = PruningParams(fdr=True, fdr_alpha=0.05, redundant=True, min_improvement=0.1,
                           privacy=True, privacy_min_count=2)
    actual = with_status(with_max_sub_confidence(rules), params)
    expected = spark.createDataFrame(
        [
            (["a"], "b", 3, 0.75, 0.01, None, "kept"),
            (["e"], "b", 2, 1.0, 0.02, None, "kept"),
            (["a", "e"], "b", 2, 1.0, 0.01, 1.0, "redundant"),
            (["a"], "e", 2, 0.5, 0.01, None, "kept"),
            (["b"], "e", 2, 0.5, 0.01, None, "kept"),
            (["a", "b"], "e", 2, 2 / 3, 0.2, 0.5, "not_significant"),
            (["a"], "d", 1, 0.25, 0.9, None, "privacy"),
            (["b", "c"], "d", 3, 0.35, 0.001, None, "kept"),
            (["a", "b", "c"], "d", 3, 0.3, 0.001, 0.35, "redundant"),
            (["a", "b", "c"], "x", 4, 0.9, 0.001, None, "kept"),
        ],
        OUT_SCHEMA,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_column_order=True, ignore_nullable=True)


def test_each_step_can_be_switched_off(spark):
    rules = spark.createDataFrame(RULES, RULES_SCHEMA)
    off = with_status(with_max_sub_confidence(rules), PruningParams(fdr=False, redundant=False, privacy=False))
    assert {row["status"] for row in off.collect()} == {"kept"}
    # Only redundancy, with no improvement required: a,b -> e (2/3 > .5) is kept now, a,e -> b is not.
    only_redundant = with_status(
        with_max_sub_confidence(rules), PruningParams(fdr=False, privacy=False, redundant=True, min_improvement=0.0)
    )
    statuses = {(tuple(r["antecedent"]), r["consequent"]): r["status"] for r in only_redundant.collect()}
    assert statuses == {
        (("a",), "b"): "kept", (("e",), "b"): "kept", (("a", "e"), "b"): "redundant",
        (("a",), "e"): "kept", (("b",), "e"): "kept", (("a", "b"), "e"): "kept",
        (("a",), "d"): "kept", (("b", "c"), "d"): "kept", (("a", "b", "c"), "d"): "redundant",
        (("a", "b", "c"), "x"): "kept",
    }
