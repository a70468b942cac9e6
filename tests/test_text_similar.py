"""Blocked exact top-k cosine (lib/text/similar.py) against a brute-force numpy top-k."""

from __future__ import annotations

import numpy as np
import pytest
from pyspark.sql import types as T

from lib.text.similar import block_top_k, similar_items_text, top_k_cosine

VECTORS = T.StructType([T.StructField("item_id", T.StringType(), False),
                        T.StructField("vector", T.ArrayType(T.FloatType(), False), False)])


def unit_rows(n: int, d: int, seed: int, prefix: str = "i"):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(n, d)).astype(np.float32)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    return [f"{prefix}{i:03d}" for i in range(n)], m


def brute_force(q_ids, q, c_ids, c, k, exclude_self):
    scores = q.astype(np.float64) @ c.astype(np.float64).T
    out = {}
    for i, qid in enumerate(q_ids):
        ranked = [(float(scores[i, j]), c_ids[j]) for j in range(len(c_ids)) if not (exclude_self and c_ids[j] == qid)]
        ranked.sort(key=lambda t: (-t[0], t[1]))
        out[qid] = ranked[:k]
    return out


def test_similar_items_text_equals_brute_force(spark):
    num_blocks = 3
    ids, m = unit_rows(60, 16, seed=1)
    frame = spark.createDataFrame([(i, v.tolist()) for i, v in zip(ids, m)], VECTORS)
    got = similar_items_text(frame, k=4, num_blocks=num_blocks).collect()
    want = brute_force(ids, m, ids, m, 4, exclude_self=True)
    by_item: dict[str, list] = {}
    for r in sorted(got, key=lambda r: (r.item_id, r.rank)):
        by_item.setdefault(r.item_id, []).append((r.score, r.similar_item_id))
    assert set(by_item) == set(ids)
    for item in ids:
        assert [s for _, s in by_item[item]] == [s for _, s in want[item]]
        np.testing.assert_allclose([x for x, _ in by_item[item]], [x for x, _ in want[item]], atol=1e-5)
    assert {r.rank for r in got} == {1, 2, 3, 4}


def test_top_k_between_two_sets_and_k_beyond_the_candidates(spark):
    q_ids, q = unit_rows(7, 8, seed=2, prefix="u")
    c_ids, c = unit_rows(3, 8, seed=3, prefix="c")
    queries = spark.createDataFrame([(i, v.tolist()) for i, v in zip(q_ids, q)], VECTORS)
    candidates = spark.createDataFrame([(i, v.tolist()) for i, v in zip(c_ids, c)], VECTORS)
    got = top_k_cosine(queries, candidates, k=5, num_blocks=2, exclude_same_id=False).collect()
    want = brute_force(q_ids, q, c_ids, c, 5, exclude_self=False)
    assert len(got) == 7 * 3  # only 3 candidates: k is capped, nothing is invented
    for r in got:
        assert want[r.query_id][r.rank - 1][1] == r.candidate_id


def test_bad_arguments(spark):
    frame = spark.createDataFrame([], VECTORS)
    with pytest.raises(ValueError, match="k must be >= 1"):
        similar_items_text(frame, k=0)
    assert similar_items_text(frame, k=3).count() == 0


def test_a_tie_at_the_cut_goes_to_the_smaller_id_in_every_block():
    query = np.array([[1.0, 0.0]], dtype=np.float32)
    # c1..c4 all score 0 against the query, a scores 1: the top 2 are a and the smallest tied id, c1
    ids = np.array(["a", "c1", "c2", "c3", "c4"], dtype=object)
    candidates = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, -1.0], [0.0, 1.0], [0.0, 1.0]], dtype=np.float32)
    got = block_top_k(np.array(["q"], dtype=object), query, ids, candidates, k=2, exclude_same_id=False)
    assert got.to_dict("records") == [{"query_id": "q", "candidate_id": "a", "score": 1.0},
                                      {"query_id": "q", "candidate_id": "c1", "score": 0.0}]
    everything = block_top_k(np.array(["q"], dtype=object), query, ids, candidates, k=9, exclude_same_id=False)
    assert sorted(everything["candidate_id"]) == list(ids)
