"""Benchmark: text embeddings — titles/s of the encoder, and the embed job's wall time on the Online
Retail catalogue (~4,000 items) and on a synthetic 100,000-item catalogue.

    env PYSPARK_PYTHON=.venv/bin/python .venv/bin/python bench/bench_embed.py \
        [--retail-warehouse /tmp/cobuy-bench-embed-retail] [--synthetic-items 100000] [--cores 2]

Online Retail's `items` table comes from jobs/ingest.py (run into the retail warehouse when it has no
`items` yet). One Spark session (local[cores], driver 3g) runs every case; each job run is timed
without the session start, which is printed on its own.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

from shared_datasets import DATASETS, PROJECT_ROOT as ROOT  # noqa: E402 - bench/ is on sys.path

sys.path.insert(0, str(ROOT))  # bench scripts run from a checkout, like bench_ingest_online_retail.py
os.environ["HF_HUB_OFFLINE"] = "1"

from pyspark.sql import functions as F  # noqa: E402

from jobs.embed import parse_args, run  # noqa: E402
from lib.schemas.events import ITEMS  # noqa: E402
from lib.session import build_session  # noqa: E402
from lib.storage import TableStore  # noqa: E402
from lib.synth.catalog import generate_items  # noqa: E402
from lib.synth.spec import ShopSpec  # noqa: E402
from lib.text.embed import embed_texts  # noqa: E402
from lib.text.model import MINILM_L6_INT8, ModelRef, cached_encoder  # noqa: E402
from lib.text.normalise import with_item_text  # noqa: E402

DAY = dt.date(2011, 12, 9)


def ingest_retail(warehouse: str, cores: str) -> None:
    env = {**os.environ, "COBUY_PSEUDONYM_SECRET": os.environ.get("COBUY_PSEUDONYM_SECRET", "bench-secret")}
    command = [sys.executable, str(ROOT / "jobs" / "ingest.py"), "--env", "local", "--from", "2010-12-01",
               "--to", "2011-12-09", "--set", "source=online_retail", "--input", str(DATASETS / "online_retail"),
               "--set", f"storage.warehouse={warehouse}", "--set", "storage.engine=embedded",
               "--set", f"spark.master=local[{cores}]", "--set", "spark.driver.memory=3g"]
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, capture_output=True, cwd=ROOT)
    print(f"ingest Online Retail (setup, not timed below): {time.monotonic() - started:.0f}s")


def job(spark, warehouse: str, day: dt.date, *extra: str) -> tuple[float, dict]:
    config = parse_args(["--env", "local", "--date", day.isoformat(), "--set", f"storage.warehouse={warehouse}",
                         "--set", "storage.engine=embedded", *extra])
    started = time.monotonic()
    summary = run(spark, config)
    return time.monotonic() - started, summary


def category_rules_from_families(spark, store: TableStore, families, min_support: float) -> None:
    """Online Retail has no category tree: fpgrowth's category mining on families instead (the hook
    `with_family_categories`), over every invoice of the year; prints the kept rules."""
    from lib.rules.baskets import build_baskets, with_category_items
    from lib.rules.outputs import category_rules_table
    from lib.rules.pipeline import MiningParams, mine_rules
    from lib.rules.pruning import PruningParams
    from lib.text.families import with_family_categories

    started = time.monotonic()
    items = with_family_categories(store.read(ITEMS), families.select("item_id", "family"))
    baskets = build_baskets(store.read("events"), "order").localCheckpoint()
    n_baskets = baskets.count()
    family_baskets = with_category_items(baskets, items).localCheckpoint()
    width = family_baskets.agg(F.avg(F.size("items")).alias("mean"), F.max(F.size("items")).alias("max")).first()
    print(f"families per invoice: mean {width['mean']:.1f}, max {width['max']} (FPGrowth mines every frequent "
          "itemset, so wide baskets need a high min_support)")
    params = MiningParams(min_count=max(20, int(n_baskets * min_support)), min_confidence=0.3, min_lift=1.2,
                          max_rule_length=2, num_partitions=2)
    result = mine_rules(family_baskets, n_baskets, params, PruningParams())
    rules = category_rules_table(result.rules, DAY).where(F.col("status") == F.lit("kept")).localCheckpoint()
    n_rules = rules.count()
    print(f"category rules from families on Online Retail: {n_rules} kept (pairs, min_count={params.min_count} "
          f"of {n_baskets:,} invoices, confidence >= 0.3, lift >= 1.2) in {time.monotonic() - started:.0f}s; top by lift:")
    for row in rules.orderBy(F.col("lift").desc()).limit(8).collect():
        print(f"  {' + '.join(row['antecedent'])} -> {row['consequent']}  conf {row['confidence']:.2f} "
              f"lift {row['lift']:.1f} n_ab {row['n_ab']} cross={row['cross_category']}")
    result.unpersist()


def cold_slice_on_retail(spark, store: TableStore, embedded_on: dt.date, k: int = 10) -> None:
    """The split at 2011-10-01: `text` recommends never-bought items to training users; measured on
    the cold_items slice (test purchases of items nobody bought in training), where every
    purchase-based model scores 0 by construction (it can only rank items bought in training)."""
    from lib.text.cold import cold_items, truth_cold_items
    from lib.text.recommend import recommend_by_text

    started = time.monotonic()
    train_end, test_end = dt.date(2011, 9, 30), dt.date(2011, 12, 9)
    events = store.read("events")
    training = events.where(F.to_date("event_time") <= F.lit(train_end))
    users = training.where(F.col("user_id").isNotNull()).select("user_id").distinct()
    test = events.where((F.to_date("event_time") > F.lit(train_end)) & (F.to_date("event_time") <= F.lit(test_end))
                        & (F.col("event_type") == F.lit("purchase")))
    truth = test.join(users, on="user_id", how="left_semi").select("user_id", "item_id").distinct()
    cold_truth = truth_cold_items(truth, training).localCheckpoint()
    cold = cold_items(store.read(ITEMS), training, train_end)
    embeddings = store.read("item_embeddings", start=embedded_on, end=embedded_on)
    recs = recommend_by_text(training, users, embeddings, cold, train_end, k, half_life_days=60.0).localCheckpoint()
    hits = recs.join(cold_truth, on=["user_id", "item_id"], how="inner")
    slice_users = cold_truth.select("user_id").distinct()
    per_user = (slice_users.join(cold_truth.groupBy("user_id").agg(F.count(F.lit(1)).alias("relevant")), "user_id", "inner")
                .join(hits.groupBy("user_id").agg(F.count(F.lit(1)).alias("hits")), "user_id", "left")
                .fillna(0, subset=["hits"]))
    row = per_user.agg(F.count(F.lit(1)).alias("users"), F.avg(F.col("hits") / F.col("relevant")).alias("recall"),
                       F.avg((F.col("hits") > 0).cast("double")).alias("hit_rate"),
                       F.avg(F.col("hits") / F.lit(k)).alias("precision")).first()
    print(f"cold_items slice, Online Retail split 2011-10-01: {cold.count():,} cold items, {cold_truth.count():,} cold test "
          f"purchases of {row['users']:,} training users; text@{k}: recall {row['recall']:.4f}, precision "
          f"{row['precision']:.4f}, hit rate {row['hit_rate']:.4f} (purchase-based models: 0 by construction) "
          f"in {time.monotonic() - started:.0f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retail-warehouse", default="/tmp/cobuy-bench-embed-retail")
    parser.add_argument("--synthetic-warehouse", default="/tmp/cobuy-bench-embed-synthetic")
    parser.add_argument("--synthetic-items", type=int, default=100_000)
    parser.add_argument("--spark-titles", type=int, default=20_000)
    parser.add_argument("--cores", default="2")
    parser.add_argument("--rules-min-support", type=float, default=0.1)
    parser.add_argument("--sections", default="encoder,retail,rules,cold,synthetic",
                        help="comma-separated: encoder, retail, rules, cold, synthetic")
    args = parser.parse_args()
    sections = set(args.sections.split(","))
    model = ModelRef(MINILM_L6_INT8.name)

    # -- 1. the encoder alone, in this process ----------------------------------------------------
    titles = [f"{a} {n} #{i}" for i, (a, n) in enumerate(
        (a, n) for a in ("Rustic", "Modern", "Vintage", "Nordic") for n in ("Mug", "Watering Can", "Yoga Mat", "Lamp")
    )] * 125
    for threads in ((1, 2) if "encoder" in sections else ()):
        encoder = cached_encoder(model, threads)
        encoder.encode(titles[:64])
        started = time.monotonic()
        encoder.encode(titles)
        print(f"encoder in one process, {threads} ONNX thread(s): {len(titles) / (time.monotonic() - started):,.0f} titles/s")

    # -- 2. on the executors ------------------------------------------------------------------------
    started = time.monotonic()
    spark = build_session("cobuy-bench-embed", {
        "spark.master": f"local[{args.cores}]", "spark.driver.memory": "3g", "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "8", "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.ui.showConsoleProgress": "false",
    })
    spark.sparkContext.setLogLevel("ERROR")
    print(f"Spark session start: {time.monotonic() - started:.0f}s")
    spec = dataclasses.replace(ShopSpec(), items=max(args.synthetic_items, args.spark_titles), top_categories=12,
                               subcategories_per_top=8, leaves_per_subcategory=4)
    synthetic = generate_items(spark, spec).select(
        "item_id", "title", "category", "category_path", F.col("price").alias("latest_price"),
        F.lit(DAY).alias("first_seen"), F.lit(DAY).alias("last_seen"))
    texts = with_item_text(synthetic.limit(args.spark_titles))
    for partitions in ((1, int(args.cores)) if "encoder" in sections else ()):
        started = time.monotonic()
        n = embed_texts(texts, model, num_partitions=partitions).count()
        print(f"embed_texts on local[{args.cores}], {partitions} task(s): {n / (time.monotonic() - started):,.0f} titles/s "
              f"({n:,} synthetic texts: title | category path)")

    # -- 3. Online Retail catalogue -----------------------------------------------------------------
    retail = TableStore(spark, args.retail_warehouse, "embedded")
    if sections & {"retail", "cold", "rules"} and not retail.exists(ITEMS):
        ingest_retail(args.retail_warehouse, args.cores)
    if "retail" in sections:
        retail_job(spark, args.retail_warehouse, retail.read(ITEMS).count())
    if "cold" in sections:
        cold_slice_on_retail(spark, retail, DAY)
    if "synthetic" in sections:
        synthetic_job(spark, synthetic, args.synthetic_warehouse, args.synthetic_items)
    if "rules" in sections:  # last: FPGrowth on wide family baskets is the memory-hungry step
        families = retail.read("item_families").where(F.col("dt") == F.lit(DAY))
        category_rules_from_families(spark, retail, families, args.rules_min_support)
    spark.stop()
    return 0


def retail_job(spark, warehouse: str, n_items: int) -> None:
    # start from no embeddings: the bench owns this warehouse's text tables
    for table in ("item_embeddings", "similar_items_text", "item_families"):
        path = Path(warehouse) / table
        if path.exists():
            subprocess.run(["rm", "-rf", str(path)], check=True)
    seconds, summary = job(spark, warehouse, DAY)
    print(f"embed job, Online Retail ({n_items:,} items), first run: {seconds:.0f}s  {summary}")
    seconds, summary = job(spark, warehouse, DAY + dt.timedelta(days=1))
    print(f"embed job, Online Retail, next day (nothing changed): {seconds:.0f}s  embedded={summary['embedded']} "
          f"carried_over={summary['carried_over']}")
    families = TableStore(spark, warehouse, "embedded").read("item_families").where(F.col("dt") == F.lit(DAY))
    print("Online Retail families (k, silhouette, largest):")
    for row in (families.groupBy("family", "k", "silhouette").agg(F.count(F.lit(1)).alias("n"))
                .orderBy(F.col("n").desc()).limit(12).collect()):
        print(f"  {row['n']:5d}  {row['family']}  (k={row['k']}, silhouette={row['silhouette']})")



def synthetic_job(spark, synthetic, warehouse: str, n_items: int) -> None:
    subprocess.run(["rm", "-rf", warehouse], check=True)
    store = TableStore(spark, warehouse, "embedded")
    store.overwrite(ITEMS, synthetic.limit(n_items), partition_by=())
    seconds, summary = job(spark, warehouse, DAY, "--set", "similar.num_blocks=8", "--set", "families.k=48")
    print(f"embed job, synthetic ({n_items:,} items; similar k=10 in 8x8 blocks, families k=48): "
          f"{seconds:.0f}s  embedded={summary['embedded']}  ({summary['embedded'] / seconds:,.0f} titles/s "
          f"over the whole job: encoding + similar items + families + writes)  {summary}")


if __name__ == "__main__":
    sys.exit(main())
