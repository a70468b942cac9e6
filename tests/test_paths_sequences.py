"""lib.paths.sequences on hand-made events: null keys, same-day baskets, single-basket users, gaps
beyond max_gap_days (new episode), the basket caps and the counts of what they leave out."""

from __future__ import annotations

import datetime as dt

from chispa import assert_df_equality

from builders import event_at
from lib.paths.sequences import unplaced_purchases, user_baskets, user_sequences
from lib.schemas.events import EVENTS_SCHEMA
from lib.schemas.paths import SEQUENCES_SCHEMA, USER_BASKETS_SCHEMA


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2024, 3, day, hour)


def event(i: int, time: dt.datetime, user: str | None, order: str | None, item: str, kind: str = "purchase"):
    return event_at(f"e{i}", time, user, item, order, session="s", event_type=kind)


EVENTS = [
    event(1, at(1, 10), "u1", "o1", "b"),
    event(2, at(1, 10), "u1", "o1", "a"),
    event(3, at(1, 11), "u1", "o1", "a"),  # the same item twice in an order: once in the basket
    event(4, at(1, 15), "u1", "o2", "c"),  # a second basket the same day: gap 0
    event(5, at(5), "u1", "o3", "a"),  # gap 4
    event(6, at(20), "u1", "o4", "d"),  # gap 15 > max_gap_days 10: a new episode
    event(7, at(2), "u1", None, "c", kind="view"),  # not a purchase
    event(8, at(10), "u2", "o5", "b"),  # a user with a single basket
    event(9, at(10), None, "o6", "b"),  # no user: unplaced
    event(10, at(11), "u3", None, "b"),  # no order: unplaced
    *[event(11 + j, at(12), "u3", "o7", item) for j, item in enumerate("xyz")],  # 3 items > cap 2
]


def events_frame(spark):
    return spark.createDataFrame(EVENTS, EVENTS_SCHEMA)


def d(day: int) -> dt.date:
    return dt.date(2024, 3, day)


def test_user_baskets_order_gaps_and_caps(spark):
    actual = user_baskets(events_frame(spark), max_basket_items=2)
    expected = spark.createDataFrame(
        [
            ("u1", "o1", at(1, 10), d(1), 1, None, ["a", "b"]),
            ("u1", "o2", at(1, 15), d(1), 2, 0, ["c"]),
            ("u1", "o3", at(5), d(5), 3, 4, ["a"]),
            ("u1", "o4", at(20), d(20), 4, 15, ["d"]),
            ("u2", "o5", at(10), d(10), 1, None, ["b"]),
        ],
        USER_BASKETS_SCHEMA,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)


def test_user_baskets_keeps_the_latest_baskets_and_counts_the_rest(spark):
    actual = user_baskets(events_frame(spark), max_basket_items=2, max_baskets_per_user=2)
    expected = spark.createDataFrame(
        [
            ("u1", "o3", at(5), d(5), 1, None, ["a"]),
            ("u1", "o4", at(20), d(20), 2, 15, ["d"]),
            ("u2", "o5", at(10), d(10), 1, None, ["b"]),
        ],
        USER_BASKETS_SCHEMA,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    counts = unplaced_purchases(events_frame(spark), max_basket_items=2, max_baskets_per_user=2)
    expected_counts = spark.createDataFrame([(2, 3, 3)], "no_user_or_order long, in_large_baskets long, in_old_baskets long")
    assert_df_equality(counts, expected_counts, ignore_nullable=True)


def test_no_caps_keep_every_basket(spark):
    actual = user_baskets(events_frame(spark)).select("basket_id", "seq", "items")
    expected = spark.createDataFrame(
        [("o1", 1, ["a", "b"]), ("o2", 2, ["c"]), ("o3", 3, ["a"]), ("o4", 4, ["d"]), ("o5", 1, ["b"]),
         ("o7", 1, ["x", "y", "z"])],
        "basket_id string, seq int, items array<string>",
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    counts = unplaced_purchases(events_frame(spark))
    assert_df_equality(counts, spark.createDataFrame([(2, 0, 0)], counts.schema), ignore_nullable=True)


def test_sequences_split_into_episodes_at_long_gaps(spark):
    actual = user_sequences(user_baskets(events_frame(spark), max_basket_items=2), max_gap_days=10)
    expected = spark.createDataFrame(
        [
            ("u1", 1, d(1), d(5), 3, [["a", "b"], ["c"], ["a"]], [None, 0, 4]),
            ("u1", 2, d(20), d(20), 1, [["d"]], [None]),
            ("u2", 1, d(10), d(10), 1, [["b"]], [None]),
        ],
        SEQUENCES_SCHEMA,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    one_episode = user_sequences(user_baskets(events_frame(spark), max_basket_items=2), max_gap_days=15)
    expected_one = spark.createDataFrame(
        [("u1", 1, [["a", "b"], ["c"], ["a"], ["d"]], [None, 0, 4, 15]), ("u2", 1, [["b"]], [None])],
        "user_id string, episode int, steps array<array<string>>, gaps array<int>",
    )
    assert_df_equality(one_episode.select("user_id", "episode", "steps", "gaps"), expected_one,
                       ignore_row_order=True, ignore_nullable=True)
