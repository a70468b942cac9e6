"""Rule trends between two run dates: appeared, vanished, strengthened, weakened, stable."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.rules.trends import erfc_nonnegative, rule_trends
from lib.schemas.report import RULE_TRENDS_SCHEMA

D, PREV = dt.date(2024, 3, 31), dt.date(2024, 3, 24)
RULES = T.StructType(
    [
        T.StructField("antecedent", T.ArrayType(T.StringType()), False),
        T.StructField("consequent", T.StringType(), False),
        T.StructField("antecedent_titles", T.ArrayType(T.StringType()), False),
        T.StructField("consequent_title", T.StringType(), True),
        T.StructField("status", T.StringType(), False),
        T.StructField("n_ab", T.LongType(), False),
        T.StructField("n", T.LongType(), False),
        T.StructField("support", T.DoubleType(), False),
        T.StructField("confidence", T.DoubleType(), False),
        T.StructField("lift", T.DoubleType(), False),
    ]
)
N_NOW, N_PREV = 1000, 800


def rule(ante, cons, status, n_ab, n, conf, lift, title="T"):
    return (ante, cons, [a.upper() for a in ante], title, status, n_ab, n, n_ab / n, conf, lift)


CURRENT = [
    rule(["a"], "b", "kept", 50, N_NOW, 0.5, 3.0),  # appeared (not mined before)
    rule(["a"], "z", "kept", 20, N_NOW, 0.4, 5.0),  # appeared, larger lift change: ranked first
    rule(["c"], "d", "privacy", 3, N_NOW, 0.2, 1.1, title=None),  # vanished: pruned now; title from then
    rule(["e"], "f", "kept", 60, N_NOW, 0.6, 2.5),  # strengthened
    rule(["g", "h"], "i", "kept", 30, N_NOW, 0.3, 1.6),  # stable
    rule(["j"], "k", "kept", 30, N_NOW, 0.3, 3.0),  # weakened
    rule(["x"], "y", "not_significant", 12, N_NOW, 0.1, 1.2),  # kept on neither date: left out
]
PREVIOUS = [
    rule(["c"], "d", "kept", 40, N_PREV, 0.5, 2.5, title="Dates"),
    rule(["e"], "f", "kept", 20, N_PREV, 0.3, 2.0),
    rule(["g", "h"], "i", "kept", 24, N_PREV, 0.3, 1.5),
    rule(["j"], "k", "kept", 64, N_PREV, 0.6, 4.0),
    rule(["x"], "y", "redundant", 10, N_PREV, 0.1, 1.2),
    rule(["q"], "r", "kept", 16, N_PREV, 0.4, 2.2),  # vanished: not mined now
]


def z_and_p(x1, n1, x0, n0):
    pooled = (x1 + x0) / (n1 + n0)
    z = (x1 / n1 - x0 / n0) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    return z, math.erfc(abs(z) / math.sqrt(2))


def expected_row(ante, cons, change, rank, now, then, title="T"):
    """`now`/`then`: (status, n_ab, confidence, lift) or None when not mined on that date."""
    x1 = now[1] if now else 0
    x0 = then[1] if then else 0
    z, p = z_and_p(x1, N_NOW, x0, N_PREV)
    support = now[1] / N_NOW if now else None
    previous_support = then[1] / N_PREV if then else None
    return (
        ante, cons, [a.upper() for a in ante], title, change, rank,
        now[0] if now else None, then[0] if then else None, now[1] if now else None, then[1] if then else None,
        N_NOW, N_PREV, support, previous_support, (support or 0.0) - (previous_support or 0.0),
        now[2] if now else None, then[2] if then else None, now[3] if now else None, then[3] if then else None,
        (now[3] if now else 1.0) - (then[3] if then else 1.0), z, p, p < 0.05, PREV, D,
    )


def test_rule_trends_classifies_ranks_and_tests_each_rule_kept_on_either_date(spark):
    current = spark.createDataFrame(CURRENT, RULES)
    previous = spark.createDataFrame(PREVIOUS, RULES)
    actual = rule_trends(current, previous, D, PREV, alpha=0.05)
    expected = spark.createDataFrame(
        [
            expected_row(["a"], "z", "appeared", 1, ("kept", 20, 0.4, 5.0), None),
            expected_row(["a"], "b", "appeared", 2, ("kept", 50, 0.5, 3.0), None),
            expected_row(["c"], "d", "vanished", 1, ("privacy", 3, 0.2, 1.1), ("kept", 40, 0.5, 2.5), title="Dates"),
            expected_row(["q"], "r", "vanished", 2, None, ("kept", 16, 0.4, 2.2)),
            expected_row(["e"], "f", "strengthened", 1, ("kept", 60, 0.6, 2.5), ("kept", 20, 0.3, 2.0)),
            expected_row(["j"], "k", "weakened", 1, ("kept", 30, 0.3, 3.0), ("kept", 64, 0.6, 4.0)),
            expected_row(["g", "h"], "i", "stable", 1, ("kept", 30, 0.3, 1.6), ("kept", 24, 0.3, 1.5)),
        ],
        RULE_TRENDS_SCHEMA,
    )
    assert [(f.name, f.dataType) for f in actual.schema] == [(f.name, f.dataType) for f in RULE_TRENDS_SCHEMA]
    assert_approx_df_equality(actual, expected, precision=1e-6, ignore_row_order=True, ignore_nullable=True)


def test_rule_trends_without_a_previous_date_marks_everything_appeared_and_untested(spark):
    current = spark.createDataFrame(CURRENT[:2], RULES)
    previous = spark.createDataFrame([], RULES)
    rows = rule_trends(current, previous, D, PREV, alpha=0.05).orderBy("rank").collect()  # 2 rows
    assert [(r["consequent"], r["change"], r["rank"], r["previous_n"], r["z"], r["significant"]) for r in rows] == [
        ("z", "appeared", 1, None, None, False),
        ("b", "appeared", 2, None, None, False),
    ]


def test_erfc_approximation_is_within_its_bound(spark):
    points = [0.0, 0.1, 0.5, 1.0, 2.0, 3.5, 6.0]
    frame = spark.createDataFrame([(x,) for x in points], "x double")
    rows = frame.select("x", erfc_nonnegative(F.col("x")).alias("erfc")).collect()  # 7 rows
    for row in rows:
        assert abs(row["erfc"] - math.erfc(row["x"])) < 1.5e-7, row


def test_rule_trends_rejects_an_alpha_outside_the_unit_interval(spark):
    frame = spark.createDataFrame([], RULES)
    with pytest.raises(ValueError, match="alpha"):
        rule_trends(frame, frame, D, PREV, alpha=1.5)
