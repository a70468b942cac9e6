"""lib.graph communities, PageRank, bridges and bundles on tiny graphs with hand-computed answers."""

from __future__ import annotations

import numpy as np
from chispa import assert_df_equality
from pyspark.sql import types as T

from lib.graph.bridges import cross_category_bridges
from lib.graph.bundles import BundleParams, community_cliques, graph_bundles
from lib.graph.communities import CommunityParams, detect_communities, graph_nodes
from lib.graph.fusion import symmetric_weights
from lib.graph.pagerank import PageRankParams, pagerank
from lib.schemas.graph import EDGES_SCHEMA, EVIDENCE_COLUMNS

PAIR_SCHEMA = T.StructType([
    T.StructField("src_item_id", T.StringType(), False),
    T.StructField("dst_item_id", T.StringType(), False),
    T.StructField("weight", T.DoubleType(), False),
])


def undirected(spark, pairs):
    rows = [(a, b, w) for a, b, w in pairs] + [(b, a, w) for a, b, w in pairs]
    return spark.createDataFrame(rows, PAIR_SCHEMA)


# Two triangles {a b c} and {d e f}, strong inside (0.9), joined by a weak c-d edge (0.1);
# g-h a strong pair; x only weakly linked to a (0.05).
TWO_TRIANGLES = [("a", "b", 0.9), ("b", "c", 0.9), ("a", "c", 0.9), ("d", "e", 0.9), ("e", "f", 0.9),
                 ("d", "f", 0.9), ("c", "d", 0.1), ("g", "h", 0.8), ("a", "x", 0.05)]
EXPECTED = {"a": "a", "b": "a", "c": "a", "d": "d", "e": "d", "f": "d", "g": "g", "h": "g", "x": "x"}


def communities_of(spark, method):
    sym = undirected(spark, TWO_TRIANGLES)
    params = CommunityParams(method=method, min_weight=0.2, max_iterations=6)
    return {r["item_id"]: r["community_id"] for r in detect_communities(graph_nodes(sym), sym, params).collect()}


def test_label_propagation_finds_the_triangles_and_leaves_weakly_linked_items_alone(spark):
    assert communities_of(spark, "label_propagation") == EXPECTED


def test_connected_components_over_strong_edges(spark):
    assert communities_of(spark, "connected_components") == EXPECTED


def test_label_propagation_does_not_oscillate_on_a_pair(spark):
    sym = undirected(spark, [("p", "q", 1.0)])
    got = detect_communities(graph_nodes(sym), sym, CommunityParams(max_iterations=5, min_weight=0.0))
    assert {r["item_id"]: r["community_id"] for r in got.collect()} == {"p": "p", "q": "p"}


def numpy_pagerank(nodes, edges, d, iterations):
    index = {n: i for i, n in enumerate(nodes)}
    n = len(nodes)
    m = np.zeros((n, n))
    for s, t, w in edges:
        m[index[s], index[t]] += w
    out = m.sum(axis=1)
    p = np.divide(m, out[:, None], out=np.zeros_like(m), where=out[:, None] > 0)
    r = np.full(n, 1.0 / n)
    for _ in range(iterations):
        dangling = r[out == 0].sum()
        r = (1 - d) / n + d * (r @ p + dangling / n)
    return {node: r[index[node]] for node in nodes}


def test_pagerank_matches_a_numpy_power_iteration(spark):
    # directed, weighted, with a dangling node (z has no out-edge) and a node with no in-edge (s)
    edges = [("a", "b", 1.0), ("b", "a", 2.0), ("b", "c", 1.0), ("c", "a", 0.5), ("c", "z", 0.5),
             ("s", "a", 1.0), ("a", "c", 3.0)]
    frame = spark.createDataFrame(edges, PAIR_SCHEMA)
    got = pagerank(graph_nodes(frame), frame, PageRankParams(damping=0.85, iterations=8))
    got = {r["item_id"]: r["pagerank"] for r in got.collect()}
    expected = numpy_pagerank(sorted(got), edges, 0.85, 8)
    assert got.keys() == expected.keys()
    for node, value in expected.items():
        assert abs(got[node] - value) < 1e-12, node
    assert abs(sum(got.values()) - 1.0) < 1e-12


COMMUNITY_SCHEMA = T.StructType([
    T.StructField("item_id", T.StringType(), False), T.StructField("title", T.StringType(), True),
    T.StructField("top_category", T.StringType(), True), T.StructField("community_id", T.StringType(), False),
])


def edge_rows(spark, rows):
    """EDGES_SCHEMA rows from (src, dst, weight, rule_lift, co_count); other evidence null."""
    full = []
    for src, dst, weight, lift, co in rows:
        evidence = {c: None for c in EVIDENCE_COLUMNS}
        evidence.update(rule_lift=lift, co_count=co)
        full.append((src, dst, *[evidence[c] for c in EVIDENCE_COLUMNS], False, weight, 1))
    return spark.createDataFrame(full, EDGES_SCHEMA)


def test_bridges_are_ranked_by_weight_with_kind_and_evidence(spark):
    edges = edge_rows(spark, [
        ("a", "b", 0.9, 3.0, 10), ("b", "a", 0.7, 3.0, 10),  # same community, same category: no bridge
        ("b", "d", 0.6, 2.0, 4),  # other community, other category
        ("d", "b", 0.8, 2.0, 4),  # the stronger direction gives the weight
        ("a", "e", 0.5, None, 7),  # same community, other category
        ("c", "f", 0.4, 1.5, None),  # other community, same category
        ("a", "f", 0.1, 1.1, 1),  # too weak
        ("a", "n", 0.9, 2.0, 3),  # n has no known category, same community: no bridge
    ])
    communities = spark.createDataFrame([
        ("a", "Apple", "home", "a"), ("b", "Bread", "home", "a"), ("c", "Cup", "home", "a"),
        ("d", "Drill", "garden", "d"), ("e", "Egg", "food", "a"), ("f", "Fork", "home", "d"),
        ("n", None, None, "a"),
    ], COMMUNITY_SCHEMA)
    got = cross_category_bridges(edges, communities, min_weight=0.3, top_n=10).select(
        "rank", "item_a", "item_b", "kind", "weight", "rule_lift", "co_count")
    expected = spark.createDataFrame(
        [(1, "b", "d", "community_and_category", 0.8, 2.0, 4), (2, "a", "e", "category", 0.5, None, 7),
         (3, "c", "f", "community", 0.4, 1.5, None)],
        "rank int, item_a string, item_b string, kind string, weight double, rule_lift double, co_count long",
    )
    assert_df_equality(got, expected, ignore_nullable=True)
    top_one = cross_category_bridges(edges, communities, min_weight=0.3, top_n=1)
    assert [(r["item_a"], r["item_b"]) for r in top_one.collect()] == [("b", "d")]


BASKET_SCHEMA = "basket_id string, item_id string"
ITEMS_SCHEMA = "item_id string, title string, latest_price double"


def test_cliques_are_maximal_within_a_community_and_bundles_get_privacy_status(spark):
    # community A: a 4-clique {a b c d} plus a triangle {c d e} sharing c-d; e-a missing.
    # community B: triangle {x y z}; the strong x-a edge crosses communities and is ignored.
    pairs = [("a", "b", 0.9), ("a", "c", 0.8), ("a", "d", 0.7), ("b", "c", 0.9), ("b", "d", 0.6),
             ("c", "d", 0.9), ("c", "e", 0.5), ("d", "e", 0.5), ("x", "y", 0.9), ("y", "z", 0.9),
             ("x", "z", 0.4), ("x", "a", 0.9), ("y", "q", 0.1)]
    sym = undirected(spark, pairs)
    labels = {**{i: "A" for i in "abcde"}, **{i: "B" for i in "xyzq"}}
    communities = spark.createDataFrame(list(labels.items()), "item_id string, community_id string")
    params = BundleParams(min_weight=0.3, min_size=3, max_size=4, max_per_community=5, privacy_min_count=2)
    cliques = community_cliques(sym, communities, params)
    got = {(tuple(r["items"]), r["community_id"], round(r["min_weight"], 6)) for r in cliques.collect()}
    assert got == {(("a", "b", "c", "d"), "A", 0.6), (("c", "d", "e"), "A", 0.5), (("x", "y", "z"), "B", 0.4)}

    baskets = spark.createDataFrame(
        [("o1", i) for i in "abcd"] + [("o2", i) for i in "abcd"] + [("o3", i) for i in "abc"]
        + [("o4", i) for i in "cde"] + [("o5", i) for i in "xyz"] + [("o6", "x")],
        BASKET_SCHEMA,
    )
    items = spark.createDataFrame(
        [("a", "A", 1.0), ("b", "B", 2.0), ("c", "C", 3.0), ("d", "D", 4.0), ("e", "E", None),
         ("x", "X", 1.0), ("y", None, 1.0), ("z", "Z", 1.0)], ITEMS_SCHEMA)
    bundles = graph_bundles(cliques, baskets, items, n_baskets=6, privacy_min_count=2)
    got = bundles.select("items", "titles", "size", "count", "support", "all_confidence", "bundle_price", "status")
    expected = spark.createDataFrame(
        [(["a", "b", "c", "d"], ["A", "B", "C", "D"], 4, 2, 2 / 6, 2 / 4, 10.0, "kept"),
         (["c", "d", "e"], ["C", "D", "E"], 3, 1, 1 / 6, 1 / 4, None, "privacy"),
         (["x", "y", "z"], ["X", None, "Z"], 3, 1, 1 / 6, 1 / 2, 3.0, "privacy")],
        "items array<string>, titles array<string>, size int, count long, support double, "
        "all_confidence double, bundle_price double, status string",
    )
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_symmetric_weights_average_both_directions(spark):
    edges = spark.createDataFrame([("a", "b", 1.0), ("b", "a", 0.5), ("a", "c", 0.4)], PAIR_SCHEMA)
    expected = spark.createDataFrame(
        [("a", "b", 0.75), ("b", "a", 0.75), ("a", "c", 0.2), ("c", "a", 0.2)], PAIR_SCHEMA)
    assert_df_equality(symmetric_weights(edges), expected, ignore_row_order=True, ignore_nullable=True)
