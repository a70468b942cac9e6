"""lib.recs.evaluation: the time split, the truth views and slices, the counts, the grids, no leakage."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_df_equality

from builders import purchases_frame
from lib.recs import evaluation as E
from lib.recs.serving import DEFAULT_SOURCES, HybridSettings, RecommenderConfig, candidate_lists
from lib.recs.tuned import apply_tuned

D = dt.date


events_frame = purchases_frame


WINDOW = E.SplitWindow("final", None, D(2024, 1, 15), D(2024, 1, 16), D(2024, 1, 20))

ROWS = [
    ("u1", "A", "purchase", "2024-01-02", "o1"),
    ("u1", "B", "view", "2024-01-03", None),
    ("u2", "A", "view", "2024-01-05", None),  # u2 is seen in training through a view only
    ("u5", "E", "purchase", "2024-01-10", "o2"),  # bought in training, nothing in test
    ("u1", "A", "purchase", "2024-01-17", "o3"),  # repeat purchase: 'all' slice only
    ("u1", "C", "purchase", "2024-01-18", "o4"),
    ("u1", "C", "purchase", "2024-01-19", "o5"),  # the same pair twice counts once
    ("u1", "D", "view", "2024-01-17", None),  # not a purchase
    ("u2", "B", "purchase", "2024-01-16", "o6"),
    ("u3", "A", "purchase", "2024-01-16", "o7"),  # u3 unseen in training
    (None, "A", "purchase", "2024-01-17", "o8"),  # anonymous
    ("u4", "B", "purchase", "2024-01-21", "o9"),  # after the test days
]


def test_split_windows_online_retail_layout():
    tuning, final = E.split_windows(D(2011, 12, 9), horizon_days=70, train_days=0, tuning_horizon_days=30)
    assert final == E.SplitWindow("final", None, D(2011, 9, 30), D(2011, 10, 1), D(2011, 12, 9))
    assert tuning == E.SplitWindow("tuning", None, D(2011, 8, 31), D(2011, 9, 1), D(2011, 9, 30))


def test_split_windows_with_training_length_and_without_tuning():
    (final,) = E.split_windows(D(2024, 1, 20), horizon_days=5, train_days=10)
    assert final == E.SplitWindow("final", D(2024, 1, 6), D(2024, 1, 15), D(2024, 1, 16), D(2024, 1, 20))


@pytest.mark.parametrize(
    "args, message",
    [((0, 0, 0), "horizon_days"), ((5, -1, 0), "train_days"), ((5, 0, -3), "tuning_horizon_days")],
)
def test_split_windows_rejects_bad_lengths(args, message):
    with pytest.raises(ValueError, match=message):
        E.split_windows(D(2024, 1, 20), *args)


def test_truth_slices(spark):
    events = events_frame(spark, ROWS)
    truth = E.truth_all(events, WINDOW)
    expected_all = spark.createDataFrame([("u1", "A"), ("u1", "C"), ("u2", "B")], "user_id string, item_id string")
    assert_df_equality(truth, expected_all, ignore_row_order=True, ignore_nullable=True)
    training = E.filter_training(events, WINDOW)
    new = E.truth_new_items(truth, training)
    expected_new = spark.createDataFrame([("u1", "C"), ("u2", "B")], "user_id string, item_id string")
    assert_df_equality(new, expected_new, ignore_row_order=True, ignore_nullable=True)
    # cold items: nobody bought them in training (A and E were bought)
    cold = E.truth_cold_items(truth, training)
    assert_df_equality(cold, expected_new, ignore_row_order=True, ignore_nullable=True)


def test_next_basket_is_each_users_first_basket_after_the_split(spark):
    rows = ROWS + [("u2", "D", "purchase", "2024-01-16", "o6"), ("u2", "E", "purchase", "2024-01-17", None),
                   ("u5", "F", "purchase", "2024-01-18", None), ("u5", "G", "purchase", "2024-01-18", None)]
    actual = E.truth_next_basket(events_frame(spark, rows), WINDOW)
    # u1: o3 (A), not o4/o5; u2: o6 (B, D), not the later order-less E; u5: the order-less day basket
    expected = spark.createDataFrame([("u1", "A"), ("u2", "B"), ("u2", "D"), ("u5", "F"), ("u5", "G")],
                                     "user_id string, item_id string")
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_split_counts_report_what_cannot_be_evaluated(spark):
    counts = E.split_counts(events_frame(spark, ROWS), WINDOW)
    assert counts == {
        "test_purchase_lines": 6,
        "anonymous_lines": 1,
        "unseen_user_lines": 1,
        "evaluated_users": 2,
    }


def test_training_window_start_is_respected(spark):
    window = E.SplitWindow("final", D(2024, 1, 4), D(2024, 1, 15), D(2024, 1, 16), D(2024, 1, 20))
    kept = E.filter_training(events_frame(spark, ROWS), window).select("event_id")
    expected = spark.createDataFrame([("e2",), ("e3",)], "event_id string")
    assert_df_equality(kept, expected, ignore_row_order=True, ignore_nullable=True)


def test_discovery_list_drops_bought_items_and_reranks(spark):
    recs = spark.createDataFrame(
        [("u1", 1, "A", 0.9, "m"), ("u1", 2, "C", 0.5, "m"), ("u1", 3, "B", 0.4, "m"), ("u2", 1, "A", 1.0, "m")],
        "user_id string, rank int, item_id string, score double, source string",
    )
    bought = spark.createDataFrame([("u1", "A"), ("u9", "C")], "user_id string, item_id string")
    expected = spark.createDataFrame(
        [("u1", 1, "C", 0.5, "m"), ("u1", 2, "B", 0.4, "m"), ("u2", 1, "A", 1.0, "m")],
        "user_id string, rank int, item_id string, score double, source string",
    )
    actual = E.discovery_list(recs, bought, 2)
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_no_leakage_test_days_do_not_change_the_baselines(spark):
    """Adding a flood of test-day (and later) events changes no baseline's lists."""
    settings = RecommenderConfig(k=5, candidate_depth=5, popularity_window_days=30)
    sources = ("popularity", "buy_again", "co_occurrence")
    base = ROWS + [("u2", "C", "purchase", "2024-01-08", "o10"), ("u5", "A", "purchase", "2024-01-09", "o11")]
    # test-day purchases by users already evaluated, by a new user and anonymously; and later ones
    flood = [
        (u, "Z", "purchase", day, f"z{u}{day}")
        for u in ("u1", "u2", "u7", None)
        for day in ("2024-01-16", "2024-01-20", "2024-01-25")
    ]
    clean = E.prepare_window(events_frame(spark, base), WINDOW)
    flooded = E.prepare_window(events_frame(spark, base + flood), WINDOW)
    lists = candidate_lists(E.window_context(clean, settings, {}), DEFAULT_SOURCES, sources)
    flooded_lists = candidate_lists(E.window_context(flooded, settings, {}), DEFAULT_SOURCES, sources)
    for name, recs in lists.items():
        assert_df_equality(flooded_lists[name], recs, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(flooded.training, clean.training, ignore_row_order=True)


def test_grids_expand_to_cartesian_points_without_all_zero_blends():
    grid = E.HybridGrid(weights={"buy_again": (0.0, 1.0), "co_occurrence": (0.0, 0.5)}, normalisation=("rank",))
    names = ("als", "buy_again", "co_occurrence")
    points = [dict(p.weights) for p in grid.points(names)]
    assert points == [
        {"als": 1.0, "buy_again": 0.0, "co_occurrence": 0.0},  # the single sources first
        {"als": 0.0, "buy_again": 1.0, "co_occurrence": 0.0},
        {"als": 0.0, "buy_again": 0.0, "co_occurrence": 1.0},
        {"als": 0.0, "buy_again": 1.0, "co_occurrence": 0.5},  # 0/0.5 and 1/0 are singles again
    ]
    points = E.AlsGrid(rank=(8, 16), reg_param=(0.1,), alpha=(1.0, 5.0)).points(E.AlsParams(max_iter=3))
    assert [(p.rank, p.reg_param, p.alpha, p.max_iter) for p in points] == [
        (8, 0.1, 1.0, 3), (8, 0.1, 5.0, 3), (16, 0.1, 1.0, 3), (16, 0.1, 5.0, 3)
    ]


def test_the_selected_tuned_parameters_are_what_the_als_job_serves():
    settings = RecommenderConfig()
    hybrid = HybridSettings({"als": 0.3, "buy_again": 1.0, "co_occurrence": 0.0, "popularity": 0.1}, "minmax")
    params = E.params_json("hybrid", settings, E.AlsParams(rank=64, reg_param=0.2, alpha=40.0), hybrid)
    import json

    tuned = apply_tuned(settings, {"hybrid": {"parameters": json.loads(params), "run_id": "r"}})
    assert (tuned.als.rank, tuned.als.reg_param, tuned.als.alpha, tuned.als.max_iter) == (64, 0.2, 40.0, 10)
    assert tuned.hybrid == hybrid and tuned.serve == settings.serve and tuned.k == settings.k
    assert apply_tuned(settings, {}) == settings


def test_comparison_table_shows_selected_final_rows():
    def row(model, slice_, metric, value, window="final", selected=True):
        return dict(window=window, selected=selected, model=model, slice=slice_, metric=metric, value=value, k=10)

    rows = [
        row("popularity", "all", "ndcg", 0.1283), row("popularity", "new_items", "ndcg", 0.0697),
        row("hybrid", "all", "ndcg", 0.3397), row("hybrid", "new_items", "ndcg", None),
        row("hybrid", "all", "ndcg", 0.9, selected=False), row("hybrid", "all", "ndcg", 0.8, window="tuning"),
    ]
    assert E.comparison_table(rows, "final", ["ndcg"]).splitlines() == [
        "[window]              all  new_items",
        "model             ndcg@10    ndcg@10",
        "popularity         0.1283     0.0697",
        "hybrid             0.3397          -",
    ]
