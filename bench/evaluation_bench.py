"""What the evaluation benchmarks share: a job run as its own process, the MovieLens-style copy of
a warehouse (one purchase per user and item), and the final window's table with the verdict on the
hybrid against its best part (bench_evaluate_online_retail.py, bench_evaluate_no_repeat.py)."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lib.schemas.evaluation import EVALUATION_METRICS, WINDOW_FINAL
from lib.schemas.events import EVENTS, ITEMS
from lib.schemas.text import ITEM_EMBEDDINGS
from lib.session import build_session
from lib.storage import TableStore
from job_process import local_job_command, run_job_process

JOB_ENV = {"COBUY_PSEUDONYM_SECRET": "bench-secret"}
SESSION_CONF = {"spark.master": "local[2]", "spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "4",
                "spark.ui.enabled": "false"}
VIEWS = ("window", "next_basket")
SLICES = ("all", "new_items", "cold_items")


def has_table(warehouse: str, table: str) -> bool:
    return (Path(warehouse) / table / "_delta_log").is_dir()


def run_job_timed(name: str, *args: str) -> float:
    """One job as its own process (like spark-submit), wall time incl. JVM start; fails loudly."""
    print(f"running: jobs/{name}.py {' '.join(args)}", flush=True)
    done = run_job_process(name, local_job_command(sys.executable, name, args),
                           {**os.environ, **JOB_ENV, "PYSPARK_PYTHON": sys.executable})
    print(done.stdout, end="")
    print(f"jobs/{name}.py took {done.wall_s:.1f}s: {done.summary[:300]}", flush=True)
    return done.wall_s


def no_repeat_events(events: DataFrame) -> DataFrame:
    """MovieLens-style: each (user, item) purchased once, at its first purchase; no returns, no views."""
    first = Window.partitionBy("user_id", "item_id").orderBy(F.col("event_time").asc(), F.col("event_id").asc())
    purchases = events.where((F.col("event_type") == "purchase") & F.col("user_id").isNotNull())
    return purchases.withColumn("n", F.row_number().over(first)).where(F.col("n") == 1).drop("n")


def build_no_repeat(source_warehouse: str, warehouse: str) -> None:
    """The no-repeat `events`, and the source's `items` and `item_embeddings` as they are (item-level
    tables: text and graph need them), so every source of the recommender config runs on the copy."""
    spark = build_session("cobuy-bench-evaluate-no-repeat", SESSION_CONF)
    try:
        source, target = TableStore(spark, source_warehouse, "auto"), TableStore(spark, warehouse, "auto")
        if not target.exists(EVENTS):
            target.overwrite(EVENTS, no_repeat_events(source.read(EVENTS)))
        for table in (ITEMS, ITEM_EMBEDDINGS):
            if source.exists(table) and not target.exists(table):
                frame = source.read(table)
                target.overwrite(table, frame, partition_by=("dt",) if "dt" in frame.columns else ())
        print(f"no-repeat events (and the source's items, item_embeddings) in {warehouse}")
    finally:
        spark.stop()


def final_figures(warehouse: str, run_id: str, run_date: dt.date) -> list[dict]:
    """The selected rows of the final window of this run (a few dozen rows)."""
    spark = build_session("cobuy-bench-evaluate-read", SESSION_CONF)
    try:
        table = TableStore(spark, warehouse, "auto").read(EVALUATION_METRICS, start=run_date, end=run_date)
        rows = table.where(
            (F.col("run_id") == run_id) & (F.col("window") == WINDOW_FINAL) & F.col("selected")
        ).collect()
        return [r.asDict() for r in rows]
    finally:
        spark.stop()


def print_final_table(rows: list[dict], selection_slice: str = "new_items") -> bool:
    """Print ndcg / recall of every model on every view and slice, and whether the hybrid is at least
    as good as its best single part on every view of `selection_slice`; return that."""
    value = {(r["model"], r["view"], r["slice"], r["metric"]): r["value"] for r in rows}
    models = sorted({r["model"] for r in rows}, key=lambda m: (m == "hybrid", m))
    k = next((r["k"] for r in rows), "K")
    cols = [(v, s) for v in VIEWS for s in SLICES]

    def cell(model: str, view: str, slice_: str) -> str:
        return (f"{(value.get((model, view, slice_, 'ndcg')) or 0.0):.4f} / "
                f"{(value.get((model, view, slice_, 'recall')) or 0.0):.4f}")

    print(f"\nfinal window, ndcg@{k} / recall@{k} per view and slice:")
    print(f"{'model':14}" + "".join(f"{v + '/' + s:>28}" for v, s in cols))
    for m in models:
        print(f"{m:14}" + "".join(f"{cell(m, v, s):>28}" for v, s in cols))
    hybrid_params = next((r["params"] for r in rows if r["model"] == "hybrid"), "")
    print(f"chosen hybrid: {hybrid_params}")
    holds = True
    for view in VIEWS:
        ndcg = {m: value.get((m, view, selection_slice, "ndcg")) or 0.0 for m in models}
        best = max((m for m in models if m != "hybrid"), key=lambda m: ndcg[m])
        verdict = "is not worse than" if ndcg["hybrid"] >= ndcg[best] else "is WORSE than"
        holds &= ndcg["hybrid"] >= ndcg[best]
        print(f"hybrid ndcg@{k} ({view}/{selection_slice}) {ndcg['hybrid']:.4f} {verdict} its best part "
              f"({best} {ndcg[best]:.4f})")
    print(f"\nthe same table as markdown (ndcg@{k} / recall@{k}):")
    print("| model | " + " | ".join(f"{v}/{s}" for v, s in cols) + " |")
    print("|---|" + "---|" * len(cols))
    for m in models:
        print(f"| {m} | " + " | ".join(cell(m, v, s) for v, s in cols) + " |")
    return holds
