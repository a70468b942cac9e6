"""Benchmark: FIMI retail.dat (88,162 baskets) through the cobuy rules pipeline vs a bare FPGrowth.

    .venv/bin/python bench/bench_fpgrowth_fimi.py [--data ../shared/datasets/fimi_retail/retail.dat]
        [--supports 0.002,0.001] [--num-partitions 2] [--master local[2]]

Prints, per min_support: itemsets, rules (every single-consequent rule, no thresholds), the time of
the mining (FPGrowth fit + materialised itemsets) and of the rule metrics (candidate rules, metrics,
Fisher p-values, BH, redundancy, status), and the time of a bare `FPGrowth().fit()` + itemset count
(+ its own associationRules count at minConfidence 0) on the same cached DataFrame. Figures, not
assertions: one run each; Spark timings vary by up to 30% run to run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from pyspark import StorageLevel
from pyspark.ml.fpm import FPGrowth
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.rules.mining import effective_min_count, mine_itemsets, with_support
from lib.rules.pipeline import MiningParams, rules_from_itemsets
from lib.rules.pruning import PruningParams
from lib.session import build_session

from shared_datasets import DATASETS, PROJECT_ROOT  # noqa: E402 - bench/ is on sys.path
DEFAULT_DATA = DATASETS / "fimi_retail" / "retail.dat"


def read_fimi(spark: SparkSession, path: str) -> DataFrame:
    """One basket a line, items space-separated; de-duplicated and sorted like cobuy baskets."""
    lines = spark.read.text(path)
    items = F.array_sort(F.array_distinct(F.filter(F.split(F.trim("value"), r"\s+"), lambda x: x != "")))
    return lines.select(F.monotonically_increasing_id().cast("string").alias("basket_id"), items.alias("items"))


def timed(action):
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def bench_support(baskets: DataFrame, n: int, min_support: float, num_partitions: int) -> dict:
    min_count = effective_min_count(n, min_support, 0)
    params = MiningParams(min_count=min_count, min_confidence=0.0, min_lift=0.0, max_rule_length=16,
                          num_partitions=num_partitions)
    pruning = PruningParams()  # FDR, redundancy (min_improvement 0) and privacy (n_ab < 5) all on

    itemsets = with_support(mine_itemsets(baskets, min_count, n, num_partitions), n).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    n_itemsets, mining_s = timed(itemsets.count)

    def rules_action():
        candidates, rules = rules_from_itemsets(itemsets, n, params, pruning)
        statuses = dict(rules.groupBy("status").count().collect())
        candidates.unpersist()
        return statuses

    statuses, rules_s = timed(rules_action)
    itemsets.unpersist()

    def bare_fit():
        model = FPGrowth(
            itemsCol="items", minSupport=min_support, minConfidence=0.0, numPartitions=num_partitions
        ).fit(baskets.select("items"))
        return model, model.freqItemsets.count()

    (model, bare_itemsets), bare_s = timed(bare_fit)
    bare_rules, bare_rules_s = timed(model.associationRules.count)
    return {
        "min_support": min_support, "min_count": min_count, "itemsets": n_itemsets,
        "rules": sum(statuses.values()), "statuses": statuses, "mining_s": mining_s, "rules_s": rules_s,
        "bare_itemsets": bare_itemsets, "bare_fit_s": bare_s, "bare_rules": bare_rules,
        "bare_rules_s": bare_rules_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DEFAULT_DATA))
    parser.add_argument("--supports", default="0.002,0.001")
    parser.add_argument("--num-partitions", type=int, default=2)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    started = time.perf_counter()
    spark = build_session("cobuy-bench-fpgrowth-fimi", {
        "spark.master": args.master, "spark.driver.memory": "4g", "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4", "spark.default.parallelism": "2",
        # MLlib serialises FP-trees recursively: deep trees (long baskets) overflow the default stack.
        "spark.driver.extraJavaOptions": "-Xss32m", "spark.executor.extraJavaOptions": "-Xss32m",
    })
    spark.sparkContext.setLogLevel("ERROR")
    try:
        baskets = read_fimi(spark, args.data).persist(StorageLevel.MEMORY_AND_DISK)
        n, load_s = timed(baskets.count)
        print(f"FIMI retail: {n:,} baskets; session start to cached baskets {time.perf_counter() - started:.1f}s (load+cache {load_s:.1f}s)")
        header = (f"{'min_support':>11} {'min_count':>9} {'itemsets':>9} {'rules':>8} {'mining_s':>9} "
                  f"{'metrics_s':>9} {'bare_fit_s':>10} {'bare_itemsets':>13} {'bare_rules':>10} {'bare_rules_s':>12}")
        rows = []
        for support in (float(s) for s in args.supports.split(",")):
            r = bench_support(baskets, n, support, args.num_partitions)
            rows.append(r)
            print(f"  support {support}: statuses {r['statuses']}", flush=True)
        print(header)
        for r in rows:
            print(f"{r['min_support']:>11} {r['min_count']:>9} {r['itemsets']:>9,} {r['rules']:>8,} "
                  f"{r['mining_s']:>9.1f} {r['rules_s']:>9.1f} {r['bare_fit_s']:>10.1f} "
                  f"{r['bare_itemsets']:>13,} {r['bare_rules']:>10,} {r['bare_rules_s']:>12.1f}")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
