"""lib.recs.metrics against hand-computed values and against pyspark's RankingEvaluator."""

from __future__ import annotations

import math
import random

import pytest
from chispa import assert_approx_df_equality
from pyspark.ml.evaluation import RankingEvaluator
from pyspark.sql import types as T

from lib.recs import metrics as M

RECS_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), True),
        T.StructField("rank", T.IntegerType(), True),
        T.StructField("item_id", T.StringType(), True),
    ]
)
PAIRS_SCHEMA = T.StructType(
    [T.StructField("user_id", T.StringType(), True), T.StructField("item_id", T.StringType(), True)]
)
LOG2 = math.log2

# u1: a b c | d (cut at 3), relevant {a, c, e}; 'a' listed twice (counts once, at rank 1).
# u2: short list x y with gapped ranks 5, 9; relevant {y}.
# u3: relevant {a}, no list.   u4: a b c, relevant {z} (no hit).   u5: a list but nothing relevant.
RECS = [
    ("u1", 1, "a"), ("u1", 2, "b"), ("u1", 3, "c"), ("u1", 4, "d"), ("u1", 7, "a"),
    ("u2", 9, "y"), ("u2", 5, "x"),
    ("u4", 1, "a"), ("u4", 2, "b"), ("u4", 3, "c"),
    ("u5", 1, "q"), ("u5", 2, "d"),
    (None, 1, "a"),
]
TRUTH = [
    ("u1", "a"), ("u1", "a"), ("u1", "c"), ("u1", "e"),
    ("u2", "y"), ("u3", "a"), ("u4", "z"),
    (None, "a"), ("u1", None),
]
IDCG3 = 1 + 1 / LOG2(3) + 1 / LOG2(4)
U1 = dict(n=3, hits=2, p=2 / 3, r=2 / 3, ndcg=(1 + 1 / LOG2(4)) / IDCG3, ap=(1 / 1 + 2 / 3) / 3)
U2 = dict(n=1, hits=1, p=1 / 3, r=1.0, ndcg=(1 / LOG2(3)) / 1.0, ap=(1 / 2) / 1)


@pytest.fixture
def recs(spark):
    return spark.createDataFrame(RECS, RECS_SCHEMA)


@pytest.fixture
def truth(spark):
    return spark.createDataFrame(TRUTH, PAIRS_SCHEMA)


def test_top_k_renumbers_dedupes_and_cuts(spark, recs):
    expected = spark.createDataFrame(
        [
            ("u1", 1, "a"), ("u1", 2, "b"), ("u1", 3, "c"),
            ("u2", 1, "x"), ("u2", 2, "y"),
            ("u4", 1, "a"), ("u4", 2, "b"), ("u4", 3, "c"),
            ("u5", 1, "q"), ("u5", 2, "d"),
        ],
        "user_id string, position int, item_id string",
    )
    assert_approx_df_equality(M.top_k(recs, 3), expected, 0.0, ignore_row_order=True, ignore_nullable=True)


def test_ranking_metrics_per_user_hand_computed(spark, recs, truth):
    expected = spark.createDataFrame(
        [
            ("u1", U1["n"], U1["hits"], U1["p"], U1["r"], U1["ndcg"], U1["ap"], 1.0),
            ("u2", U2["n"], U2["hits"], U2["p"], U2["r"], U2["ndcg"], U2["ap"], 1.0),
            ("u3", 1, 0, 0.0, 0.0, 0.0, 0.0, 0.0),
            ("u4", 1, 0, 0.0, 0.0, 0.0, 0.0, 0.0),
        ],
        M.PER_USER_SCHEMA,
    )
    actual = M.ranking_metrics_per_user(recs, truth, 3)
    assert_approx_df_equality(actual, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_evaluate_at_k_hand_computed(spark, recs, truth):
    catalogue = spark.createDataFrame(
        [(i,) for i in ["a", "b", "c", "d", "e", "x", "y", "z", None]], "item_id string"
    )
    # Training buyers: a by 4 of 4 users (0 bits), b by 2 (1 bit), c and x by 1 (2 bits); y unseen (2 bits).
    train = spark.createDataFrame(
        [("t1", "a"), ("t2", "a"), ("t3", "a"), ("t4", "a"), ("t1", "b"), ("t2", "b"), ("t1", "c"),
         ("t1", "x"), ("t1", "x")],
        PAIRS_SCHEMA,
    )
    actual = M.evaluate_at_k(recs, truth, catalogue, M.item_self_information(train), 3)
    expected = spark.createDataFrame(
        [
            ("precision", 3, (U1["p"] + U2["p"]) / 4, 4),
            ("recall", 3, (U1["r"] + U2["r"]) / 4, 4),
            ("ndcg", 3, (U1["ndcg"] + U2["ndcg"]) / 4, 4),
            ("map", 3, (U1["ap"] + U2["ap"]) / 4, 4),
            ("hit_rate", 3, 0.5, 4),
            # lists of evaluated users u1, u2, u4 show {a, b, c, x, y}: 5 of 8 catalogue items (u5 ignored)
            ("coverage", 3, 5 / 8, 3),
            # u1 (0+1+2)/3 = 1, u2 (2+2)/2 = 2, u4 1 -> 4/3
            ("novelty", 3, 4 / 3, 3),
        ],
        M.METRICS_SCHEMA,
    )
    assert_approx_df_equality(actual, expected, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_a_group_column_of_the_lists_measures_each_list_alone_in_one_pass(spark, recs, truth):
    """Two models' lists in one frame (`model` in recs, truth and groups) = each list measured alone:
    model m1 is the hand example; m2 lists only u4's a b c and u2's y, so u1 and u3 score 0 there
    and the same user id in the two lists is never mixed up; m3 has no list at all."""
    catalogue = spark.createDataFrame([(i,) for i in ["a", "b", "c", "x", "y"]], "item_id string")
    info = spark.createDataFrame([("a", 0.0), ("b", 1.0), ("y", 3.0)], "item_id string, self_information double")
    other = spark.createDataFrame([("u4", 1, "a"), ("u4", 2, "b"), ("u4", 3, "c"), ("u2", 1, "y")], RECS_SCHEMA)
    both = recs.selectExpr("'m1' AS model", "*").unionByName(other.selectExpr("'m2' AS model", "*"))
    models = spark.createDataFrame([("m1",), ("m2",), ("m3",)], "model string")
    groups = models.crossJoin(spark.createDataFrame([("w", "all")], "view string, slice string"))
    grouped_truth = models.crossJoin(truth.selectExpr("'w' AS view", "'all' AS slice", "*"))

    actual = M.evaluate_at_k(both, grouped_truth, catalogue, info, 3, groups)

    def alone(lists, model: str):
        return M.evaluate_at_k(lists, truth, catalogue, info, 3).selectExpr(
            f"'{model}' AS model", "'w' AS view", "'all' AS slice", "*")

    expected = alone(recs, "m1").unionByName(alone(other, "m2")).unionByName(
        alone(spark.createDataFrame([], RECS_SCHEMA), "m3"))
    assert_approx_df_equality(actual, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)
    m2 = {r["metric"]: (r["value"], r["users"]) for r in actual.where("model = 'm2'").collect()}
    # m2 on the 4 evaluated users: u2 hits y at 1 (ndcg 1, ap 1), u4 no hit; u1 and u3 no list
    assert m2["hit_rate"] == (0.25, 4) and m2["ndcg"] == (0.25, 4) and m2["recall"] == (0.25, 4)
    assert m2["coverage"] == (4 / 5, 2)  # a b c y shown to u2 and u4


def test_groups_are_measured_each_on_its_own_users_in_one_pass(spark, recs, truth):
    """Grouped = each group alone: group (w, all) is the hand example, (w, u2) only u2's truth,
    (w, none) has no truth rows (null means, 0 users, coverage 0)."""
    catalogue = spark.createDataFrame([(i,) for i in ["a", "b", "c", "x", "y"]], "item_id string")
    info = spark.createDataFrame([("a", 0.0), ("b", 1.0), ("y", 3.0)], "item_id string, self_information double")
    only_u2 = truth.where("user_id = 'u2'")
    grouped_truth = truth.selectExpr("'w' AS view", "'all' AS slice", "*").unionByName(
        only_u2.selectExpr("'w' AS view", "'u2' AS slice", "*")
    )
    groups = spark.createDataFrame([("w", "all"), ("w", "u2"), ("w", "none")], "view string, slice string")
    actual = M.evaluate_at_k(recs, grouped_truth, catalogue, info, 3, groups)

    def alone(frame, cell: str):
        return M.evaluate_at_k(recs, frame, catalogue, info, 3).selectExpr("'w' AS view", f"'{cell}' AS slice", "*")

    expected = alone(truth, "all").unionByName(alone(only_u2, "u2")).unionByName(
        alone(spark.createDataFrame([], PAIRS_SCHEMA), "none")
    )
    assert_approx_df_equality(actual, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)
    u2 = {r["metric"]: (r["value"], r["users"]) for r in actual.where("slice = 'u2'").collect()}
    # u2's list x y: both in the catalogue of 5; novelty (unseen x = 3 bits, y 3 bits) / 2 = 3
    assert u2 == {"precision": (U2["p"], 1), "recall": (1.0, 1), "ndcg": (U2["ndcg"], 1), "map": (U2["ap"], 1),
                  "hit_rate": (1.0, 1), "coverage": (2 / 5, 1), "novelty": (3.0, 1)}


def test_item_self_information(spark):
    train = spark.createDataFrame(
        [("t1", "a"), ("t2", "a"), ("t1", "b"), ("t1", "b"), (None, "b"), ("t2", None)], PAIRS_SCHEMA
    )
    expected = spark.createDataFrame([("a", 0.0), ("b", 1.0)], "item_id string, self_information double")
    assert_approx_df_equality(
        M.item_self_information(train), expected, 1e-12, ignore_row_order=True, ignore_nullable=True
    )


def test_no_evaluated_user_gives_null_means_and_zero_coverage(spark, recs):
    truth = spark.createDataFrame([], PAIRS_SCHEMA)
    catalogue = spark.createDataFrame([("a",)], "item_id string")
    info = spark.createDataFrame([("a", 0.0)], "item_id string, self_information double")
    expected = spark.createDataFrame(
        [(m, 5, None, 0) for m in M.RANKING_METRICS] + [("coverage", 5, 0.0, 0), ("novelty", 5, None, 0)],
        M.METRICS_SCHEMA,
    )
    actual = M.evaluate_at_k(recs, truth, catalogue, info, 5)
    assert_approx_df_equality(actual, expected, 1e-12, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize("k", [0, -1, 2.5, True])
def test_bad_k_is_rejected(recs, k):
    with pytest.raises(ValueError, match="cut-off k"):
        M.top_k(recs, k)


def test_missing_column_is_named(spark, truth):
    bad = spark.createDataFrame([("u1", "a")], "user_id string, item_id string")
    with pytest.raises(ValueError, match="recommendations lacks column"):
        M.ranking_metrics_per_user(bad, truth, 3)


# -- against pyspark.ml.evaluation.RankingEvaluator ------------------------------------------------

SPARK_METRIC = {
    "precision": "precisionAtK",
    "recall": "recallAtK",
    "ndcg": "ndcgAtK",
    "map": "meanAveragePrecisionAtK",
}


def _random_case(seed: int, users: int = 40, items: int = 25):
    rng = random.Random(seed)
    recs, truth = [], []
    for u in range(users):
        user = f"u{u}"
        listed = rng.sample(range(items), rng.randint(0, 12))  # includes empty and short lists
        recs += [(user, 2 * pos + 1, f"i{item}") for pos, item in enumerate(listed)]
        truth += [(user, f"i{item}") for item in rng.sample(range(items), rng.randint(1, 8))]
    return recs, truth


def _as_ranking_evaluator_input(spark, recs, truth):
    """(prediction array<double>, label array<double>) per user who has a relevant item."""
    lists: dict[str, list[tuple[int, str]]] = {}
    for user, rank, item in recs:
        lists.setdefault(user, []).append((rank, item))
    labels: dict[str, set[str]] = {}
    for user, item in truth:
        labels.setdefault(user, set()).add(item)
    code = lambda item: float(item[1:])  # noqa: E731 - "i17" -> 17.0
    rows = [
        ([code(i) for _, i in sorted(lists.get(user, []))], sorted(code(i) for i in labels[user]))
        for user in sorted(labels)
    ]
    return spark.createDataFrame(rows, "prediction array<double>, label array<double>")


@pytest.mark.parametrize("seed", [7])
def test_matches_ranking_evaluator(spark, seed):
    recs, truth = _random_case(seed)
    recs_df = spark.createDataFrame(recs, RECS_SCHEMA)
    truth_df = spark.createDataFrame(truth, PAIRS_SCHEMA)
    arrays = _as_ranking_evaluator_input(spark, recs, truth).cache()
    for k in (1, 5, 10):
        ours = {
            r["metric"]: r["value"]
            for r in M.mean_ranking_metrics(M.ranking_metrics_per_user(recs_df, truth_df, k), k).collect()
        }
        for metric, spark_name in SPARK_METRIC.items():
            evaluator = RankingEvaluator(
                predictionCol="prediction", labelCol="label", metricName=spark_name, k=k
            )
            assert ours[metric] == pytest.approx(evaluator.evaluate(arrays), abs=1e-9), (metric, k)
    arrays.unpersist()


def test_hand_example_matches_ranking_evaluator(spark, recs, truth):
    """The hand-computed example gives RankingEvaluator's values too (u5 and null rows excluded)."""
    arrays = spark.createDataFrame(
        [([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 5.0]), ([24.0, 25.0], [25.0]), ([], [1.0]), ([1.0, 2.0, 3.0], [26.0])],
        "prediction array<double>, label array<double>",
    )
    ours = {
        r["metric"]: r["value"]
        for r in M.mean_ranking_metrics(M.ranking_metrics_per_user(recs, truth, 3), 3).collect()
    }
    for metric, spark_name in SPARK_METRIC.items():
        evaluator = RankingEvaluator(metricName=spark_name, k=3, predictionCol="prediction", labelCol="label")
        assert ours[metric] == pytest.approx(evaluator.evaluate(arrays), abs=1e-12), metric
