"""Rule metrics, Fisher p-values and BH adjustment against values computed by hand."""

from __future__ import annotations

import random

import numpy as np
import pytest
from chispa import assert_approx_df_equality
from pyspark.sql import types as T

from lib.rules.metrics import with_rule_metrics
from lib.rules.significance import fisher_greater, with_bh_adjusted, with_p_value

COUNTS_SCHEMA = T.StructType(
    [
        T.StructField("rule", T.StringType(), False),
        T.StructField("n_ab", T.LongType(), False),
        T.StructField("n_a", T.LongType(), False),
        T.StructField("n_b", T.LongType(), False),
        T.StructField("n", T.LongType(), False),
    ]
)
METRIC_NAMES = [
    "support", "confidence", "lift", "antecedent_support", "consequent_support", "leverage", "conviction",
    "zhangs_metric", "jaccard", "kulczynski", "certainty_factor", "p_value",
]
EXPECTED_SCHEMA = T.StructType(
    [*COUNTS_SCHEMA.fields, *[T.StructField(name, T.DoubleType(), True) for name in METRIC_NAMES]]
)

# Six baskets: {a b c e} {a b e} {a b d} {b c} {a c} {d}. Counts: a 4, b 4, c 3, d 2, e 2; ab 3, ae 2.
# Every value below is worked out by hand (fractions written as such); p-values are hypergeometric
# upper tails P(X >= n_ab) with X ~ Hyp(N=n, K=n_b, draws=n_a), summed by hand over C(.,.) terms.
COUNTS = [
    ("a->b", 3, 4, 4, 6),  # positive association, confidence below 1
    ("e->a", 2, 2, 4, 6),  # confidence 1: conviction infinite (null)
    ("a->d", 1, 4, 2, 6),  # negative association
    ("a->c", 2, 4, 3, 6),  # independence: lift 1, leverage 0, certainty factor 0
    ("all->x", 3, 6, 3, 6),  # antecedent in every basket: Zhang's metric 0/0 (null)
]
EXPECTED = [
    # rule, counts, support, confidence, lift, s(a), s(b), leverage, conviction, zhang, jaccard, kulczynski, CF, p
    ("a->b", 3, 4, 4, 6, 1 / 2, 3 / 4, 9 / 8, 2 / 3, 2 / 3, 1 / 18, 4 / 3, 1 / 3, 3 / 5, 3 / 4, 1 / 4, 9 / 15),
    ("e->a", 2, 2, 4, 6, 1 / 3, 1.0, 3 / 2, 1 / 3, 2 / 3, 1 / 9, None, 1 / 2, 1 / 2, 3 / 4, 1.0, 6 / 15),
    ("a->d", 1, 4, 2, 6, 1 / 6, 1 / 4, 3 / 4, 2 / 3, 1 / 3, -1 / 18, 8 / 9, -1 / 2, 1 / 5, 3 / 8, -1 / 4, 14 / 15),
    ("a->c", 2, 4, 3, 6, 1 / 3, 1 / 2, 1.0, 2 / 3, 1 / 2, 0.0, 1.0, 0.0, 2 / 5, 7 / 12, 0.0, 12 / 15),
    ("all->x", 3, 6, 3, 6, 1 / 2, 1 / 2, 1.0, 1.0, 1 / 2, 0.0, 1.0, None, 1 / 2, 3 / 4, 0.0, 1.0),
]


def test_every_metric_matches_the_hand_computed_values(spark):
    counts = spark.createDataFrame(COUNTS, COUNTS_SCHEMA)
    actual = with_p_value(with_rule_metrics(counts)).select(*EXPECTED_SCHEMA.fieldNames())
    expected = spark.createDataFrame(EXPECTED, EXPECTED_SCHEMA)
    assert_approx_df_equality(actual, expected, precision=1e-12, ignore_row_order=True, ignore_nullable=True)


def test_fisher_p_value_matches_scipy_fisher_exact_on_a_large_table(spark):
    from scipy.stats import fisher_exact

    n_ab, n_a, n_b, n = 40, 300, 500, 88162
    table = [[n_ab, n_a - n_ab], [n_b - n_ab, n - n_a - n_b + n_ab]]
    expected = fisher_exact(table, alternative="greater").pvalue
    counts = spark.createDataFrame([("r", n_ab, n_a, n_b, n)], COUNTS_SCHEMA)
    actual = with_p_value(counts).select("p_value").first()[0]
    assert actual == pytest.approx(expected, rel=1e-9)
    assert actual < 1e-20  # 40 co-occurrences where 1.7 are expected


def test_fisher_tail_sums_equal_scipy_on_random_tables_from_tiny_to_retail_sized():
    """Every table shape: the tail above the mode, the one below it (1 - lower tail), the support's
    ends, p = 1 at or below the lowest possible count, and p-values down to 1e-300."""
    from scipy.stats import hypergeom

    rng = np.random.default_rng(7)
    rows = []
    for n in (1, 2, 5, 30, 1_000, 88_162):
        for _ in range(500):
            n_a, n_b = rng.integers(1, n + 1, size=2)
            low, high = max(0, n_a + n_b - n), min(n_a, n_b)
            rows += [(rng.integers(low, high + 1), n_a, n_b, n), (low, n_a, n_b, n), (high, n_a, n_b, n)]
    n_ab, n_a, n_b, n = (np.array(column) for column in zip(*rows))
    expected = np.clip(hypergeom.sf(n_ab - 1, n, n_b, n_a), 0.0, 1.0)
    actual = fisher_greater(n_ab, n_a, n_b, n)
    assert actual == pytest.approx(expected, rel=1e-9, abs=1e-300)
    assert actual[n_ab == np.maximum(0, n_a + n_b - n)] == pytest.approx(1.0, abs=1e-12)
    assert fisher_greater(np.array([], np.int64), *(np.array([], np.int64),) * 3).shape == (0,)


P_SCHEMA = T.StructType([T.StructField("rule", T.StringType(), False), T.StructField("p_value", T.DoubleType(), False)])
P_ADJ_SCHEMA = T.StructType([*P_SCHEMA.fields, T.StructField("p_adjusted", T.DoubleType(), True)])


@pytest.mark.parametrize("buckets", [2, 16])
def test_bh_adjustment_by_hand_with_ties(spark, buckets):
    # m = 5; sorted p: .01 (rank 1), .03 (2), .04 .04 (tied: rank 4), .5 (5).
    # p*m/rank: .05, .075, .05, .05, .5; running minimum from the top: .05 .05 .05 .05 .5.
    frame = spark.createDataFrame(
        [("r1", 0.01), ("r2", 0.04), ("r3", 0.03), ("r4", 0.04), ("r5", 0.5)], P_SCHEMA
    )
    expected = spark.createDataFrame(
        [("r1", 0.01, 0.05), ("r2", 0.04, 0.05), ("r3", 0.03, 0.05), ("r4", 0.04, 0.05), ("r5", 0.5, 0.5)],
        P_ADJ_SCHEMA,
    )
    actual = with_bh_adjusted(frame, buckets=buckets)
    assert_approx_df_equality(actual, expected, precision=1e-12, ignore_row_order=True, ignore_nullable=True)


def test_bh_adjustment_caps_at_one_and_handles_an_empty_frame(spark):
    frame = spark.createDataFrame([("r1", 0.9), ("r2", 0.95)], P_SCHEMA)
    # ranks 1, 2: .9*2/1 = 1.8 -> min(1.8, .95) = .95; .95*2/2 = .95
    expected = spark.createDataFrame([("r1", 0.9, 0.95), ("r2", 0.95, 0.95)], P_ADJ_SCHEMA)
    assert_approx_df_equality(with_bh_adjusted(frame, buckets=4), expected, precision=1e-12,
                              ignore_row_order=True, ignore_nullable=True)
    empty = spark.createDataFrame([], P_SCHEMA)
    assert with_bh_adjusted(empty, buckets=4).collect() == []


def reference_bh(pvalues: list[float]) -> list[float]:
    """The textbook step-up procedure in plain Python."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 1.0
    for position in range(m - 1, -1, -1):
        i = order[position]
        rank = max(r + 1 for r in range(m) if pvalues[order[r]] == pvalues[i])  # ties share the top rank
        running = min(running, pvalues[i] * m / rank)
        adjusted[i] = running
    return adjusted


def test_bucketed_bh_equals_the_textbook_procedure_on_random_pvalues(spark):
    rng = random.Random(7)
    pvalues = [round(rng.random() ** 3, 3) for _ in range(300)]  # skewed to small p, many ties
    rows = [(f"r{i}", p) for i, p in enumerate(pvalues)]
    expected = spark.createDataFrame(
        [(r, p, q) for (r, p), q in zip(rows, reference_bh(pvalues))], P_ADJ_SCHEMA
    )
    actual = with_bh_adjusted(spark.createDataFrame(rows, P_SCHEMA), buckets=7)
    assert_approx_df_equality(actual, expected, precision=1e-12, ignore_row_order=True, ignore_nullable=True)


def test_the_metric_columns_built_once_serve_every_frame_with_its_own_counts(spark):
    """`rule_metric_columns` is built once per process: two frames in turn, each with a part of the
    hand-computed rules, still get exactly their own values."""
    for part in (COUNTS[:2], COUNTS[2:]):
        names = {row[0] for row in part}
        actual = with_p_value(with_rule_metrics(spark.createDataFrame(part, COUNTS_SCHEMA)))
        expected = spark.createDataFrame([row for row in EXPECTED if row[0] in names], EXPECTED_SCHEMA)
        assert_approx_df_equality(actual.select(*EXPECTED_SCHEMA.fieldNames()), expected, precision=1e-12,
                                  ignore_row_order=True, ignore_nullable=True)
