"""Benchmark: UCI Online Retail (a full year, ~20k invoices) through the cobuy rules pipeline.

    .venv/bin/python bench/bench_fpgrowth_online_retail.py [--data ../shared/datasets/online_retail]
        [--min-support 0.01] [--num-partitions 2] [--top 10]

The ingest job is being built in parallel, so this reads the daily CSVs directly with a minimal
inline basket builder (an invoice is a basket; cancellations `C...`, non-positive quantities and
prices, and non-product stock codes such as POST, M, DOT, BANK CHARGES are left out). Prints the
basket count, the mining and rule-metric times separately, the rule statuses, and the strongest
kept rules with titles (`lib.rules.report.top_rules`). Figures, not assertions.
"""

from __future__ import annotations

import argparse
import datetime as dt
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
from lib.session import build_session

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DATASETS = next(
    (p / "shared" / "datasets" for p in (PROJECT_ROOT.parent, PROJECT_ROOT.parent.parent)
     if (p / "shared" / "datasets").is_dir()),
    PROJECT_ROOT.parent / "shared" / "datasets",
)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATASETS / "online_retail"))
    parser.add_argument("--min-support", type=float, default=0.01)
    parser.add_argument("--min-confidence", type=float, default=0.1)
    parser.add_argument("--max-rule-length", type=int, default=3)
    parser.add_argument("--num-partitions", type=int, default=2)
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()

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
