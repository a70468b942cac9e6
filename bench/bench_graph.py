"""Benchmark: the product graph's build and propagation wall times; the graph recommender on a split.

    flock /work/locks/heavy.lock .venv/bin/python bench/bench_graph.py online_retail [--evaluate]
    flock /work/locks/heavy.lock .venv/bin/python bench/bench_graph.py synthetic [--items 100000]

online_retail: `jobs/ingest.py` (whole year) -> `jobs/fpgrowth.py` -> `jobs/als.py` with spark-submit
into a temporary warehouse (each job's wall time printed), then in this process: the graph build
(signals + fusion + cap, materialised), the analytics (PageRank, communities, bridges, bundles) and
the propagation, each timed, and `jobs/graph.py`'s bridges. `--evaluate` adds the Online Retail split
of bench/bench_evaluate_online_retail.py (final window: train up to 2011-09-30, test 2011-10-01..
2011-12-09; hybrid weights chosen on the tuning window 2011-09-01..30): recall@10 etc. of
co_occurrence, als, graph_propagation and the hybrid with and without the graph source.

synthetic: a shop generated in Spark (`--items` items in categories of 100, `--orders` orders of 2-6
items, 85% from one category) with 32-dimensional behaviour vectors per item (category centre +
noise) standing in for ALS factors; times the same phases. Figures, not assertions: one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.graph.arrays import cut_lineage
from lib.graph.bridges import cross_category_bridges
from lib.graph.bundles import community_cliques
from lib.graph.communities import detect_communities, graph_nodes, name_communities
from lib.graph.fusion import symmetric_weights
from lib.graph.pagerank import pagerank
from lib.graph.pipeline import GraphInputs, GraphParams, build_item_graph, propagated_embeddings
from lib.session import build_session

from shared_datasets import DATASETS, PROJECT_ROOT  # noqa: E402 - bench/ is on sys.path

FIRST_DAY, LAST_DAY = dt.date(2010, 12, 1), dt.date(2011, 12, 9)
WHOLE_YEAR_DAYS = (LAST_DAY - FIRST_DAY).days + 1
SESSION_CONF = {"spark.master": "local[2]", "spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "4",
                "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}


def timed(label: str, action):
    started = time.perf_counter()
    value = action()
    seconds = time.perf_counter() - started
    print(f"  {label:<44} {seconds:8.1f} s", flush=True)
    return value, seconds


def submit(job: str, job_args: list[str], env: dict[str, str]) -> float:
    spark_submit = Path(sys.executable).parent / "spark-submit"
    command = [str(spark_submit), "--driver-memory", "4g", "--driver-java-options", "-Xss32m",
               f"jobs/{job}.py", "--env", "local", *job_args]
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
    wall = time.monotonic() - started
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise SystemExit(f"{job} failed (exit {result.returncode}) after {wall:.1f}s:\n{output[-4000:]}")
    summary = [line for line in output.splitlines() if " ok in " in line]
    print(f"{job}: {wall:.1f} s wall ({summary[-1].split(' ok in ', 1)[-1][:300] if summary else '?'})", flush=True)
    printed = [line for line in result.stdout.splitlines() if line.startswith(("graph ", "  1.", "  2.", "  3."))]
    for line in printed:
        print("  " + line)
    return wall


def time_graph(inputs: GraphInputs, params: GraphParams, behaviour: DataFrame | None) -> dict[str, float]:
    """The phases of lib.graph.pipeline.graph_tables, each materialised and timed."""
    figures = {}
    edges, figures["build"] = timed("graph build (signals + fusion + cap)", lambda: build_item_graph(inputs, params))
    n_edges = edges.count()
    symmetric = cut_lineage(symmetric_weights(edges))
    nodes = cut_lineage(graph_nodes(edges))
    print(f"    {nodes.count()} items, {n_edges} directed edges", flush=True)
    weights = edges.select("src_item_id", "dst_item_id", "weight")
    ranks, figures["pagerank"] = timed(f"pagerank ({params.pagerank.iterations} iterations)",
                                       lambda: cut_lineage(pagerank(nodes, weights, params.pagerank)))
    labels, figures["communities"] = timed(f"communities ({params.communities.method})",
                                           lambda: cut_lineage(detect_communities(nodes, symmetric, params.communities)))
    print(f"    {labels.select('community_id').distinct().count()} communities", flush=True)
    named = cut_lineage(name_communities(labels, ranks, inputs.items, params.communities.hubs))
    _, figures["bridges"] = timed("bridges", lambda: cross_category_bridges(
        edges, named, params.bridges.min_weight, params.bridges.top_n).count())
    cliques, figures["bundles"] = timed("bundle cliques", lambda: cut_lineage(community_cliques(symmetric, named, params.bundles)))
    print(f"    {cliques.count()} bundle candidates", flush=True)
    if behaviour is not None or inputs.text is not None:
        z, figures["propagation"] = timed(
            f"propagation (K={params.propagation.steps})",
            lambda: cut_lineage(propagated_embeddings(inputs.text, behaviour, symmetric, params.propagation)))
        print(f"    {z.count()} propagated vectors", flush=True)
    return figures


def online_retail(args: argparse.Namespace) -> None:
    warehouse = args.warehouse or tempfile.mkdtemp(prefix="cobuy-bench-graph-or-")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable,
           "COBUY_PSEUDONYM_SECRET": os.environ.get("COBUY_PSEUDONYM_SECRET", "bench-secret")}
    storage = ["--set", f"storage.warehouse={warehouse}", "--set", "storage.engine=embedded",
               "--set", "spark.master=local[2]", "--set", "spark.ui.showConsoleProgress=false"]
    date = ["--date", LAST_DAY.isoformat()]
    try:
        if not args.reuse:
            submit("ingest", ["--from", FIRST_DAY.isoformat(), "--to", LAST_DAY.isoformat(),
                              "--set", "source=online_retail", "--input", str(args.data), *storage], env)
            submit("fpgrowth", [*date, "--set", f"window_days={WHOLE_YEAR_DAYS}", "--set", "min_support=0.01",
                                "--set", "min_count=0", *storage], env)
            submit("als", [*date, "--set", f"window_days={WHOLE_YEAR_DAYS}", "--set", "save_model=false", *storage], env)
        if not args.only_evaluate:
            submit("graph", [*date, "--set", f"window_days={WHOLE_YEAR_DAYS}", *storage], env)
        spark = build_session("cobuy-bench-graph", SESSION_CONF)
        spark.sparkContext.setLogLevel("ERROR")
        try:
            from jobs.graph import GraphJobParams, read_inputs
            from lib.storage import TableStore

            store = TableStore(spark, warehouse, "embedded")
            params = GraphJobParams(window_days=WHOLE_YEAR_DAYS)
            inputs = read_inputs(store, params, LAST_DAY)
            if not args.only_evaluate:
                print("Online Retail, in-process phases:")
                time_graph(inputs, params.graph, inputs.behaviour if inputs.behaviour is not None else inputs.als_factors)
            if args.evaluate or args.only_evaluate:
                evaluate(spark, store)
        finally:
            spark.stop()
    finally:
        if not args.keep and not args.warehouse:
            shutil.rmtree(warehouse, ignore_errors=True)


def evaluate(spark: SparkSession, store) -> None:
    """The graph source beside co_occurrence / als / hybrid on the Online Retail split."""
    import dataclasses

    from lib.graph.pipeline import graph_candidates
    from lib.graph.recommend import GraphRecParams
    from lib.recs.als import item_factors
    from lib.recs.evaluation import (
        RecommenderSettings, baseline_candidates, measure, prepare_window, split_windows,
    )
    from lib.recs.hybrid import recommend_hybrid
    from lib.recs.pipeline import als_training_set, recommend_als_with_cold_start, train_als
    from lib.schemas.events import EVENTS, ITEMS

    events = store.read(EVENTS).cache()
    items = store.read(ITEMS)
    settings = dataclasses.replace(RecommenderSettings(), popularity_window_days=30)
    rec_params = GraphRecParams(k=settings.candidate_depth)
    graph_params = GraphParams()
    chosen = None
    for window in split_windows(LAST_DAY, 70, tuning_horizon_days=30):
        data = prepare_window(events, window)
        as_of = window.train_end
        candidates = baseline_candidates(data, settings)
        fitted = train_als(als_training_set(data.training, as_of, settings.event_weights,
                                            settings.confidence_half_life_days, settings.min_user_items), settings.als)
        candidates["als"] = recommend_als_with_cold_start(
            fitted, data.training, items, data.users, as_of, settings.candidate_depth, exclude_bought=False,
            popularity_window_days=settings.popularity_window_days).localCheckpoint()
        factors = item_factors(fitted.model, fitted.item_ids).select("item_id", F.col("features").alias("vector"))
        (candidates["graph"], seconds) = timed(f"{window.name}: graph candidates", lambda: graph_candidates(
            data.training, items, data.users, as_of, graph_params, rec_params, behaviour=factors).localCheckpoint())
        candidates = {name: frame.localCheckpoint() for name, frame in candidates.items()}

        def recall(frame):
            rows = measure(data, frame, 10)
            return {r["slice"]: r["value"] for r in rows if r["metric"] == "recall"}

        def hybrid(weights):
            return recommend_hybrid(candidates, weights, settings.candidate_depth, "rank")

        if window.name == "tuning":
            best = {}
            for with_graph in (False, True):
                for co in (0.3, 1.0):
                    for als in (0.3, 1.0):
                        for graph in ((0.3, 1.0) if with_graph else (0.0,)):
                            weights = {"popularity": 0.1, "buy_again": 1.0, "co_occurrence": co, "als": als, "graph": graph}
                            value = recall(hybrid(weights))["new_items"]
                            if value > best.get(with_graph, (-1.0, None))[0]:
                                best[with_graph] = (value, weights)
            chosen = {flag: weights for flag, (_, weights) in best.items()}
            print(f"  tuning: chosen hybrid weights {chosen}", flush=True)
            continue
        print(f"Online Retail split ({window.describe()}), recall@10:")
        print(f"  {'model':<26} {'all':>8} {'new_items':>10}")
        rows = {name: recall(candidates[name]) for name in ("co_occurrence", "als", "graph")}
        rows["hybrid (no graph)"] = recall(hybrid(chosen[False]))
        rows["hybrid + graph"] = recall(hybrid(chosen[True]))
        for name, values in rows.items():
            print(f"  {name:<26} {values['all']:8.4f} {values['new_items']:10.4f}", flush=True)


def synthetic(args: argparse.Namespace) -> None:
    spark = build_session("cobuy-bench-graph-synthetic", SESSION_CONF)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        n_items, n_orders, per_category, dim = args.items, args.orders, 100, 32
        day = dt.date(2024, 3, 31)
        orders = spark.range(n_orders).select(
            F.col("id").alias("order"), (F.rand(1) * (n_items // per_category)).cast("long").alias("category"),
            (F.lit(2) + (F.rand(2) * 5).cast("int")).alias("size"))
        lines = orders.select("order", "category", F.explode(F.sequence(F.lit(1), F.col("size"))).alias("slot"))
        own = F.rand(3) < F.lit(0.85)
        item = F.when(own, F.col("category") * per_category + (F.pow(F.rand(4), 2) * per_category).cast("long")) \
            .otherwise((F.rand(5) * n_items).cast("long"))
        events = cut_lineage(lines.select(
            F.concat(F.lit("e"), F.col("order").cast("string"), F.lit("-"), F.col("slot").cast("string")).alias("event_id"),
            F.lit(dt.datetime(2024, 3, 30, 12)).alias("event_time"), F.concat(F.lit("u"), (F.col("order") % 50000).cast("string")).alias("user_id"),
            F.lit(None).cast("string").alias("session_id"), F.col("order").cast("string").alias("order_id"),
            item.cast("string").alias("item_id"), F.lit("purchase").alias("event_type"), F.lit(1).alias("quantity"),
            F.lit(1.0).alias("unit_price"), F.lit("synthetic").alias("source"), F.lit(day).alias("dt")))
        items = spark.range(n_items).select(
            F.col("id").cast("string").alias("item_id"), F.concat(F.lit("item "), F.col("id").cast("string")).alias("title"),
            (F.col("id") / per_category).cast("long").cast("string").alias("category"),
            F.concat((F.col("id") / (per_category * 10)).cast("long").cast("string"), F.lit("/"),
                     (F.col("id") / per_category).cast("long").cast("string")).alias("category_path"),
            F.lit(1.0).alias("latest_price"))
        centre = [F.sin((F.col("id") / per_category).cast("long") * F.lit(j + 1)) for j in range(dim)]
        behaviour = cut_lineage(spark.range(n_items).select(
            F.col("id").cast("string").alias("item_id"),
            F.array(*[c + (F.rand(10 + j) - 0.5) * 0.5 for j, c in enumerate(centre)]).cast("array<float>").alias("vector")))
        print(f"synthetic shop: {n_items} items, {n_orders} orders, {events.count()} purchase lines")
        params = GraphParams()
        time_graph(GraphInputs(events=events, items=items), params, behaviour)
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("online_retail", "synthetic"))
    parser.add_argument("--data", type=Path, default=DATASETS / "online_retail")
    parser.add_argument("--warehouse", default=None, help="use (and keep) this warehouse")
    parser.add_argument("--reuse", action="store_true", help="the warehouse already has events, rules, factors")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--evaluate", action="store_true")
    parser.add_argument("--only-evaluate", action="store_true", help="with --reuse: only the split evaluation")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=300_000)
    args = parser.parse_args()
    online_retail(args) if args.dataset == "online_retail" else synthetic(args)


if __name__ == "__main__":
    main()
