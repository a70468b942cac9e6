"""The next-purchase recommender: seeds from the latest baskets decayed by age, scores through
transitions and behaviour neighbours (by hand), and the whole function on hand-made events."""

from __future__ import annotations

import datetime as dt

from chispa import assert_approx_df_equality

from builders import basket_row, event_at
from lib.paths.recommend import NextPurchaseParams, recommend_next_purchase, score_next_purchase, seed_items
from lib.schemas.events import EVENTS_SCHEMA
from lib.schemas.paths import USER_BASKETS_SCHEMA
from lib.schemas.recs import RECOMMENDATIONS_SCHEMA

AS_OF = dt.date(2024, 3, 31)


def basket(user: str, seq: int, day: dt.date, items: list[str]) -> tuple:
    return basket_row(user, seq, dt.datetime.combine(day, dt.time(12)), items)


def test_seed_items_from_the_latest_baskets_decayed(spark):
    baskets = spark.createDataFrame(
        [
            basket("u1", 1, dt.date(2024, 3, 1), ["a", "z"]),  # beyond the 2 latest baskets
            basket("u1", 2, dt.date(2024, 3, 21), ["a", "b"]),  # 10 days old: weight 0.5
            basket("u1", 3, AS_OF, ["c"]),  # today: weight 1
            basket("u2", 1, dt.date(2024, 3, 11), ["d"]),  # 20 days: 0.25
            basket("u2", 2, dt.date(2024, 4, 2), ["e"]),  # after as_of: not a seed
            basket("u3", 1, AS_OF, ["f"]),  # not asked for
        ],
        USER_BASKETS_SCHEMA,
    )
    users = spark.createDataFrame([("u1",), ("u2",), ("u9",), (None,)], "user_id string")
    actual = seed_items(baskets, users, AS_OF, recent_baskets=2, half_life_days=10.0)
    expected = spark.createDataFrame(
        [("u1", "a", 0.5), ("u1", "b", 0.5), ("u1", "c", 1.0), ("u2", "d", 0.25)],
        "user_id string, seed_item_id string, weight double",
    )
    assert_approx_df_equality(actual, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)


def test_scores_combine_transitions_and_neighbours(spark):
    seeds = spark.createDataFrame([("u1", "a", 1.0), ("u1", "b", 0.5), ("u2", "c", 1.0)],
                                  "user_id string, seed_item_id string, weight double")
    transitions = spark.createDataFrame(
        [("a", "x", 0.5), ("a", "b", 0.4), ("b", "x", 0.2), ("b", "y", 0.6), ("c", "a", 0.3)],
        "item_id string, next_item_id string, confidence double",
    )
    similar = spark.createDataFrame([("a", "y", 0.8), ("b", "z", 0.5), ("c", "x", -0.2)],
                                    "item_id string, similar_item_id string, score double")
    params = NextPurchaseParams(transition_weight=1.0, embedding_weight=0.4, exclude_seed_items=True)
    actual = score_next_purchase(seeds, transitions, similar, 3, params)
    # u1: T x = 0.5 + 0.5*0.2 = 0.6 (max), b = 0.4 (a seed: dropped), y = 0.3; E y = 0.8 (max), z = 0.25.
    # score x = 1, y = 0.3/0.6 + 0.4 * 1 = 0.9, z = 0.4 * 0.25/0.8 = 0.125. u2: a = 1 (a negative cosine adds nothing).
    expected = spark.createDataFrame(
        [("u1", 1, "x", 1.0, "next_purchase"), ("u1", 2, "y", 0.9, "next_purchase"),
         ("u1", 3, "z", 0.125, "next_purchase"), ("u2", 1, "a", 1.0, "next_purchase")],
        RECOMMENDATIONS_SCHEMA,
    )
    assert_approx_df_equality(actual, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_recommend_next_purchase_on_events(spark):
    def purchase(i: int, user: str, order: str, item: str, day: int) -> tuple:
        return event_at(f"e{i}", dt.datetime(2024, 3, day, 12), user, item, order)

    rows = [purchase(1, "u1", "o1", "a", 1), purchase(2, "u1", "o2", "b", 3),
            purchase(3, "u2", "o3", "a", 2), purchase(4, "u2", "o4", "b", 6), purchase(5, "u2", "o5", "c", 9),
            purchase(6, "u3", "o6", "a", 29),  # bought a lately: b is what comes next
            purchase(7, "u4", "o7", "c", 30)]  # c leads nowhere: no rows
    events = spark.createDataFrame(rows, EVENTS_SCHEMA)
    users = spark.createDataFrame([("u3",), ("u4",), ("u5",)], "user_id string")
    params = NextPurchaseParams(within_days=10, min_pair_count=2, embedding_weight=0.0)
    actual = recommend_next_purchase(events, users, AS_OF, 5, params)
    expected = spark.createDataFrame([("u3", 1, "b", 1.0, "next_purchase")], RECOMMENDATIONS_SCHEMA)
    assert_approx_df_equality(actual, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)
