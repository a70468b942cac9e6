"""The hybrid blend of normalised scores, computed by hand."""

from __future__ import annotations

import pytest
from chispa import assert_approx_df_equality

from lib.recs.hybrid import recommend_hybrid
from builders import recs_frame


@pytest.fixture
def candidates(spark):
    als = recs_frame(
        spark,
        [("u1", 1, "x", 4.0, "als"), ("u1", 2, "y", 2.0, "als"), ("u1", 3, "z", 0.0, "als")],
    )
    popularity = recs_frame(
        spark,
        [("u1", 1, "y", 10.0, "popularity"), ("u1", 2, "w", 5.0, "popularity"), ("u2", 1, "x", 7.0, "popularity")],
    )
    buy_again = recs_frame(spark, [("u1", 1, "z", 9.0, "buy_again")])
    return {"als": als, "popularity": popularity, "buy_again": buy_again}


def test_hybrid_blends_min_max_normalised_scores(spark, candidates):
    weights = {"als": 2.0, "popularity": 1.5, "buy_again": 0.0}
    result = recommend_hybrid(candidates, weights, k=3)
    # als u1: x 1, y 0.5, z 0; popularity u1: y 1, w 0; u2: a single row normalises to 1
    expected = recs_frame(
        spark,
        [
            ("u1", 1, "y", 2 * 0.5 + 1.5 * 1, "hybrid"),
            ("u1", 2, "x", 2 * 1.0, "hybrid"),
            ("u1", 3, "w", 0.0, "hybrid"),  # w and z both 0: item_id order
            ("u2", 1, "x", 1.5, "hybrid"),
        ],
    )
    assert_approx_df_equality(result, expected, precision=1e-9, ignore_row_order=True, ignore_nullable=True)


def test_hybrid_rank_normalisation(spark, candidates):
    weights = {"als": 2.0, "popularity": 1.5, "buy_again": 1.0}
    result = recommend_hybrid(candidates, weights, k=2, normalisation="rank")
    # u1: x 2/1 = 2; y 2/2 + 1.5/1 = 2.5; z 2/3 + 1/1 = 1.667; w 1.5/2 = 0.75
    expected = recs_frame(
        spark,
        [
            ("u1", 1, "y", 2.5, "hybrid"),
            ("u1", 2, "x", 2.0, "hybrid"),
            ("u2", 1, "x", 1.5, "hybrid"),
        ],
    )
    assert_approx_df_equality(result, expected, precision=1e-9, ignore_row_order=True, ignore_nullable=True)


def test_hybrid_weights_must_match_candidates(spark, candidates):
    with pytest.raises(ValueError, match=r"no weight for \['buy_again'\]"):
        recommend_hybrid(candidates, {"als": 1.0, "popularity": 1.0}, k=2)
    with pytest.raises(ValueError, match="weight of 'als' is -1.0"):
        recommend_hybrid(candidates, {"als": -1.0, "popularity": 1.0, "buy_again": 0.0}, k=2)
