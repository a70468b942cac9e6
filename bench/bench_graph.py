"""Benchmark: the product graph's build and propagation wall times; the graph recommender on a split.

    .venv/bin/python bench/bench_graph.py online_retail [--warehouse /tmp/cobuy-or]
    .venv/bin/python bench/bench_graph.py synthetic [--items 100000]

online_retail: `jobs/ingest.py` (whole year; skipped when the warehouse has `events`) -> `jobs/fpgrowth.py`
-> `jobs/als.py` -> `jobs/graph.py` with spark-submit (each job's wall time printed), then in this
process, on the graph job's own config (delta-spark, adaptive execution off as in the job): the graph
build (signals + fusion + cap, materialised), the analytics (PageRank, communities, bridges, bundles)
and the propagation, each timed. The graph source measured on the Online Retail split, beside every
other source and the hybrid, is bench/bench_evaluate_online_retail.py (jobs/evaluate.py).

synthetic: a shop generated in Spark (`--items` items in categories of 100, `--orders` orders of 2-6
items, 85% from one category) with 32-dimensional behaviour vectors per item (category centre +
noise) standing in for ALS factors; times the same phases. Figures, not assertions: one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
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
from lib.jobkit import open_store
from lib.session import build_session

from job_process import local_job_command, run_job_process  # noqa: E402 - bench/ is on sys.path
from shared_datasets import DATASETS, PROJECT_ROOT  # noqa: E402 - bench/ is on sys.path

sys.path.insert(0, str(PROJECT_ROOT))  # jobs/ (read_inputs of jobs/graph.py) is not an installed package

FIRST_DAY, LAST_DAY = dt.date(2010, 12, 1), dt.date(2011, 12, 9)
WHOLE_YEAR_DAYS = (LAST_DAY - FIRST_DAY).days + 1
SESSION_OVERRIDES = ["spark.master=local[2]", "spark.driver.memory=4g", "spark.sql.shuffle.partitions=4",
                     "spark.ui.showConsoleProgress=false"]


def graph_config(warehouse: str | None):
    """jobs/graph.py's config (conf/graph.toml + local overlay) on the warehouse; the session of its Spark conf."""
    from jobs.graph import parse_args

    storage = [f"storage.warehouse={warehouse}"] if warehouse else []
    config = parse_args(["--env", "local", "--date", LAST_DAY.isoformat(), "--set", f"window_days={WHOLE_YEAR_DAYS}",
                         *[x for o in [*storage, *SESSION_OVERRIDES] for x in ("--set", o)]])
    spark = build_session("cobuy-bench-graph", config.spark_conf)
    spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set("spark.sql.adaptive.enabled", "false")  # as jobs/graph.py: localCheckpoint in iterations
    if config.storage.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(config.storage.checkpoint_dir)
    return config, spark


def timed(label: str, action):
    started = time.perf_counter()
    value = action()
    seconds = time.perf_counter() - started
    print(f"  {label:<44} {seconds:8.1f} s", flush=True)
    return value, seconds


def submit(job: str, job_args: list[str], env: dict[str, str]) -> float:
    run = run_job_process(job, local_job_command(sys.executable, job, job_args), env)
    print(f"{job}: {run.wall_s:.1f} s wall ({run.summary[:300]})", flush=True)
    for line in run.stdout.splitlines():
        if line.startswith(("graph ", "  1.", "  2.", "  3.")):
            print("  " + line)
    return run.wall_s


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
    warehouse = str(Path(args.warehouse).resolve()) if args.warehouse else tempfile.mkdtemp(prefix="cobuy-bench-graph-or-")
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable,
           "COBUY_PSEUDONYM_SECRET": os.environ.get("COBUY_PSEUDONYM_SECRET", "bench-secret")}
    storage = ["--set", f"storage.warehouse={warehouse}", "--set", "spark.master=local[2]",
               "--set", "spark.ui.showConsoleProgress=false"]
    date = ["--date", LAST_DAY.isoformat()]
    try:
        if not args.reuse:
            if not (Path(warehouse) / "events" / "_delta_log").is_dir():
                submit("ingest", ["--from", FIRST_DAY.isoformat(), "--to", LAST_DAY.isoformat(),
                                  "--set", "source=online_retail", "--input", str(args.data), *storage], env)
            submit("fpgrowth", [*date, "--set", f"window_days={WHOLE_YEAR_DAYS}", "--set", "min_support=0.01",
                                "--set", "min_count=0", *storage], env)
            submit("als", [*date, "--set", f"recommender.window_days={WHOLE_YEAR_DAYS}", "--set", "save_model=false", *storage], env)
        submit("graph", [*date, "--set", f"window_days={WHOLE_YEAR_DAYS}", *storage], env)
        from jobs.graph import read_inputs

        config, spark = graph_config(warehouse)
        try:
            inputs = read_inputs(open_store(spark, config), config.catalog(), config.params, LAST_DAY)
            signals = [name for name in ("association_rules", "bought_together", "als_pairs", "als_factors", "text",
                                         "behaviour", "next_items") if getattr(inputs, name) is not None]
            print(f"Online Retail, in-process phases (signal tables found: {', '.join(signals)}):")
            time_graph(inputs, config.params.graph,
                       inputs.behaviour if inputs.behaviour is not None else inputs.als_factors)
        finally:
            spark.stop()
    finally:
        if not args.keep and not args.warehouse:
            shutil.rmtree(warehouse, ignore_errors=True)


def synthetic(args: argparse.Namespace) -> None:
    config, spark = graph_config(None)
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
        time_graph(GraphInputs(events=events, items=items), config.params.graph, behaviour)
    finally:
        spark.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=("online_retail", "synthetic"))
    parser.add_argument("--data", type=Path, default=DATASETS / "online_retail")
    parser.add_argument("--warehouse", default=None, help="use (and keep) this warehouse")
    parser.add_argument("--reuse", action="store_true", help="the warehouse already has events, rules, factors")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--orders", type=int, default=300_000)
    args = parser.parse_args()
    online_retail(args) if args.dataset == "online_retail" else synthetic(args)


if __name__ == "__main__":
    main()
