"""Popularity, buy-again, co-occurrence (with the basket fallback) and cold start on tiny data."""

from __future__ import annotations

import datetime as dt

from chispa import assert_approx_df_equality, assert_df_equality

from lib.recs.baselines import (
    bought_together_from_baskets,
    recommend_buy_again,
    recommend_co_occurrence,
    recommend_cold_start,
    recommend_popularity,
)
from lib.schemas.recs import BOUGHT_TOGETHER_INPUT_SCHEMA
from builders import event, events_frame, items_frame, recs_frame, users_frame

AS_OF = dt.date(2024, 3, 10)


def test_popularity_gives_every_user_the_window_best_sellers(spark):
    events = events_frame(
        spark,
        [
            event("e1", "2024-03-10", "u1", "i1", "purchase", order="o1"),
            event("e2", "2024-03-09", "u2", "i1", "purchase", order="o2"),
            event("e3", "2024-03-04", "u3", "i1", "purchase", order="o3"),  # first day of the window
            event("e4", "2024-03-08", None, "i2", "purchase", order="o4"),  # anonymous sales count
            event("e5", "2024-03-08", "u1", "i2", "purchase", order="o5"),
            event("e6", "2024-03-07", "u1", "i3", "purchase", order="o6"),
            event("e7", "2024-03-07", "u2", "i3", "purchase", order="o7"),
            event("e8", "2024-03-10", "u1", "i4", "view"),
            event("e9", "2024-03-10", "u1", "i4", "view"),
            event("e10", "2024-03-03", "u1", "i4", "purchase", order="o8"),  # before the window
            event("e11", "2024-03-03", "u2", "i4", "purchase", order="o9"),
            event("e12", "2024-03-03", "u3", "i4", "purchase", order="o10"),
            event("e13", "2024-03-03", "u4", "i4", "purchase", order="o11"),
            event("e14", "2024-03-11", "u1", "i5", "purchase", order="o12"),  # after as_of
            event("e15", "2024-03-11", "u2", "i5", "purchase", order="o13"),
            event("e16", "2024-03-11", "u3", "i5", "purchase", order="o14"),
            event("e17", "2024-03-11", "u4", "i5", "purchase", order="o15"),
        ],
    )
    users = users_frame(spark, ["u1", "u9", None, "u1"])
    result = recommend_popularity(events, users, AS_OF, window_days=7, k=2)
    expected = recs_frame(
        spark,
        [  # i1: 3 sales; i2 and i3: 2 each, tie broken by item_id
            ("u1", 1, "i1", 3.0, "popularity"),
            ("u1", 2, "i2", 2.0, "popularity"),
            ("u9", 1, "i1", 3.0, "popularity"),
            ("u9", 2, "i2", 2.0, "popularity"),
        ],
    )
    assert_df_equality(result, expected, ignore_row_order=True, ignore_nullable=True)


def test_buy_again_ranks_own_purchases_by_decayed_count_net_of_returns(spark):
    events = events_frame(
        spark,
        [
            event("e1", "2024-03-10", "u1", "i1", "purchase", order="o1"),  # 1
            event("e2", "2024-03-09", "u1", "i1", "purchase", order="o2"),  # 0.5
            event("e3", "2024-03-08", "u1", "i2", "purchase", order="o3"),  # 0.25
            event("e4", "2024-03-10", "u1", "i3", "purchase", order="o4"),  # 1 ...
            event("e5", "2024-03-10", "u1", "i3", "return", order="o4"),  # ... - 1 = 0: not recommended
            event("e6", "2024-03-10", "u1", "i4", "view"),  # views are not purchases
            event("e7", "2024-03-11", "u1", "i5", "purchase", order="o5"),  # after as_of
            event("e8", "2024-03-07", "u2", "i4", "purchase", order="o6"),  # 0.125
            event("e9", "2024-03-10", "u4", "i4", "purchase", order="o7"),  # u4 not asked for
        ],
    )
    users = users_frame(spark, ["u1", "u2", "u3"])  # u3 bought nothing: no rows
    result = recommend_buy_again(events, users, AS_OF, k=2, half_life_days=1.0)
    expected = recs_frame(
        spark,
        [
            ("u1", 1, "i1", 1.5, "buy_again"),
            ("u1", 2, "i2", 0.25, "buy_again"),
            ("u2", 1, "i4", 0.125, "buy_again"),
        ],
    )
    assert_approx_df_equality(result, expected, precision=1e-9, ignore_row_order=True, ignore_nullable=True)


def test_co_occurrence_sums_companion_scores_of_recent_purchases(spark):
    events = events_frame(
        spark,
        [
            event("e1", "2024-03-01", "u1", "a", "purchase", order="o1"),
            event("e2", "2024-03-05", "u1", "b", "purchase", order="o2"),
            event("e3", "2024-02-28", "u1", "x", "purchase", order="o3"),  # third most recent: not a seed
            event("e4", "2024-03-05", "u2", "c", "purchase", order="o4"),
            event("e5", "2024-03-05", "u3", "z", "purchase", order="o5"),  # z has no companions
            event("e6", "2024-03-09", "u2", "a", "view"),  # views are not seeds
        ],
    )
    bought_together = spark.createDataFrame(
        [("a", "b", 3.0), ("a", "c", 1.0), ("b", "c", 2.0), ("b", "a", 3.0), ("c", "d", 5.0), ("x", "e", 9.0)],
        BOUGHT_TOGETHER_INPUT_SCHEMA,
    )
    users = users_frame(spark, ["u1", "u2", "u3"])
    result = recommend_co_occurrence(events, users, bought_together, k=2, recent_items_n=2)
    expected = recs_frame(
        spark,
        [  # u1's seeds a, b: c = 1 + 2; a and b are seeds themselves
            ("u1", 1, "c", 3.0, "co_occurrence"),
            ("u2", 1, "d", 5.0, "co_occurrence"),
        ],
    )
    assert_df_equality(result, expected, ignore_row_order=True, ignore_nullable=True)


def test_bought_together_from_baskets_counts_pairs_of_bounded_baskets(spark):
    events = events_frame(
        spark,
        [
            event("e1", "2024-03-01", "u1", "a", "purchase", order="o1"),
            event("e2", "2024-03-01", "u1", "b", "purchase", order="o1"),
            event("e3", "2024-03-01", "u1", "c", "purchase", order="o1"),
            event("e4", "2024-03-02", "u2", "a", "purchase", order="o2"),
            event("e5", "2024-03-02", "u2", "b", "purchase", order="o2"),
            event("e6", "2024-03-02", "u2", "b", "purchase", order="o2"),  # repeated line: one basket item
            event("e7", "2024-03-03", "u3", "a", "purchase"),  # no order: the user's day is the basket
            event("e8", "2024-03-03", "u3", "d", "purchase", hour=18),
            event("e9", "2024-03-03", None, "a", "purchase"),  # neither order nor user: no basket
            event("e10", "2024-03-03", None, "e", "purchase"),
            event("e11", "2024-03-04", "u4", "a", "purchase", order="o4"),  # 4 items > max 3
            event("e12", "2024-03-04", "u4", "b", "purchase", order="o4"),
            event("e13", "2024-03-04", "u4", "e", "purchase", order="o4"),
            event("e14", "2024-03-04", "u4", "f", "purchase", order="o4"),
            event("e15", "2024-03-04", "u4", "c", "view"),
        ],
    )
    result = bought_together_from_baskets(events, top_n=2, max_basket_items=3)
    expected = spark.createDataFrame(
        [
            ("a", "b", 2.0), ("a", "c", 1.0),  # a-d also 1, cut by top_n (tie: c < d)
            ("b", "a", 2.0), ("b", "c", 1.0),
            ("c", "a", 1.0), ("c", "b", 1.0),
            ("d", "a", 1.0),
        ],
        BOUGHT_TOGETHER_INPUT_SCHEMA,
    )
    assert_df_equality(result, expected, ignore_row_order=True, ignore_nullable=True)


def test_cold_start_uses_categories_of_viewed_items_then_global_best_sellers(spark):
    sales = [("i1", 3), ("i2", 1), ("i3", 5), ("i4", 2), ("i5", 4)]
    events = events_frame(
        spark,
        [
            event(f"s-{item}-{n}", "2024-03-09", None, item, "purchase", order=f"o-{item}-{n}")
            for item, count in sales
            for n in range(count)
        ]
        + [
            event("v1", "2024-03-10", "u1", "i2", "view"),  # category X
            event("v2", "2024-03-10", "u3", "i5", "view"),  # item without category
            event("v3", "2024-03-11", "u3", "i4", "view"),  # after as_of: not used
        ],
    )
    items = items_frame(spark, [("i1", "X"), ("i2", "X"), ("i3", "Y"), ("i4", "Y"), ("i5", None)])
    users = users_frame(spark, ["u1", "u2", "u3"])
    result = recommend_cold_start(events, items, users, AS_OF, window_days=7, k=3)
    expected = recs_frame(
        spark,
        [
            ("u1", 1, "i1", 3.0, "cold_start_category"),
            ("u1", 2, "i2", 1.0, "cold_start_category"),
            ("u1", 3, "i3", 5.0, "cold_start_popular"),
            ("u2", 1, "i3", 5.0, "cold_start_popular"),
            ("u2", 2, "i5", 4.0, "cold_start_popular"),
            ("u2", 3, "i1", 3.0, "cold_start_popular"),
            ("u3", 1, "i3", 5.0, "cold_start_popular"),
            ("u3", 2, "i5", 4.0, "cold_start_popular"),
            ("u3", 3, "i1", 3.0, "cold_start_popular"),
        ],
    )
    assert_df_equality(result, expected, ignore_row_order=True, ignore_nullable=True)
