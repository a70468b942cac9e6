"""jobs/graph.py end to end on a tiny shop: kitchen and garden baskets, one crossing order, a cold item."""

from __future__ import annotations

import datetime as dt
import math

import pytest
from pyspark.sql import functions as F

from jobs.graph import main, parse_args, run
from lib.config import ConfigError
from lib.schemas.events import EVENTS, EVENTS_SCHEMA, ITEMS, ITEMS_SCHEMA
from lib.schemas.graph import (
    CROSS_CATEGORY_BRIDGES, EMBEDDINGS_SCHEMA, GRAPH_BUNDLES, ITEM_COMMUNITIES, ITEM_EMBEDDINGS, ITEM_GRAPH,
    ITEM_GRAPH_EMBEDDINGS,
)

RUN_DATE = dt.date(2024, 3, 31)
DAY = dt.date(2024, 3, 30)
ORDERS = {"o1": "abc", "o2": "abc", "o3": "abc", "o4": "abc", "o5": "xyz", "o6": "xyz", "o7": "cx"}


@pytest.fixture
def shop(spark, store):
    rows = []
    for order, items in ORDERS.items():
        for item in items:
            time = dt.datetime(2024, 3, 30, 12) + dt.timedelta(minutes=len(rows))
            rows.append((f"e{len(rows)}", time, "u1", None, order, item, "purchase", 1, 1.0, "test", DAY))
    store.append(EVENTS, spark.createDataFrame(rows, EVENTS_SCHEMA))
    catalogue = [(i, i.upper(), "kitchen", "home/kitchen", 2.0) for i in "abck"]
    catalogue += [(i, i.upper(), "tools", "garden/tools", 3.0) for i in "xyz"]
    items = [(*row, dt.date(2024, 1, 1), RUN_DATE) for row in catalogue]
    store.overwrite(ITEMS, spark.createDataFrame(items, ITEMS_SCHEMA), partition_by=())
    # text embeddings (the embed branch's table): k is cold (no purchases) and close to a
    text = spark.createDataFrame([("a", [1.0, 0.0]), ("k", [0.99, 0.1]), ("x", [0.0, 1.0])], EMBEDDINGS_SCHEMA)
    store.replace_partitions(ITEM_EMBEDDINGS, text.withColumn("dt", F.lit(DAY)))
    return store


def job_config(warehouse: str, *extra: str):
    return parse_args([
        "--date", RUN_DATE.isoformat(), "--set", f"storage.warehouse={warehouse}", "--set", "storage.engine=embedded",
        "--set", "window_days=7", "--set", "graph.signals.min_co_count=1", "--set", "graph.signals.cosine_k=2",
        "--set", "graph.fusion.weights.text=1.0", "--set", "graph.communities.min_weight=0.5",
        "--set", "graph.bridges.min_weight=0.2", "--set", "graph.bundles.min_weight=0.5",
        "--set", "graph.bundles.privacy_min_count=3", "--set", "graph.pagerank.iterations=3", "--set", "graph.communities.max_iterations=3",
        "--set", "graph.propagation.steps=1", "--set", "graph.communities.hubs=2", *extra,
    ])


def test_graph_job_end_to_end_and_rerun_replaces(spark, shop, warehouse, capsys):
    summary = run(spark, job_config(warehouse))
    edges = {(r["src_item_id"], r["dst_item_id"]): r for r in shop.read(ITEM_GRAPH).collect()}
    # co-occurrence only (no rules / ALS tables) + text: weight = co_cosine + 1.0 * max(text cosine, 0)
    assert edges[("a", "b")]["weight"] == pytest.approx(4 / math.sqrt(4 * 4))
    assert edges[("a", "c")]["co_count"] == 4 and edges[("a", "c")]["weight"] == pytest.approx(4 / math.sqrt(4 * 5))
    assert edges[("c", "x")]["weight"] == pytest.approx(1 / math.sqrt(5 * 3))
    cos_ak = 0.99 / math.sqrt(0.99 ** 2 + 0.01)
    assert edges[("k", "a")]["text_cosine"] == pytest.approx(cos_ak, abs=1e-6)
    assert edges[("k", "a")]["co_count"] is None and edges[("k", "a")]["rule_lift"] is None
    assert ("a", "x") not in edges  # text cosine 0: weight 0

    communities = shop.read(ITEM_COMMUNITIES).collect()
    groups = {}
    for row in communities:
        groups.setdefault(row["community_id"], set()).add(row["item_id"])
    assert sorted(map(sorted, groups.values())) == [["a", "b", "c", "k"], ["x", "y", "z"]]
    names = {r["item_id"]: r["community_name"] for r in communities}
    assert names["k"].startswith("home: ") and names["k"].endswith("(+3 more)")
    assert names["y"].startswith("garden: ")
    assert sum(r["pagerank"] for r in communities) == pytest.approx(1.0)
    by_rank = sorted(communities, key=lambda r: (-r["pagerank"], r["item_id"]))
    assert {r["item_id"] for r in communities if r["is_hub"]} == {r["item_id"] for r in by_rank[:2]}  # hubs = 2

    bridges = shop.read(CROSS_CATEGORY_BRIDGES).collect()
    assert [(r["rank"], r["item_a"], r["item_b"], r["kind"], r["co_count"]) for r in bridges] == [
        (1, "c", "x", "community_and_category", 1)]
    printed = capsys.readouterr().out
    assert "1. C (home) <-> X (garden): community_and_category, weight 0.258" in printed

    bundles = {tuple(r["items"]): (r["count"], r["status"]) for r in shop.read(GRAPH_BUNDLES).collect()}
    assert bundles == {("a", "b", "c"): (4, "kept"), ("x", "y", "z"): (2, "privacy")}

    embedded = {r["item_id"] for r in shop.read(ITEM_GRAPH_EMBEDDINGS).collect()}
    assert {"a", "k", "x"} <= embedded  # text items, and their neighbours reached in one step
    assert summary[ITEM_GRAPH] == len(edges) and summary["communities"] == 2

    run(spark, job_config(warehouse))  # a re-run replaces the date's partitions
    assert shop.read(ITEM_GRAPH).count() == len(edges)


def test_bad_config_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match="cap_mode"):
        job_config(str(tmp_path), "--set", "graph.fusion.cap_mode=both")
    with pytest.raises(ConfigError, match="window_days"):
        job_config(str(tmp_path), "--set", "window_days=0")
    assert main(["--date", "2024-03-31", "--set", "graph.fusion.weights.price=1"]) == 2
