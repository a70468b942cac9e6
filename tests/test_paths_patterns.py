"""lib.paths.patterns on a hand-made sequence database: PrefixSpan counts, next-step confidence,
lift against the next step's base rate, Fisher p-values with BH, and the status column."""

from __future__ import annotations

from chispa import assert_approx_df_equality
from scipy.stats import hypergeom

from lib.paths.patterns import PathPruningParams, PatternParams, purchase_paths
from lib.schemas.paths import PURCHASE_PATHS_SCHEMA

# 12 x <x, y>, 12 x <z>, 3 x <z, x>, 1 x <y>, 1 x <{x, y}> (one basket: not a path x > y): n = 29.
DATABASE = [[["x"], ["y"]]] * 12 + [[["z"]]] * 12 + [[["z"], ["x"]]] * 3 + [[["y"]]] + [[["y", "x"]]]
N = len(DATABASE)


def fisher(n_ab: int, n_a: int, n_b: int, n: int) -> float:
    return float(hypergeom.sf(n_ab - 1, n, n_b, n_a))


def test_paths_counts_metrics_and_status(spark):
    sequences = spark.createDataFrame([(s,) for s in DATABASE], "steps array<array<string>>")
    actual = purchase_paths(
        sequences, N, PatternParams(min_count=3, max_pattern_length=3, fdr_buckets=4),
        PathPruningParams(privacy_min_count=5, fdr_alpha=0.05).as_rules_pruning(),
    )
    # Counts: <x> 16, <y> 14, <z> 15, <x,y> 12, <z,x> 3; <{x,y}> and <z,x,y> fall below 3.
    p_xy, p_zx = fisher(12, 16, 14, N), fisher(3, 15, 16, N)
    low, high = sorted([p_xy, p_zx])
    adjusted = {low: min(1.0, low * 2, high), high: min(1.0, high)}  # BH over the two candidates
    rows = [
        ([["x"], ["y"]], 2, [["x"]], ["y"], 12, 16, 14, N, 12 / N, 12 / 16, (12 / 16) / (14 / N), p_xy,
         adjusted[p_xy], "kept"),
        ([["z"], ["x"]], 2, [["z"]], ["x"], 3, 15, 16, N, 3 / N, 3 / 15, (3 / 15) / (16 / N), p_zx,
         adjusted[p_zx], "privacy"),  # privacy first: 3 sequences < 5, whatever its p-value
    ]
    without_dt = PURCHASE_PATHS_SCHEMA.fieldNames()[:-1]
    expected = spark.createDataFrame(rows, PURCHASE_PATHS_SCHEMA.__class__(PURCHASE_PATHS_SCHEMA.fields[:-1]))
    assert p_xy < 0.01  # the hand data make x > y clearly significant
    assert_approx_df_equality(actual.select(*without_dt), expected, 1e-9, ignore_row_order=True,
                              ignore_nullable=True)


def test_not_significant_when_privacy_is_off(spark):
    sequences = spark.createDataFrame([(s,) for s in DATABASE], "steps array<array<string>>")
    statuses = purchase_paths(
        sequences, N, PatternParams(min_count=3, max_pattern_length=2),
        PathPruningParams(privacy=False).as_rules_pruning(),
    ).select("next_step", "status")
    assert sorted(map(tuple, statuses.collect())) == [(["x"], "not_significant"), (["y"], "kept")]
