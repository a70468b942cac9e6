"""Benchmark: UCI Online Retail (the full year, ~20k invoices) through the cobuy rules pipeline.

    PYSPARK_PYTHON=.venv/bin/python .venv/bin/python bench/bench_fpgrowth_online_retail.py \
        [--mode jobs|inline] [--data ../shared/datasets/online_retail] [--min-support 0.01] [--top 10]

`--mode jobs` (default) runs the real pipeline, each job with one `spark-submit` as in production:
`jobs/ingest.py` ingests the whole year (2010-12-01..2011-12-09, source online_retail, 305 daily files)
into a fresh temporary warehouse, then `jobs/fpgrowth.py --date 2011-12-09` mines it with
window_days = 374 (the whole year) at `--min-support`. MLlib needs a deep thread stack for the long
wholesale invoices: both get `--driver-java-options -Xss32m`. Prints each job's wall time (JVM start
included) and summary line, then reads `association_rules` back and prints the `--top` strongest kept
rules with titles (`lib.rules.report.top_rules`).

`--mode inline` is the earlier stand-in that reads the CSVs with a minimal inline basket builder
(an invoice is a basket; cancellations `C...`, non-positive quantities and prices and non-product
stock codes are left out) and times mining and rule metrics separately in this process.
Figures, not assertions: one run.
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

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.rules.mining import effective_min_count, mine_itemsets, with_support
from lib.rules.outputs import association_rules_table
from lib.rules.pipeline import MiningParams, rules_from_itemsets
from lib.rules.pruning import PruningParams
from lib.rules.report import format_rule_lines, top_rules
from lib.schemas.rules import ASSOCIATION_RULES
from lib.session import build_session
from lib.storage import TableStore

from job_process import run_job_process  # noqa: E402 - bench/ is on sys.path
from shared_datasets import DATASETS, PROJECT_ROOT  # noqa: E402 - bench/ is on sys.path
FIRST_DAY, LAST_DAY = dt.date(2010, 12, 1), dt.date(2011, 12, 9)
WHOLE_YEAR_DAYS = (LAST_DAY - FIRST_DAY).days + 1  # 374: the window ending at LAST_DAY starts at FIRST_DAY
CSV_SCHEMA = T.StructType(
    [
        T.StructField("InvoiceNo", T.StringType(), True),
        T.StructField("StockCode", T.StringType(), True),
        T.StructField("Description", T.StringType(), True),
        T.StructField("Quantity", T.IntegerType(), True),
        T.StructField("InvoiceDate", T.StringType(), True),
        T.StructField("UnitPrice", T.DoubleType(), True),
        T.StructField("CustomerID", T.StringType(), True),
        T.StructField("Country", T.StringType(), True),
    ]
)


def product_lines(raw: DataFrame) -> DataFrame:
    is_cancellation = F.col("InvoiceNo").startswith("C")
    is_product = F.col("StockCode").rlike(r"^[0-9]{5}")
    return raw.filter(~is_cancellation & is_product & (F.col("Quantity") > 0) & (F.col("UnitPrice") > 0))


def baskets_from_lines(lines: DataFrame) -> DataFrame:
    return lines.groupBy(F.col("InvoiceNo").alias("basket_id")).agg(
        F.array_sort(F.collect_set("StockCode")).alias("items")
    )


def items_from_lines(lines: DataFrame) -> DataFrame:
    """item_id, title (the most used description), latest_price (columns the outputs read)."""
    titles = (
        lines.groupBy("StockCode", "Description").count()
        .groupBy("StockCode").agg(F.max_by("Description", "count").alias("title"))
    )
    prices = lines.groupBy("StockCode").agg(F.max_by("UnitPrice", "InvoiceDate").alias("latest_price"))
    return titles.join(prices, on="StockCode", how="inner").select(
        F.col("StockCode").alias("item_id"), "title", "latest_price"
    )


def timed(action):
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def submit(job: str, job_args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Run `spark-submit jobs/<job>.py ...` from the project root; (wall seconds, job summary line).
    A failing job ends the benchmark with its log's last lines."""
    spark_submit = Path(sys.executable).parent / "spark-submit"
    command = [str(spark_submit), "--driver-memory", "4g", "--driver-java-options", "-Xss32m",
               f"jobs/{job}.py", "--env", "local", *job_args]
    print("$ " + " ".join(command[1:]), flush=True)
    run = run_job_process(job, command, env)
    return run.wall_s, run.summary


def run_jobs(args: argparse.Namespace) -> None:
    """ingest (whole year) -> fpgrowth (whole-year window) with spark-submit, then the top rules."""
    warehouse = args.warehouse or tempfile.mkdtemp(prefix="cobuy-bench-or-")
    shutil.rmtree(warehouse, ignore_errors=True)
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable,
           "COBUY_PSEUDONYM_SECRET": os.environ.get("COBUY_PSEUDONYM_SECRET", "bench-secret")}
    storage = ["--set", f"storage.warehouse={warehouse}", "--set", "storage.engine=embedded",
               "--set", f"spark.master={args.master}", "--set", "spark.ui.showConsoleProgress=false"]
    try:
        ingest_s, ingest_summary = submit("ingest", [
            "--from", FIRST_DAY.isoformat(), "--to", LAST_DAY.isoformat(), "--set", "source=online_retail",
            "--input", args.data, *storage,
        ], env)
        print(f"ingest: {ingest_s:.1f}s wall  ({ingest_summary})", flush=True)
        fpgrowth_s, fpgrowth_summary = submit("fpgrowth", [
            "--date", LAST_DAY.isoformat(), "--set", f"window_days={WHOLE_YEAR_DAYS}",
            "--set", f"min_support={args.min_support}", "--set", "min_count=0",
            "--set", f"min_confidence={args.min_confidence}", "--set", f"max_rule_length={args.max_rule_length}",
            "--set", f"num_partitions={args.num_partitions}", *storage,
        ], env)
        print(f"fpgrowth: {fpgrowth_s:.1f}s wall  ({fpgrowth_summary})", flush=True)

        spark = build_session("cobuy-bench-fpgrowth-online-retail-report", {
            "spark.master": args.master, "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4",
        })
        spark.sparkContext.setLogLevel("ERROR")
        try:
            store = TableStore(spark, warehouse, "embedded")
            rules = store.read(ASSOCIATION_RULES, start=LAST_DAY, end=LAST_DAY)
            print(f"The {args.top} strongest kept rules (association_rules, dt = {LAST_DAY}):")
            for line in format_rule_lines(top_rules(rules, args.top).collect()):  # at most --top rows
                print("  " + line)
        finally:
            spark.stop()
    finally:
        if not args.keep:
            shutil.rmtree(warehouse, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("jobs", "inline"), default="jobs")
    parser.add_argument("--data", default=str(DATASETS / "online_retail"))
    parser.add_argument("--min-support", type=float, default=0.01)
    parser.add_argument("--min-confidence", type=float, default=0.1)
    parser.add_argument("--max-rule-length", type=int, default=3)
    parser.add_argument("--num-partitions", type=int, default=2)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--warehouse", default=None, help="jobs mode: warehouse folder (default: a new temp dir)")
    parser.add_argument("--keep", action="store_true", help="jobs mode: keep the warehouse afterwards")
    args = parser.parse_args()
    if args.mode == "jobs":
        run_jobs(args)
    else:
        run_inline(args)


def run_inline(args: argparse.Namespace) -> None:
    spark: SparkSession = build_session("cobuy-bench-fpgrowth-online-retail", {
        "spark.master": args.master, "spark.driver.memory": "4g", "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2",
        # MLlib serialises FP-trees recursively: deep trees (long baskets) overflow the default stack.
        "spark.driver.extraJavaOptions": "-Xss32m", "spark.executor.extraJavaOptions": "-Xss32m",
    })
    spark.sparkContext.setLogLevel("ERROR")
    try:
        raw = spark.read.csv(f"{args.data}/*.csv", header=True, schema=CSV_SCHEMA)
        lines = product_lines(raw).persist(StorageLevel.MEMORY_AND_DISK)
        baskets = baskets_from_lines(lines).persist(StorageLevel.MEMORY_AND_DISK)
        n, load_s = timed(baskets.count)
        items = items_from_lines(lines)
        print(f"Online Retail: {n:,} invoices (baskets) after cleaning; read+basket {load_s:.1f}s")

        min_count = effective_min_count(n, args.min_support, 0)
        params = MiningParams(min_count=min_count, min_confidence=args.min_confidence, min_lift=1.0,
                              max_rule_length=args.max_rule_length, num_partitions=args.num_partitions)
        itemsets = with_support(mine_itemsets(baskets, min_count, n, args.num_partitions), n).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        n_itemsets, mining_s = timed(itemsets.count)
        candidates, rules = rules_from_itemsets(itemsets, n, params, PruningParams())
        table = association_rules_table(rules, items, dt.date(2011, 12, 9)).persist()
        statuses, rules_s = timed(lambda: dict(table.groupBy("status").count().collect()))
        print(f"min_support {args.min_support} (min_count {min_count}): {n_itemsets:,} itemsets in "
              f"{mining_s:.1f}s; {candidates.count():,} candidate rules, {sum(statuses.values()):,} rules "
              f"above thresholds in {rules_s:.1f}s; statuses {statuses}")
        print(f"The {args.top} strongest kept rules:")
        for line in format_rule_lines(top_rules(table, args.top).collect()):  # at most --top rows
            print("  " + line)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
