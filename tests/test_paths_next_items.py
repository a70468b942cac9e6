""""Bought after" on hand-made baskets: first purchase as anchor, eligibility N days before the end,
same-day later baskets, the same item and the anchor basket excluded, gaps beyond N, ranking."""

from __future__ import annotations

import datetime as dt

from chispa import assert_approx_df_equality, assert_df_equality

from builders import basket_row
from lib.paths.next_items import NextItemsParams, next_items, transition_counts
from lib.paths.patterns import PathPruningParams
from lib.schemas.paths import USER_BASKETS_SCHEMA

AS_OF = dt.date(2024, 3, 31)


def basket(user: str, seq: int, day: int, items: str, hour: int = 12) -> tuple:
    return basket_row(user, seq, dt.datetime(2024, 3, day, hour), sorted(items))


BASKETS = [
    basket("u1", 1, 1, "ab"),
    basket("u1", 2, 3, "c"),
    basket("u1", 3, 5, "ad"),  # a again: not "a bought after a"
    basket("u1", 4, 20, "e"),  # 19 days after a, 17 after c: beyond N = 7
    basket("u2", 1, 2, "a", hour=9),
    basket("u2", 2, 2, "c", hour=18),  # a later basket the same day: 0 days
    basket("u2", 3, 8, "b"),
    basket("u3", 1, 28, "a"),  # anchors after Mar 24 are not eligible (their 7 days are not over)
    basket("u3", 2, 29, "c"),
    basket("u4", 1, 10, "b"),  # a single basket
]
COLUMNS = "item_id string, next_item_id string, n_ab long, n_a long, n_b long, n long, confidence double, " \
          "lift double, median_days int"


def pair(a: str, b: str, n_ab: int, n_a: int, n_b: int, days: int) -> tuple:
    return (a, b, n_ab, n_a, n_b, 4, n_ab / n_a, (n_ab / n_a) / (n_b / 4), days)


def test_transition_counts_by_hand(spark):
    baskets = spark.createDataFrame(BASKETS, USER_BASKETS_SCHEMA)
    actual = transition_counts(baskets, AS_OF, within_days=7, min_count=1)
    # eligible users per item (n_a): a u1 u2, b u1 u2 u4, c u1 u2, d u1, e u1; buyers (n_b): a 3, b 3, c 3, d 1
    expected = spark.createDataFrame(
        [
            pair("a", "c", 2, 2, 3, 0),  # u1 after 2 days, u2 after 0: approximate median = the lower
            pair("a", "d", 1, 2, 1, 4),
            pair("a", "b", 1, 2, 3, 6),
            pair("b", "c", 1, 3, 3, 2),
            pair("b", "a", 1, 3, 3, 4),
            pair("b", "d", 1, 3, 1, 4),
            pair("c", "a", 1, 2, 3, 2),
            pair("c", "d", 1, 2, 1, 2),
            pair("c", "b", 1, 2, 3, 6),
        ],
        COLUMNS,
    )
    assert_approx_df_equality(actual, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)
    at_least_two = transition_counts(baskets, AS_OF, within_days=7, min_count=2)
    assert_approx_df_equality(at_least_two, spark.createDataFrame([pair("a", "c", 2, 2, 3, 0)], COLUMNS), 1e-12,
                              ignore_nullable=True)


def test_next_items_rank_kept_first_then_by_metric(spark):
    baskets = spark.createDataFrame(BASKETS, USER_BASKETS_SCHEMA)
    params = NextItemsParams(within_days=7, min_count=1, top_k=2, metric="lift")
    pruning = PathPruningParams(privacy_min_count=2, fdr=False).as_rules_pruning()
    actual = next_items(baskets, AS_OF, params, pruning).select("item_id", "rank", "next_item_id", "within_days",
                                                                 "status")
    expected = spark.createDataFrame(
        [
            ("a", 1, "c", 7, "kept"),  # lift 4/3 but the only kept pair
            ("a", 2, "d", 7, "privacy"),  # lift 2 > a -> b's 2/3
            ("b", 1, "d", 7, "privacy"),  # lift 4/3
            ("b", 2, "a", 7, "privacy"),  # ties with b -> c at 4/9: next_item_id ascending
            ("c", 1, "d", 7, "privacy"),
            ("c", 2, "a", 7, "privacy"),
        ],
        "item_id string, rank int, next_item_id string, within_days int, status string",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
