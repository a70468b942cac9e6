"""ALS on a tiny two-cluster dataset (shape, K per user, exclusions, cold-start paths) and
similar items against brute-force cosine."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from chispa import assert_approx_df_equality, assert_df_equality
from pyspark.errors import PySparkException
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.recs.als import AlsParams, with_int_ids
from lib.recs.pipeline import als_training_set, recommend_als_with_cold_start, train_als
from lib.recs.similar import similar_items
from lib.schemas.recs import ID_MAP_ITEMS_SCHEMA, RECOMMENDATIONS_SCHEMA
from builders import event, events_frame, items_frame, users_frame

AS_OF = dt.date(2024, 3, 10)
WEIGHTS = {"view": 1.0, "purchase": 5.0, "return": 5.0}
PARAMS = AlsParams(rank=4, reg_param=0.05, alpha=10.0, max_iter=6, num_user_blocks=1, num_item_blocks=1,
                   checkpoint_interval=3, seed=1)
CLUSTERS = {"left": ["a", "b", "c"], "right": ["d", "e", "f"]}


def cluster_events() -> list[tuple]:
    rows = []
    for cluster, items in CLUSTERS.items():
        for n in range(4):  # user n buys two of the three items of the cluster, skipping item n % 3
            user = f"{cluster}{n}"
            for position, item in enumerate(items):
                if position != n % 3:
                    rows.append(event(f"{user}-{item}", "2024-03-08", user, item, "purchase", order=f"o-{user}"))
    rows.append(event("new-view", "2024-03-09", "newbie", "d", "view"))  # one item: below min_user_items
    rows.append(event("new-ret", "2024-03-09", "returner", "a", "purchase", order="o-r"))
    rows.append(event("new-ret2", "2024-03-09", "returner", "a", "return", order="o-r"))
    return rows


@pytest.fixture(scope="module")
def fitted_recs(spark):
    events = events_frame(spark, cluster_events())
    items = items_frame(spark, [("a", "L"), ("b", "L"), ("c", "L"), ("d", "R"), ("e", "R"), ("f", "R")])
    training = als_training_set(events, AS_OF, WEIGHTS, half_life_days=30.0, min_user_items=2)
    existing_items = spark.createDataFrame([("zz-retired", 0)], ID_MAP_ITEMS_SCHEMA)
    fitted = train_als(training, PARAMS, existing_item_ids=existing_items)
    users = users_frame(spark, ["left0", "left1", "right2", "newbie", "returner", "stranger"])
    recs = recommend_als_with_cold_start(
        fitted, events, items, users, AS_OF, k=3, exclude_bought=True, popularity_window_days=30
    ).cache()
    return fitted, recs, events


def test_als_recommendations_shape_k_and_exclusions(fitted_recs):
    fitted, recs, events = fitted_recs
    assert recs.schema.simpleString() == RECOMMENDATIONS_SCHEMA.simpleString()
    rows = recs.collect()  # at most 6 users x 3 rows
    by_user: dict[str, list] = {}
    for row in rows:
        by_user.setdefault(row.user_id, []).append(row)
    assert sorted(by_user) == ["left0", "left1", "newbie", "returner", "right2", "stranger"]
    for user, user_rows in by_user.items():
        assert sorted(r["rank"] for r in user_rows) == [1, 2, 3], user
    bought = {(r.user_id, r.item_id) for r in events.where(F.col("event_type") == "purchase").collect()}
    als_rows = [r for r in rows if r.source == "als"]
    assert {r.user_id for r in als_rows} == {"left0", "left1", "right2"}
    assert not [r for r in als_rows if (r.user_id, r.item_id) in bought]
    # the one unbought item of the user's own cluster comes first: left0 skipped a, right2 skipped f
    top = {r.user_id: r.item_id for r in als_rows if r["rank"] == 1}
    assert top == {"left0": "a", "left1": "b", "right2": "f"}


def test_users_outside_the_model_take_the_cold_start_paths(fitted_recs):
    _, recs, _ = fitted_recs
    sources = {(r.user_id, r["rank"]): (r.item_id, r.source) for r in recs.where(F.col("source") != "als").collect()}
    # newbie viewed d (category R): R's best sellers d, e, f each sold 2-3 times... all category rows
    assert {sources[("newbie", n)][1] for n in (1, 2, 3)} == {"cold_start_category"}
    assert {sources[("newbie", n)][0] for n in (1, 2, 3)} == {"d", "e", "f"}
    # a stranger without events and the returner (confidence nets to 0, but a's category L is known)
    assert {sources[("stranger", n)][1] for n in (1, 2, 3)} == {"cold_start_popular"}
    assert {sources[("returner", n)][1] for n in (1, 2, 3)} == {"cold_start_category"}


def test_train_als_keeps_existing_ids_and_maps_every_item(fitted_recs):
    fitted, _, _ = fitted_recs
    item_ids = {r.item_id: r.item_idx for r in fitted.item_ids.collect()}
    assert item_ids == {"zz-retired": 0, "a": 1, "b": 2, "c": 3, "d": 4, "e": 5, "f": 6}
    assert fitted.model.itemFactors.count() == 6


def test_int_ids_map_every_row_and_an_unmapped_id_fails_naming_it(spark):
    users = spark.createDataFrame([("u1", 0), ("u2", 1)], "user_id string, user_idx int")
    items = spark.createDataFrame([("a", 0), ("b", 1)], "item_id string, item_idx int")
    mapped = spark.createDataFrame([("u1", "a", 2.0), ("u2", "b", 0.5), ("u2", "a", 1.0)],
                                   "user_id string, item_id string, confidence double")
    assert_df_equality(
        with_int_ids(mapped, users, items),
        spark.createDataFrame([(0, 0, 2.0), (1, 1, 0.5), (1, 0, 1.0)], "user_idx int, item_idx int, confidence float"),
        ignore_row_order=True, ignore_nullable=True,
    )
    for user, item in (("u3", "a"), ("u1", "z"), (None, "a")):
        unmapped = mapped.unionByName(spark.createDataFrame([(user, item, 1.0)], mapped.schema))
        with pytest.raises(PySparkException, match=f"no integer id for user '{user or 'null'}' / item '{item}' in the id maps"):
            with_int_ids(unmapped, users, items).collect()


def factor_table(spark, n_items: int, rank: int, seed: int):
    generator = np.random.default_rng(seed)
    vectors = generator.normal(size=(n_items, rank)).astype(np.float32)
    vectors[3] = vectors[7] * 2  # a parallel pair: cosine 1
    ids = [f"it{n:02d}" for n in range(n_items)]
    schema = T.StructType(
        [T.StructField("item_id", T.StringType(), False), T.StructField("features", T.ArrayType(T.FloatType()), False)]
    )
    frame = spark.createDataFrame([(i, [float(x) for x in v]) for i, v in zip(ids, vectors)], schema)
    return frame, ids, vectors.astype(np.float64)


def brute_force_similar(ids, vectors, k):
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    scores = unit @ unit.T
    rows = []
    for i, item in enumerate(ids):
        others = sorted(((-scores[i, j], ids[j]) for j in range(len(ids)) if j != i))[:k]
        rows.extend((item, rank + 1, other, float(-negative)) for rank, (negative, other) in enumerate(others))
    return rows


def test_exact_blocked_similar_items_equal_brute_force_cosine(spark):
    frame, ids, vectors = factor_table(spark, n_items=14, rank=5, seed=3)
    result = similar_items(frame, k=4, method="exact_blocked", num_blocks=3)
    schema = T.StructType(
        [
            T.StructField("item_id", T.StringType(), False),
            T.StructField("rank", T.IntegerType(), False),
            T.StructField("similar_item_id", T.StringType(), False),
            T.StructField("score", T.DoubleType(), False),
        ]
    )
    expected = spark.createDataFrame(brute_force_similar(ids, vectors, 4), schema)
    assert_approx_df_equality(result, expected, precision=1e-6, ignore_row_order=True, ignore_nullable=True)


def test_lsh_similar_items_scores_are_true_cosines(spark):
    frame, ids, vectors = factor_table(spark, n_items=14, rank=5, seed=3)
    result = similar_items(frame, k=4, method="lsh", lsh_bucket_length=2.0, lsh_num_hash_tables=3, lsh_min_cosine=0.0)
    exact = {(a, b): s for a, _, b, s in brute_force_similar(ids, vectors, len(ids) - 1)}
    rows = result.collect()  # at most 14 x 4 rows
    assert ("it03", "it07") in {(r.item_id, r.similar_item_id) for r in rows}  # the parallel pair is found
    for row in rows:
        assert row.score == pytest.approx(exact[(row.item_id, row.similar_item_id)], abs=1e-6)
        assert row.score >= -1e-9


def test_similar_items_rejects_unknown_method(spark):
    frame, _, _ = factor_table(spark, n_items=14, rank=2, seed=1)
    with pytest.raises(ValueError, match="unknown similar-items method 'faiss'"):
        similar_items(frame, k=2, method="faiss")
