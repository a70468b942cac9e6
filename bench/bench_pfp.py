"""Benchmark: the pfp engine vs MLlib FPGrowth vs pyfim single-process vs mlxtend, with exactness checks.

    env PYSPARK_PYTHON=.venv/bin/python .venv/bin/python bench/bench_pfp.py \
        [--datasets retail,online_retail,synthetic] [--supports 0.002,0.001] [--groups 2] \
        [--online-retail-supports 0.01,0.005] [--synthetic-scales 1] [--synthetic-orders 100000] \
        [--mlxtend] [--skip-mllib] [--metrics]

Per data set and min_support, on the same cached baskets (warm JVM: a small MLlib fit and a small
pfp run go first, untimed): the seconds of pyfim's fpgrowth in this process on Python lists (mining
only; the lists are built from the same baskets), of mlxtend's fpgrowth on a sparse one-hot frame
(--mlxtend; encoding not timed), of MLlib (lib.rules.mining.mine_itemsets, persisted + counted), of
pfp (lib.rules.pfp.mine_itemsets_pfp, persisted + counted; frequent-item count included) for each
`--groups`; whether pfp's (itemset, count) pairs equal MLlib's and pyfim's exactly; and with
--metrics, the time of lib.rules metrics, p-values, BH, redundancy and status on pfp's itemsets
(every single-consequent rule up to --max-rule-length items; from the mined itemsets, whose count
the mining's action gave, to the rules with their status, materialised by one action) against pfp's
mining time, scored in one Python task (lib/rules/one_task.py, `metric_s`) and by the distributed
stages (`distrib_s`).
Figures, not assertions: each timed step runs --repeats times and the fastest run is shown (the
first runs of a JVM pay JIT compilation; Spark timings vary by up to 30% run to run).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import sys
import time

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.rules.mining import effective_min_count, mine_itemsets, with_support
from lib.rules.pfp import PfpParams, mine_itemsets_pfp
from lib.rules.pipeline import MiningParams, rules_from_itemsets
from lib.rules.pruning import PruningParams
from lib.session import build_session

from shared_datasets import DATASETS  # noqa: E402 - bench/ is on sys.path

RETAIL = DATASETS / "fimi_retail" / "retail.dat"
ONLINE_RETAIL = DATASETS / "online_retail"
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


def read_fimi(spark: SparkSession, path: str) -> DataFrame:
    lines = spark.read.text(path)
    items = F.array_sort(F.array_distinct(F.filter(F.split(F.trim("value"), r"\s+"), lambda x: x != "")))
    return lines.select(F.monotonically_increasing_id().cast("string").alias("basket_id"), items.alias("items"))


def read_online_retail(spark: SparkSession, folder: str) -> DataFrame:
    """One basket per invoice: its product stock codes (no cancellations, postage or fees)."""
    raw = spark.read.csv(f"{folder}/*.csv", header=True, schema=CSV_SCHEMA)
    is_cancellation = F.col("InvoiceNo").startswith("C")
    is_product = F.col("StockCode").rlike(r"^[0-9]{5}")
    lines = raw.filter(~is_cancellation & is_product & (F.col("Quantity") > 0))
    return lines.groupBy(F.col("InvoiceNo").alias("basket_id")).agg(
        F.array_sort(F.collect_set("StockCode")).alias("items"))


def read_synthetic(spark: SparkSession, orders: int) -> DataFrame:
    from bench_fpgrowth_synthetic import spec_for_orders, synthetic_baskets

    spec = spec_for_orders(orders, 5_000, max(1_000, orders // 5), 28)
    return synthetic_baskets(spark, spec, dt.date(2024, 3, 31))


def timed(action):
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def as_set(frame: DataFrame) -> set[tuple[tuple[str, ...], int]]:
    return {(tuple(r["items"]), int(r["count"])) for r in frame.select("items", "count").collect()}


def best_of(repeats: int, action, release=lambda value: None):
    """(value of the last run, the fastest run's seconds): warm figures, as the JIT and Python workers
    settle over the first runs. `release` frees each earlier run's value (a persisted frame)."""
    fastest, value = float("inf"), None
    for run in range(max(1, repeats)):
        if run:
            release(value)
        value, seconds = timed(action)
        fastest = min(fastest, seconds)
    return value, fastest


def pyfim_run(lists: list[list[str]], min_count: int, repeats: int) -> tuple[set, float]:
    import fim

    found, seconds = best_of(repeats, lambda: fim.fpgrowth(lists, target="s", supp=-min_count, report="a"))
    return {(tuple(sorted(s)), int(c)) for s, c in found}, seconds


def mlxtend_run(lists: list[list[str]], n: int, min_count: int) -> tuple[int, float]:
    import pandas as pd
    from mlxtend.frequent_patterns import fpgrowth
    from mlxtend.preprocessing import TransactionEncoder

    encoder = TransactionEncoder()
    onehot = encoder.fit(lists).transform(lists, sparse=True)
    frame = pd.DataFrame.sparse.from_spmatrix(onehot, columns=encoder.columns_)
    result, seconds = timed(lambda: fpgrowth(frame, min_support=(min_count - 0.5) / n, use_colnames=True))
    return len(result), seconds


def bench_one(name: str, baskets: DataFrame, n: int, support: float, args) -> list[dict]:
    min_count = effective_min_count(n, support, 0)
    row: dict = {"data": name, "support": support, "min_count": min_count}
    lists = [list(r["items"]) for r in baskets.select("items").toLocalIterator()] if args.pyfim else None
    if lists is not None:
        row["pyfim_sets"], row["pyfim_s"] = pyfim_run(lists, min_count, args.repeats)
    if args.mlxtend and lists is not None:
        row["mlxtend_n"], row["mlxtend_s"] = mlxtend_run(lists, n, min_count)
    if not args.skip_mllib:
        def mllib_run() -> DataFrame:
            mllib = mine_itemsets(baskets, min_count, n, args.num_partitions).persist(StorageLevel.MEMORY_AND_DISK)
            mllib.count()
            return mllib

        mllib, row["mllib_s"] = best_of(args.repeats, mllib_run, DataFrame.unpersist)
        row["mllib_sets"] = as_set(mllib)
        mllib.unpersist()
    rows = []
    for groups in args.groups:
        r = dict(row, groups=groups)
        def pfp_run() -> DataFrame:
            mined = mine_itemsets_pfp(baskets, min_count, PfpParams(num_groups=groups)).persist(
                StorageLevel.MEMORY_AND_DISK)
            mined.count()
            return mined

        pfp, r["pfp_s"] = best_of(args.repeats, pfp_run, DataFrame.unpersist)
        r["itemsets"] = pfp.count()
        sets = as_set(pfp)
        r["same_as_mllib"] = sets == r["mllib_sets"] if "mllib_sets" in r else None
        r["same_as_pyfim"] = sets == r["pyfim_sets"] if "pyfim_sets" in r else None
        if args.metrics and groups == args.groups[0]:
            params = MiningParams(min_count=min_count, min_confidence=0.0, min_lift=0.0,
                                  max_rule_length=args.max_rule_length, num_partitions=args.num_partitions)
            itemsets = with_support(pfp, n).persist(StorageLevel.MEMORY_AND_DISK)
            itemsets.count()  # as mine_rules does: the mining's action, whose count chooses the scoring path

            def metrics(one_task_max_itemsets: int):
                # Timed: the rules with their status from the mined itemsets, materialised by one
                # action (the status counts); the count of candidates below is the job's summary.
                scoring = dataclasses.replace(params, one_task_max_itemsets=one_task_max_itemsets)
                candidates, rules = rules_from_itemsets(itemsets, n, scoring, PruningParams(), r["itemsets"])
                return candidates, dict(rules.groupBy("status").count().collect())

            def count_candidates(scored) -> None:
                r["rules"] = scored[0].count()
                scored[0].unpersist()

            one_task, r["metrics_s"] = best_of(args.repeats, lambda: metrics(r["itemsets"]), count_candidates)
            count_candidates(one_task)
            r["statuses"] = one_task[1]
            distributed, r["metrics_dist_s"] = best_of(args.repeats, lambda: metrics(0), count_candidates)
            count_candidates(distributed)
            itemsets.unpersist()
        pfp.unpersist()
        rows.append(r)
        print(f"  {name} {support} groups={groups}: {r}" if args.verbose else
              f"  done {name} support {support} groups {groups}", flush=True)
    return rows


def fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(rows: list[dict]) -> None:
    print()
    print(f"{'data':<14} {'support':>7} {'min_cnt':>7} {'itemsets':>8} {'grp':>3} {'pyfim_s':>7} "
          f"{'mlxtnd_s':>8} {'mllib_s':>7} {'pfp_s':>6} {'pfp/pyfim':>9} {'mllib/pfp':>9} {'=mllib':>6} "
          f"{'=pyfim':>6} {'rules':>7} {'metric_s':>8} {'metric/pfp':>10} {'distrib_s':>9} {'distrib/pfp':>11}")
    for r in rows:
        pyfim_s, mllib_s, pfp_s, metrics_s = (r.get(k) for k in ("pyfim_s", "mllib_s", "pfp_s", "metrics_s"))
        print(f"{r['data']:<14} {r['support']:>7} {r['min_count']:>7} {r['itemsets']:>8,} {r['groups']:>3} "
              f"{fmt(pyfim_s, '7.2f')} {fmt(r.get('mlxtend_s'), '8.1f')} {fmt(mllib_s, '7.1f')} {pfp_s:>6.2f} "
              f"{fmt(pfp_s / pyfim_s if pyfim_s else None, '9.1f')} "
              f"{fmt(mllib_s / pfp_s if mllib_s else None, '9.1f')} {str(r['same_as_mllib']):>6} "
              f"{str(r['same_as_pyfim']):>6} {fmt(r.get('rules'), '7,')} {fmt(metrics_s, '8.2f')} "
              f"{fmt(metrics_s / pfp_s if metrics_s else None, '10.2f')} {fmt(r.get('metrics_dist_s'), '9.2f')} "
              f"{fmt(r['metrics_dist_s'] / pfp_s if r.get('metrics_dist_s') else None, '11.2f')}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="retail")
    parser.add_argument("--retail", default=str(RETAIL), help="FIMI retail.dat")
    parser.add_argument("--online-retail", default=str(ONLINE_RETAIL), help="folder of the daily CSVs")
    parser.add_argument("--supports", default="0.002,0.001")
    parser.add_argument("--online-retail-supports", default="0.01")
    parser.add_argument("--synthetic-orders", type=int, default=100_000)
    parser.add_argument("--synthetic-scales", default="1")
    parser.add_argument("--synthetic-support", type=float, default=0.0005)
    parser.add_argument("--groups", default="2")
    parser.add_argument("--num-partitions", type=int, default=2)
    parser.add_argument("--max-rule-length", type=int, default=16)
    parser.add_argument("--mlxtend", action="store_true")
    parser.add_argument("--skip-mllib", action="store_true")
    parser.add_argument("--no-pyfim", dest="pyfim", action="store_false")
    parser.add_argument("--metrics", action="store_true")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each timed step; the fastest is shown")
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    args.groups = [int(g) for g in args.groups.split(",")]

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = build_session("cobuy-bench-pfp", {
        "spark.master": args.master, "spark.driver.memory": "4g", "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.extraJavaOptions": "-Xss32m", "spark.executor.extraJavaOptions": "-Xss32m",
    })
    spark.sparkContext.setLogLevel("ERROR")
    rows: list[dict] = []
    try:
        jobs = []
        for name in args.datasets.split(","):
            if name == "retail":
                jobs.append(("retail.dat", lambda: read_fimi(spark, args.retail),
                             [float(s) for s in args.supports.split(",")]))
            elif name == "online_retail":
                jobs.append(("online_retail", lambda: read_online_retail(spark, args.online_retail),
                             [float(s) for s in args.online_retail_supports.split(",")]))
            elif name == "synthetic":
                for scale in (int(s) for s in args.synthetic_scales.split(",")):
                    orders = args.synthetic_orders * scale
                    jobs.append((f"synthetic x{scale}", lambda o=orders: read_synthetic(spark, o),
                                 [args.synthetic_support]))
            else:
                raise SystemExit(f"unknown data set {name!r}")
        warmed = False
        for name, load, supports in jobs:
            baskets = load().persist(StorageLevel.MEMORY_AND_DISK)
            n, load_s = timed(baskets.count)
            print(f"{name}: {n:,} baskets (load + cache {load_s:.1f}s)", flush=True)
            if not warmed:  # JIT, Python workers, first MLlib stages: not compared
                sample = baskets.limit(2_000).persist(StorageLevel.MEMORY_AND_DISK)
                sample.count()
                mine_itemsets(sample, 20, 2_000, args.num_partitions).count()
                mine_itemsets_pfp(sample, 20, PfpParams(num_groups=args.groups[0])).count()
                sample.unpersist()
                warmed = True
            for support in supports:
                rows.extend(bench_one(name, baskets, n, support, args))
            baskets.unpersist()
        print_table(rows)
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
