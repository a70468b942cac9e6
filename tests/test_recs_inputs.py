"""Confidence with decay and returns, purchases, and stable integer ids."""

from __future__ import annotations

import datetime as dt

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import functions as F

from lib.recs.ids import assign_ids
from lib.recs.interactions import confidence_scores, purchases
from lib.schemas.recs import CONFIDENCE_SCHEMA, ID_MAP_USERS_SCHEMA, PURCHASES_SCHEMA
from builders import event, events_frame, users_frame

AS_OF = dt.date(2024, 3, 10)
WEIGHTS = {"view": 1.0, "cart": 3.0, "purchase": 5.0, "return": 5.0}  # no weight for fav


def test_confidence_sums_decayed_weights_and_subtracts_returns(spark):
    events = events_frame(
        spark,
        [
            event("e1", "2024-03-10", "u1", "i1", "view"),  # 1 * 0.5**0 = 1
            event("e2", "2024-03-08", "u1", "i1", "purchase", order="o1"),  # 5 * 0.5**(2/2) = 2.5
            event("e3", "2024-03-10", "u1", "i2", "purchase", order="o2"),  # 5
            event("e4", "2024-03-10", "u1", "i2", "return", order="o2"),  # -5 -> nets to 0: left out
            event("e5", "2024-03-06", "u1", "i3", "cart"),  # 3 * 0.5**(4/2) = 0.75
            event("e6", "2024-03-09", "u2", "i1", "purchase", order="o3"),  # 5 * 0.5**0.5
            event("e7", "2024-03-10", None, "i1", "view"),  # no user: not attributable
            event("e8", "2024-03-11", "u2", "i4", "view"),  # after as_of: not counted
            event("e9", "2024-03-10", "u2", "i5", "fav"),  # fav has no weight: 0, left out
            event("e10", "2024-03-10", "u3", "i1", "return", order="o4"),  # only a return: -5
        ],
    )
    result = confidence_scores(events, AS_OF, WEIGHTS, half_life_days=2.0)
    expected = spark.createDataFrame(
        [("u1", "i1", 3.5), ("u1", "i3", 0.75), ("u2", "i1", 5 * 0.5**0.5)], CONFIDENCE_SCHEMA
    )
    assert_approx_df_equality(
        result, expected, precision=1e-9, ignore_row_order=True, ignore_nullable=True
    )


@pytest.mark.parametrize(
    ("weights", "half_life", "message"),
    [
        ({"click": 1.0}, 2.0, "unknown event type 'click'"),
        ({"view": -1.0}, 2.0, "weight of 'view' is -1.0"),
        ({"view": 1.0}, 0.0, "half_life_days must be > 0"),
    ],
)
def test_confidence_rejects_bad_settings(spark, weights, half_life, message):
    events = events_frame(spark, [event("e1", "2024-03-10", "u1", "i1", "view")])
    with pytest.raises(ValueError, match=message):
        confidence_scores(events, AS_OF, weights, half_life)


def test_purchases_keeps_purchases_of_known_users(spark):
    events = events_frame(
        spark,
        [
            event("e1", "2024-03-10", "u1", "i1", "purchase", order="o1", quantity=3),
            event("e2", "2024-03-10", "u1", "i2", "view"),
            event("e3", "2024-03-10", None, "i1", "purchase", order="o2"),
            event("e4", "2024-03-10", "u1", "i1", "return", order="o1"),
        ],
    )
    expected = spark.createDataFrame(
        [("u1", "i1", dt.datetime(2024, 3, 10, 12), 3)], PURCHASES_SCHEMA
    )
    assert_df_equality(purchases(events), expected, ignore_row_order=True, ignore_nullable=True)


def test_assign_ids_keeps_existing_and_numbers_new_keys_in_key_order(spark):
    existing = spark.createDataFrame([("a", 0), ("c", 1)], ID_MAP_USERS_SCHEMA)
    keys = users_frame(spark, ["d", "a", "b", None, "b"]).repartition(3)
    first = assign_ids(existing, keys, "user_id", "user_idx")
    expected = spark.createDataFrame([("a", 0), ("c", 1), ("b", 2), ("d", 3)], ID_MAP_USERS_SCHEMA)
    assert_df_equality(first, expected, ignore_row_order=True, ignore_nullable=True)

    # a rerun with the same keys changes nothing; a later run only appends the new key
    again = assign_ids(first, keys, "user_id", "user_idx")
    assert_df_equality(again, expected, ignore_row_order=True, ignore_nullable=True)
    later = assign_ids(again, users_frame(spark, ["e", "c"]), "user_id", "user_idx")
    expected_later = spark.createDataFrame(
        [("a", 0), ("c", 1), ("b", 2), ("d", 3), ("e", 4)], ID_MAP_USERS_SCHEMA
    )
    assert_df_equality(later, expected_later, ignore_row_order=True, ignore_nullable=True)


def test_assign_ids_from_empty_mapping_is_independent_of_partitioning(spark):
    empty = spark.createDataFrame([], ID_MAP_USERS_SCHEMA)
    names = [f"k{n:02d}" for n in range(20)]
    one = assign_ids(empty, users_frame(spark, names).coalesce(1), "user_id", "user_idx")
    many = assign_ids(empty, users_frame(spark, list(reversed(names))).repartition(5), "user_id", "user_idx")
    expected = spark.createDataFrame([(name, n) for n, name in enumerate(names)], ID_MAP_USERS_SCHEMA)
    assert_df_equality(one, expected, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(many, expected, ignore_row_order=True, ignore_nullable=True)
    assert one.where(F.col("user_idx").isNull()).limit(1).collect() == []
