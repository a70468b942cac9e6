"""Benchmark: the synthetic shop at about 1 million orders (baskets) through the cobuy rules pipeline.

    PYSPARK_PYTHON=.venv/bin/python .venv/bin/python bench/bench_fpgrowth_synthetic.py \
        [--orders 1000000] [--items 5000] [--users 200000] [--days 28] [--min-support 0.0005] \
        [--num-partitions 2] [--master local[2]]

The shop is generated with lib/synth straight into a DataFrame (no files): the purchase events of
`generate_events`, grouped into one basket per order, persisted. `sessions_per_day` is sized so that
the expected number of orders is `--orders`. Prints: baskets and generation time; the time of the
mining (FPGrowth fit + materialised itemsets) and of the rule metrics (candidate rules, metrics,
Fisher p-values, BH, redundancy, thresholds, status) separately; the time of a bare
`FPGrowth().fit()` + itemset count on the same cached baskets; and each planted anchor -> companion
rule with its status, lift and confidence. Figures, not assertions: one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import time

from pyspark import StorageLevel
from pyspark.ml.fpm import FPGrowth
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.rules.mining import effective_min_count, mine_itemsets, with_support
from lib.rules.pipeline import MiningParams, rules_from_itemsets
from lib.rules.pruning import PruningParams
from lib.schemas.events import PURCHASE
from lib.session import build_session
from lib.synth.bundles import plan_bundles
from lib.synth.catalog import item_id
from lib.synth.events import generate_events
from lib.synth.spec import ShopSpec


def spec_for_orders(orders: int, items: int, users: int, days: int) -> ShopSpec:
    """A shop whose expected order count is `orders`: every converting session makes one order
    (its first view is always carted), so orders = days * sessions_per_day * mean weekday weight
    * purchase_rate (the per-day noise has mean 1)."""
    base = ShopSpec(items=items, users=users, days=days)
    mean_weight = sum(base.weekday_weights) / len(base.weekday_weights)
    per_day = math.ceil(orders / (days * mean_weight * base.purchase_rate))
    return ShopSpec(items=items, users=users, days=days, sessions_per_day=per_day)


def synthetic_baskets(spark: SparkSession, spec: ShopSpec, end: dt.date) -> DataFrame:
    """One basket per order: unique item ids ("i%05d", as ingest names them), sorted."""
    purchases = generate_events(spark, spec, end).filter(F.col("event_type") == PURCHASE)
    return purchases.groupBy(F.col("order_id").alias("basket_id")).agg(
        F.array_sort(F.collect_set(item_id(F.col("item_number")))).alias("items")
    )


def timed(action):
    started = time.perf_counter()
    value = action()
    return value, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--items", type=int, default=5_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=28)
    parser.add_argument("--min-support", type=float, default=0.0005)
    parser.add_argument("--min-confidence", type=float, default=0.1)
    parser.add_argument("--max-rule-length", type=int, default=3)
    parser.add_argument("--num-partitions", type=int, default=2)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

    spec = spec_for_orders(args.orders, args.items, args.users, args.days)
    started = time.perf_counter()
    spark = build_session("cobuy-bench-fpgrowth-synthetic", {
        "spark.master": args.master, "spark.driver.memory": "4g", "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "8", "spark.default.parallelism": "2",
        "spark.driver.extraJavaOptions": "-Xss32m", "spark.executor.extraJavaOptions": "-Xss32m",
    })
    spark.sparkContext.setLogLevel("ERROR")
    try:
        baskets = synthetic_baskets(spark, spec, dt.date(2024, 3, 31)).persist(StorageLevel.MEMORY_AND_DISK)
        n, generate_s = timed(baskets.count)
        sizes = baskets.agg(F.avg(F.size("items")), F.max(F.size("items"))).first()
        print(f"Synthetic shop: {spec.days} days x {spec.sessions_per_day:,} sessions/day, {spec.items:,} items, "
              f"{spec.users:,} users -> {n:,} baskets (mean {sizes[0]:.2f} items, max {sizes[1]}); "
              f"generate+basket+cache {generate_s:.1f}s (session start {time.perf_counter() - started - generate_s:.1f}s)",
              flush=True)

        min_count = effective_min_count(n, args.min_support, 0)
        params = MiningParams(min_count=min_count, min_confidence=args.min_confidence, min_lift=1.0,
                              max_rule_length=args.max_rule_length, num_partitions=args.num_partitions)
        itemsets = with_support(mine_itemsets(baskets, min_count, n, args.num_partitions), n).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        n_itemsets, mining_s = timed(itemsets.count)
        by_size = dict(itemsets.groupBy("size").count().collect())  # <= max itemset length rows
        print(f"min_support {args.min_support} (min_count {min_count}): {n_itemsets:,} itemsets "
              f"(by size {dict(sorted(by_size.items()))}); mining (fit + itemsets) {mining_s:.1f}s", flush=True)

        candidates, rules = rules_from_itemsets(itemsets, n, params, PruningParams())
        rules = rules.persist(StorageLevel.MEMORY_AND_DISK)
        statuses, rules_s = timed(lambda: dict(rules.groupBy("status").count().collect()))  # <= 4 rows
        print(f"rule metrics (candidates, metrics, Fisher, BH, redundancy, status): {candidates.count():,} "
              f"candidate rules, {sum(statuses.values()):,} above min_confidence {args.min_confidence} / "
              f"lift 1 in {rules_s:.1f}s; statuses {statuses}", flush=True)

        planted = [(f"i{b.anchor:05d}", f"i{c:05d}") for b in plan_bundles(spec) for c in b.companions]
        anchors = sorted({a for a, _ in planted})
        found = {
            (r["antecedent"][0], r["consequent"]): r
            for r in rules.filter((F.size("antecedent") == 1) & F.col("antecedent")[0].isin(*anchors)).collect()
        }  # the anchors' pair rules: bounded by anchors x frequent items
        print(f"planted anchor -> companion rules (strength {spec.bundle_strength}):")
        for anchor, companion in planted:
            r = found.get((anchor, companion))
            print(f"  {anchor} -> {companion}: " + (
                "not found" if r is None else
                f"{r['status']}, lift {r['lift']:.1f}, confidence {r['confidence']:.3f}, n_ab {r['n_ab']:,}"))
        rules.unpersist()
        candidates.unpersist()
        itemsets.unpersist()

        def bare_fit():
            model = FPGrowth(itemsCol="items", minSupport=args.min_support, minConfidence=args.min_confidence,
                             numPartitions=args.num_partitions).fit(baskets.select("items"))
            return model.freqItemsets.count()

        bare_itemsets, bare_s = timed(bare_fit)
        print(f"bare FPGrowth().fit() + freqItemsets.count(): {bare_itemsets:,} itemsets in {bare_s:.1f}s")
        print(f"{'baskets':>10} {'min_count':>9} {'itemsets':>9} {'rules':>7} {'mining_s':>9} {'metrics_s':>9} "
              f"{'bare_fit_s':>10}")
        print(f"{n:>10,} {min_count:>9} {n_itemsets:>9,} {sum(statuses.values()):>7,} {mining_s:>9.1f} "
              f"{rules_s:>9.1f} {bare_s:>10.1f}")
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
