"""Cold items, text profiles, recommend_by_text, cold-item companions and product families,
on hand-made 3-d unit vectors so every expectation is computed by hand."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.sql import types as T

from lib.schemas.events import EVENTS_SCHEMA, ITEMS_SCHEMA
from lib.schemas.recs import RECOMMENDATIONS_SCHEMA
from lib.text.cold import cold_items, truth_cold_items
from lib.text.families import FamilyParams, item_families, with_family_categories
from lib.text.profiles import user_text_profiles
from lib.text.recommend import cold_item_companions, recommend_by_text

AS_OF = dt.date(2024, 3, 31)
VECTORS = T.StructType([T.StructField("item_id", T.StringType(), False),
                        T.StructField("vector", T.ArrayType(T.FloatType(), False), False)])
S = math.sqrt(0.5)
# a, b: "mugs" (x axis); g, h: "garden" (y axis); n1 new mug-like, n2 new garden-like, n3 new z axis.
EMB = [("a", [1.0, 0.0, 0.0]), ("b", [S, 0.0, S]), ("g", [0.0, 1.0, 0.0]), ("h", [0.0, S, S]),
       ("n1", [1.0, 0.0, 0.0]), ("n2", [0.0, 1.0, 0.0]), ("n3", [0.0, 0.0, 1.0])]


def ev(i, user, item, day, kind="purchase"):
    return (f"e{i}", dt.datetime.combine(day, dt.time(10)), user, None, f"o{i}", item, kind, 1, 1.0, "t", day)


@pytest.fixture
def frames(spark):
    events = spark.createDataFrame([
        ev(1, "u1", "a", AS_OF),                       # u1: mugs
        ev(2, "u1", "a", AS_OF - dt.timedelta(30)),
        ev(3, "u2", "g", AS_OF),                       # u2: garden, recent; a mug long ago (decayed)
        ev(4, "u2", "a", AS_OF - dt.timedelta(60)),
        ev(5, None, "h", AS_OF),                       # no user: sold, in no profile
        ev(6, "u3", "n3", AS_OF + dt.timedelta(1)),    # after as_of: n3 still cold, u3 no profile
        ev(7, "u1", "g", AS_OF, kind="view"),          # a view is not a purchase
    ], EVENTS_SCHEMA)
    seen = {"a": 1, "b": 1, "g": 1, "h": 1, "n1": 80, "n2": 85, "n3": 89}
    items = spark.createDataFrame(
        [(i, f"title {i}", None, None, None, dt.date(2024, 1, 1) + dt.timedelta(d), AS_OF) for i, d in seen.items()],
        ITEMS_SCHEMA)
    return events, items, spark.createDataFrame(EMB, VECTORS)


def test_cold_items(spark, frames):
    events, items, _ = frames
    schema = T.StructType([T.StructField("item_id", T.StringType(), False), T.StructField("first_seen", T.DateType(), False)])
    every = [("b", dt.date(2024, 1, 2)), ("n1", dt.date(2024, 3, 21)), ("n2", dt.date(2024, 3, 26)), ("n3", dt.date(2024, 3, 30))]
    assert_df_equality(cold_items(items, events, AS_OF), spark.createDataFrame(every, schema), ignore_row_order=True)
    assert_df_equality(cold_items(items, events, AS_OF, window_days=7), spark.createDataFrame(every[2:], schema),
                       ignore_row_order=True)
    with pytest.raises(ValueError, match="window_days"):
        cold_items(items, events, AS_OF, window_days=0)
    truth = spark.createDataFrame([("u1", "n1"), ("u2", "a"), ("u9", "h"), ("u1", "n3")], "user_id string, item_id string")
    # h was bought by an anonymous visitor: not cold; n3's purchase is after the training events' day
    training = events.where("dt <= date'2024-03-31'")
    assert sorted(truth_cold_items(truth, training).collect()) == [("u1", "n1"), ("u1", "n3")]


def test_user_profiles_are_decayed_means(spark, frames):
    events, _, embeddings = frames
    got = {r.user_id: (r.vector, r.items) for r in user_text_profiles(events, embeddings, AS_OF, 30.0).collect()}
    assert set(got) == {"u1", "u2"}
    assert got["u1"][1] == 1 and got["u1"][0] == pytest.approx([1.0, 0.0, 0.0])
    # u2: g weight 1, a weight 0.5 ** 2 = 0.25 -> (0.25, 1, 0) / |.|
    norm = math.sqrt(0.25 ** 2 + 1)
    assert got["u2"][1] == 2 and got["u2"][0] == pytest.approx([0.25 / norm, 1 / norm, 0.0], abs=1e-6)


def test_recommend_by_text_serves_cold_items(spark, frames):
    events, items, embeddings = frames
    users = spark.createDataFrame([("u1",), ("u2",), ("u9",)], "user_id string")
    cold = cold_items(items, events, AS_OF, window_days=14)  # n1, n2, n3
    got = recommend_by_text(events, users, embeddings, cold, AS_OF, k=2, half_life_days=30.0, num_blocks=2)
    norm = math.sqrt(0.25 ** 2 + 1)
    expected = spark.createDataFrame([
        ("u1", 1, "n1", 1.0, "text"), ("u1", 2, "n2", 0.0, "text"),  # tie n2/n3 at 0: id ascending
        ("u2", 1, "n2", 1 / norm, "text"), ("u2", 2, "n1", 0.25 / norm, "text"),
    ], RECOMMENDATIONS_SCHEMA)
    assert_approx_df_equality(got, expected, 1e-6, ignore_row_order=True, ignore_nullable=True)


def test_cold_item_companions(spark, frames):
    _, _, embeddings = frames
    cold = spark.createDataFrame([("n1",), ("n3",)], "item_id string")
    sold = spark.createDataFrame([("a",), ("b",), ("g",), ("h",)], "item_id string")
    got = cold_item_companions(embeddings, cold, sold, companions_per_cold=1, num_blocks=2)
    expected = spark.createDataFrame([("a", "n1", 1.0), ("b", "n3", S)],
                                     "item_id string, companion_item_id string, score double")
    # n3 is equally close to b and h (cos S): the tie goes to the smaller id, b
    assert_approx_df_equality(got, expected, 1e-6, ignore_row_order=True, ignore_nullable=True)


def family_frames(spark):
    rows = [("m1", "RED ALARM CLOCK", [1.0, 0.05, 0.0]), ("m2", "PINK ALARM CLOCK", [1.0, 0.0, 0.05]),
            ("m3", "GREEN ALARM CLOCK 23", [1.0, 0.02, 0.02]),
            ("g1", "JUMBO BAG RED", [0.0, 1.0, 0.05]), ("g2", "JUMBO BAG PINK", [0.05, 1.0, 0.0]),
            ("g3", "JUMBO SHOPPER BAG", [0.02, 1.0, 0.02])]
    normed = [(i, [x / math.sqrt(sum(y * y for y in v)) for x in v]) for i, _, v in rows]
    items = spark.createDataFrame(
        [(i, t, None, None, None, AS_OF, AS_OF) for i, t, _ in rows] + [("z", "NO VECTOR", None, None, None, AS_OF, AS_OF),
                                                                        ("c", "CATEGORISED", "kitchen", "home/kitchen", None, AS_OF, AS_OF)],
        ITEMS_SCHEMA)
    return items, spark.createDataFrame(normed, VECTORS)


def test_item_families_named_by_typical_words_and_k_by_silhouette(spark):
    items, embeddings = family_frames(spark)
    got = {r.item_id: r for r in item_families(embeddings, items, FamilyParams(k=0, k_candidates=(2, 3), name_words=2)).collect()}
    assert set(got) == {"m1", "m2", "m3", "g1", "g2", "g3"}
    assert {r.k for r in got.values()} == {2} and all(r.silhouette > 0.9 for r in got.values())
    assert {got[i].family for i in ("m1", "m2", "m3")} == {"alarm clock"}
    assert {got[i].family for i in ("g1", "g2", "g3")} == {"bag jumbo"}
    assert all(r.family_size == 3 and 0.0 <= r.distance < 0.01 for r in got.values())


def test_with_family_categories_fills_only_uncategorised_items(spark):
    items, _ = family_frames(spark)
    families = spark.createDataFrame([("m1", "alarm clock"), ("c", "should/not apply")], "item_id string, family string")
    got = {r.item_id: (r.category, r.category_path) for r in with_family_categories(items, families).collect()}
    assert got["m1"] == ("alarm clock", "alarm clock")
    assert got["c"] == ("kitchen", "home/kitchen")  # a real category wins
    assert got["g1"] == (None, None) and got["z"] == (None, None)
    assert with_family_categories(items, families).columns == items.columns
