"""lib.graph.propagation and the recommender against numpy matrix products."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from builders import event_at
from lib.graph.propagation import PropagationParams, initial_vectors, propagate
from lib.graph.recommend import GraphRecParams, recommend_propagated
from lib.schemas.events import EVENTS_SCHEMA
from lib.schemas.graph import EMBEDDINGS_SCHEMA

TEXT = {"a": [1.0, 0.0], "b": [0.6, 0.8], "c": [0.0, 2.0], "d": [1.0, 1.0], "e": [3.0, 4.0]}
BEHAVIOUR = {"a": [0.0, 1.0], "b": [1.0, 1.0], "c": [2.0, 0.0], "e": [0.0, -1.0]}  # d: cold, no purchases
EDGES = [("a", "b", 1.0), ("b", "c", 0.5), ("c", "d", 0.8)]  # e: no edge
NODES = ["a", "b", "c", "d", "e"]
PAIR_SCHEMA = "src_item_id string, dst_item_id string, weight double"


def embeddings(spark, vectors):
    return spark.createDataFrame([(k, [float(x) for x in v]) for k, v in vectors.items()], EMBEDDINGS_SCHEMA)


def numpy_z(params: PropagationParams, edges=EDGES):
    def unit(v):
        v = np.asarray(v, dtype=float)
        return v / np.linalg.norm(v)

    x0 = np.array([
        np.concatenate([params.text_weight * unit(TEXT[n]),
                        params.behaviour_weight * unit(BEHAVIOUR[n]) if n in BEHAVIOUR else np.zeros(2)])
        for n in NODES
    ])
    a = np.zeros((5, 5))
    for s, t, w in edges:
        a[NODES.index(s), NODES.index(t)] = a[NODES.index(t), NODES.index(s)] = w
    a_self = a + params.self_loop * np.eye(5)
    d = np.diag(1 / np.sqrt(a_self.sum(axis=1)))
    a_hat = d @ a_self @ d
    layers, x = [x0], x0
    for _ in range(params.steps):
        x = a_hat @ x
        layers.append(x)
    return {n: sum(w * layer[i] for w, layer in zip(params.weights(), layers)) for i, n in enumerate(NODES)}


def symmetric(spark):
    return spark.createDataFrame(EDGES + [(t, s, w) for s, t, w in EDGES], PAIR_SCHEMA)


@pytest.mark.parametrize("params", [
    PropagationParams(steps=2),  # LightGCN: equal layer weights
    PropagationParams(steps=2, layer_weights=(0.0, 0.0, 1.0), self_loop=0.5, behaviour_weight=2.0),  # SGC-like
])
def test_propagation_matches_numpy_and_a_cold_item_gets_its_neighbours_behaviour(spark, params):
    initial = initial_vectors(embeddings(spark, TEXT), embeddings(spark, BEHAVIOUR), params)
    got = {r["item_id"]: np.array(r["vector"]) for r in propagate(initial, symmetric(spark), params).collect()}
    expected = numpy_z(params)
    assert sorted(got) == NODES
    for node in NODES:
        np.testing.assert_allclose(got[node], expected[node], atol=1e-9, err_msg=node)
    assert np.abs(got["d"][2:]).sum() > 0.1  # d had no behaviour; now it has c's (and b's, two steps out)


def test_initial_vectors_need_at_least_one_embedding(spark):
    with pytest.raises(ValueError, match="text or behaviour"):
        initial_vectors(None, spark.createDataFrame([], EMBEDDINGS_SCHEMA), PropagationParams())


AS_OF = dt.date(2024, 3, 31)


def purchase(i, user, item, day):
    return event_at(f"e{i}", dt.datetime.combine(day, dt.time(10)), user, item, f"o{i}")


def test_recommender_scores_graph_neighbours_by_cosine_to_the_users_profile(spark):
    events = spark.createDataFrame([
        purchase(1, "u1", "a", AS_OF),
        purchase(2, "u4", "c", AS_OF - dt.timedelta(days=60)),  # one half-life old
        purchase(3, "u4", "b", AS_OF),
        purchase(4, "u2", "e", AS_OF),  # e has no edge: no candidates
        purchase(5, "u1", "d", AS_OF + dt.timedelta(days=1)),  # after as_of: ignored
        ("v1", dt.datetime(2024, 3, 30, 9), "u3", None, None, "a", "view", 1, None, "t", AS_OF),  # no purchase
    ], EVENTS_SCHEMA)
    users = spark.createDataFrame([("u1",), ("u2",), ("u3",), ("u4",)], "user_id string")
    graph = spark.createDataFrame(EDGES, PAIR_SCHEMA)  # one direction suffices: weights are symmetrised
    propagation = PropagationParams(steps=2)
    params = GraphRecParams(k=5, recent_items=5, half_life_days=60.0, hops=2, propagation=propagation)
    got = recommend_propagated(events, graph, embeddings(spark, TEXT), embeddings(spark, BEHAVIOUR), users, AS_OF,
                               params)
    rows = [(r["user_id"], r["rank"], r["item_id"], r["score"], r["source"]) for r in got.orderBy("user_id", "rank").collect()]

    # the graph is symmetrised: w_sym = w / 2 both ways, so numpy works on half weights
    half = [(s, t, w / 2) for s, t, w in EDGES]
    z = numpy_z(propagation, half)

    def unit(v):
        return v / np.linalg.norm(v)

    def expected_for(seeds):
        profile = unit(sum(w * unit(z[i]) for i, w in seeds.items()))
        reach = {"a": {"b", "c"}, "b": {"a", "c", "d"}, "c": {"a", "b", "d"}}  # within 2 hops
        candidates = set().union(*(reach[s] for s in seeds)) - set(seeds)
        scores = {c: float(profile @ unit(z[c])) for c in candidates}
        return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))

    expected = []
    for user, seeds in (("u1", {"a": 1.0}), ("u4", {"b": 1.0, "c": 0.5})):
        expected += [(user, rank, item, score, "graph_propagation")
                     for rank, (item, score) in enumerate(expected_for(seeds), start=1)]
    assert [r[:3] for r in rows] == [r[:3] for r in expected]
    for got_row, want in zip(rows, expected):
        assert got_row[3] == pytest.approx(want[3], abs=1e-6)  # vectors are stored as float32
    assert ("u4", "d") in {(r[0], r[2]) for r in rows}  # the cold item is recommended

