"""Benchmark: fpgrowth's category rules on Online Retail through product families (issue 12).

    .venv/bin/python bench/bench_family_rules.py --warehouse /tmp/bench-or \
        [--category-min-support 0.1] [--date 2011-12-09]

Online Retail has no category tree, so jobs/fpgrowth.py rolls items up to their `item_families`
(jobs/embed.py) for category_rules (lib.text.families.with_family_categories). This runs, as
`make demo` runs jobs (each its own process and session, Delta's jars loaded): jobs/embed.py when
the warehouse has no `item_families`, then jobs/fpgrowth.py over the whole year with the item-level
settings of bench/bench_graph.py and `category.min_support` (default 10% of invoices: at the item
level's category.min_count = 10, FPGrowth on ~9 families per invoice runs the driver out of heap,
docs/embeddings.md). Prints the job wall times, the families and the top cross-family rules by lift.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path

from pyspark.sql import functions as F

from job_process import local_job_command, run_job_process  # noqa: E402 - bench/ is on sys.path
from shared_datasets import PROJECT_ROOT  # noqa: E402 - bench/ is on sys.path

sys.path.insert(0, str(PROJECT_ROOT))

from lib.schemas.rules import CATEGORY_RULES, KEPT  # noqa: E402
from lib.schemas.text import ITEM_FAMILIES  # noqa: E402
from lib.session import build_session  # noqa: E402
from lib.storage import TableStore  # noqa: E402

FIRST_DAY = dt.date(2010, 12, 1)
SESSION_CONF = {"spark.master": "local[2]", "spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "4",
                "spark.ui.enabled": "false", "spark.ui.showConsoleProgress": "false"}


def submit(job: str, job_args: list[str]) -> float:
    """One job as its own process, as bench/bench_graph.py runs them; fails loudly."""
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable,
           "COBUY_PSEUDONYM_SECRET": os.environ.get("COBUY_PSEUDONYM_SECRET", "bench-secret")}
    command = local_job_command(sys.executable, job, job_args)
    print("running:", " ".join(command[1:]), flush=True)
    run = run_job_process(job, command, env)
    print(f"{job}: {run.wall_s:.1f} s wall ({run.summary[:600]})", flush=True)
    return run.wall_s


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", required=True)
    parser.add_argument("--date", default="2011-12-09")
    parser.add_argument("--category-min-support", type=float, default=0.1)
    parser.add_argument("--category-max-rule-length", type=int, default=2)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    warehouse, day = str(Path(args.warehouse).resolve()), dt.date.fromisoformat(args.date)
    storage = ["--set", f"storage.warehouse={warehouse}", "--set", "spark.master=local[2]",
               "--set", "spark.ui.showConsoleProgress=false"]
    if not (Path(warehouse) / ITEM_FAMILIES / "_delta_log").is_dir():
        submit("embed", ["--date", args.date, *storage])
    else:
        print(f"{ITEM_FAMILIES} already in {warehouse}: jobs/embed.py not run")
    whole_year = (day - FIRST_DAY).days + 1
    submit("fpgrowth", ["--date", args.date, "--set", f"window_days={whole_year}", "--set", "min_support=0.01",
                        "--set", "min_count=0", "--set", f"category.min_support={args.category_min_support}",
                        "--set", "category.min_count=0",
                        "--set", f"category.max_rule_length={args.category_max_rule_length}", *storage])

    spark = build_session("cobuy-bench-family-rules", SESSION_CONF)
    spark.sparkContext.setLogLevel("ERROR")
    try:
        store = TableStore(spark, warehouse, "auto")
        families = store.read(ITEM_FAMILIES, start=day, end=day)
        sizes = families.groupBy("family_id", "family", "family_size", "k", "silhouette").count()
        first = sizes.first()
        print(f"families: {sizes.count()} (k={first['k']}, silhouette={first['silhouette']}) over "
              f"{families.count():,} items; the {args.top} largest:")
        for row in sizes.orderBy(F.col("family_size").desc(), "family").limit(args.top).collect():
            print(f"  {row['family_size']:5d}  {row['family']}")
        rules = store.read(CATEGORY_RULES, start=day, end=day)
        print("category_rules by status:", {r["status"]: r["count"] for r in rules.groupBy("status").count().collect()})
        cross = rules.where((F.col("status") == F.lit(KEPT)) & F.col("cross_category"))
        print(f"top {args.top} kept cross-family rules by lift (of {cross.count()}):")
        print("| antecedent family | consequent family | support | confidence | lift | n_ab |")
        print("|---|---|--:|--:|--:|--:|")
        for row in cross.orderBy(F.col("lift").desc(), F.col("support").desc()).limit(args.top).collect():
            print(f"| {' + '.join(row['antecedent'])} | {row['consequent']} | {row['support']:.3f} | "
                  f"{row['confidence']:.3f} | {row['lift']:.2f} | {row['n_ab']:,} |")
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
