"""Benchmark: purchase paths and item2vec — wall times, Word2Vec numPartitions, next-basket quality.

    env PYSPARK_PYTHON=.venv/bin/python .venv/bin/python bench/bench_paths.py \
        --dataset synthetic [--sessions-per-day 1400 --days 90]
    env PYSPARK_PYTHON=.venv/bin/python .venv/bin/python bench/bench_paths.py \
        --dataset online_retail [--warehouse /tmp/cobuy-bench-paths-or]   # ingests first unless --reuse

Times (one run each, local[2]): sequences, PrefixSpan paths, next items, item2vec per numPartitions,
similar items, and the share of the 1-partition run's top-k neighbours each other run finds. Quality on a next-basket split (train up to run date - split_days; truth = each test
user's first basket after it): hit rate / recall / NDCG @10 of popularity, buy-again, the
next-purchase recommender (transitions only, item2vec only per numPartitions, blend). On the
synthetic shop it also prints the planted paths' measured confidence.

--neural (needs `pip install -e '.[neural]'`): also a GRU next-item model in JAX on 2 cores
(bench/neural_next_basket.py) on the same split and truth — its fit and predict times, its quality
excluding nothing (as popularity / buy-again) and excluding the seed items (as next purchase), and a
closing table of every model's quality.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import subprocess
import sys
import time

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from shared_datasets import DATASETS, PROJECT_ROOT  # noqa: E402 - bench/ is on sys.path

from lib.paths.item2vec import Item2VecParams, fit_item2vec, sentences, similar_by_behaviour  
from lib.paths.next_items import NextItemsParams, next_items, transition_counts  
from lib.paths.patterns import PathPruningParams, PatternParams, purchase_paths  
from lib.paths.recommend import NextPurchaseParams, score_next_purchase, seed_items  
from lib.paths.sequences import user_baskets, user_sequences  
from lib.recs.baselines import recommend_buy_again, recommend_popularity  
from lib.recs.metrics import ranking_metrics_per_user  
from lib.schemas.events import EVENTS, EVENTS_SCHEMA  
from lib.session import build_session  
from lib.storage import TableStore  

SESSION_CONF = {"spark.master": "local[2]", "spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "4",
                "spark.ui.enabled": "false", "spark.sql.adaptive.enabled": "true",
                "spark.ui.showConsoleProgress": "false"}
K = 10


class Clock:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, str]] = []

    def time(self, name: str, action, note=lambda result: ""):
        started = time.monotonic()
        result = action()
        self.rows.append((name, time.monotonic() - started, note(result)))
        print(f"  {name:<38} {self.rows[-1][1]:7.1f}s  {self.rows[-1][2]}", flush=True)
        return result


def synthetic_events(spark: SparkSession, args) -> tuple[DataFrame, dt.date, list]:
    from lib.synth.catalog import generate_items
    from lib.synth.events import generate_events
    from lib.synth.paths import plan_paths
    from lib.synth.spec import ShopSpec

    end = dt.date(2024, 3, 31)
    spec = ShopSpec(seed=3, days=args.days, users=args.users, items=args.items, sessions_per_day=args.sessions_per_day,
                    paths=4, path_strength=0.5, path_max_days=14)
    catalogue = generate_items(spark, spec).select("item_number", "item_id")
    generated = generate_events(spark, spec, end).join(F.broadcast(catalogue), on="item_number", how="inner")
    events = generated.select(
        "event_id", "event_time", F.format_string("u%06d", F.col("user_number")).alias("user_id"), "session_id",
        "order_id", "item_id", "event_type", "quantity", F.lit(1.0).alias("unit_price"),
        F.lit("synthetic").alias("source"), F.col("date").alias("dt"),
    )
    events = events.select(*[F.col(f.name).cast(f.dataType) for f in EVENTS_SCHEMA.fields])
    planted = [(f"i{p.first:05d}", f"i{p.then:05d}") for p in plan_paths(spec)]
    return events, end, planted


def online_retail_events(spark: SparkSession, args) -> tuple[DataFrame, dt.date, list]:
    if not args.reuse:
        shutil.rmtree(args.warehouse, ignore_errors=True)
        env = {**os.environ, "COBUY_PSEUDONYM_SECRET": os.environ.get("COBUY_PSEUDONYM_SECRET", "bench-secret")}
        command = [
            sys.executable, str(PROJECT_ROOT / "jobs" / "ingest.py"), "--env", "local",
            "--from", "2010-12-01", "--to", "2011-12-09", "--set", "source=online_retail",
            "--input", str(DATASETS / "online_retail"), "--set", f"storage.warehouse={args.warehouse}",
            "--set", "storage.engine=embedded", "--set", "spark.master=local[2]",
            "--set", "spark.ui.showConsoleProgress=false",
        ]
        started = time.monotonic()
        result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=PROJECT_ROOT)
        print(f"  ingest (jobs/ingest.py, subprocess)    {time.monotonic() - started:7.1f}s  exit {result.returncode}")
        if result.returncode:
            print(result.stderr[-3000:])
            raise SystemExit(result.returncode)
    store = TableStore(spark, args.warehouse, "auto")  # delta-rs here: reads what either engine wrote
    return store.read(EVENTS), dt.date(2011, 12, 9), []


def first_basket_after(baskets: DataFrame, split: dt.date) -> DataFrame:
    """(user_id, item_id): the items of each user's first basket after `split` (the next_basket view)."""
    first = Window.partitionBy("user_id").orderBy("basket_time", "basket_id")
    after = baskets.where(F.col("basket_date") > F.lit(split)).withColumn("_n", F.row_number().over(first))
    return after.where(F.col("_n") == 1).select("user_id", F.explode("items").alias("item_id"))


def quality(recs: DataFrame, truth: DataFrame) -> str:
    row = ranking_metrics_per_user(recs, truth, K).agg(
        F.count(F.lit(1)).alias("users"), F.avg("hit_rate").alias("hit"), F.avg("recall").alias("recall"),
        F.avg("ndcg").alias("ndcg"),
    ).first()
    if not row["users"]:
        return "no test users"
    return f"users {row['users']}, hit@{K} {row['hit']:.4f}, recall@{K} {row['recall']:.4f}, ndcg@{K} {row['ndcg']:.4f}"


def neighbour_agreement(reference: DataFrame, other: DataFrame) -> str:
    """Share of the reference run's (item, neighbour) pairs the other run also has (same k): 1.0 = the
    same similar-items lists; a second run with the same partitions and seed shows the noise floor."""
    shared = reference.join(other.select("item_id", "similar_item_id"), ["item_id", "similar_item_id"], "inner")
    n_ref, n_shared = reference.count(), shared.count()
    return f"{n_shared / n_ref:.3f} of {n_ref:,} neighbour pairs" if n_ref else "no neighbours"


def neural_rows(spark: SparkSession, clock: Clock, args, train_baskets: DataFrame, split: dt.date,
                users: DataFrame, seeds: DataFrame, truth: DataFrame) -> None:
    """The GRU yardstick on the same split: sequences collected (bounded), fit, top-K, scored."""
    from neural_next_basket import NeuralParams, collect_sequences, fit_neural, limit_to_two_cores, recommend_neural

    from lib.schemas.recs import RECOMMENDATIONS_SCHEMA

    limit_to_two_cores()  # before jax is imported (GRUModel imports it)
    params = NeuralParams(embed=args.neural_embed, hidden=args.neural_hidden, epochs=args.neural_epochs)
    sequences = clock.time(f"neural: collect sequences (last {params.history})",
                           lambda: collect_sequences(train_baskets, split, params), lambda d: f"{len(d):,} users")
    fitted = clock.time(f"neural: GRU fit ({params.epochs} epochs, 2 cores)", lambda: fit_neural(sequences, params),
                        lambda f: f"{f.model.n_weights():,} weights, {f.n_windows:,} windows, "
                                  f"loss {f.losses[0]:.3f} -> {f.losses[-1]:.3f}")
    test_users = [r["user_id"] for r in users.collect()]  # bounded: the test users of the split
    own = {r["user_id"]: set(r["items"]) for r in
           seeds.groupBy("user_id").agg(F.collect_list("seed_item_id").alias("items")).collect()}
    for label, exclude in (("excluding nothing", None), ("excluding seed items", own)):
        recs = clock.time(f"neural: predict top-{K} ({label})",
                          lambda: recommend_neural(fitted, sequences, test_users, K, exclude),
                          lambda d: f"{d['user_id'].nunique():,} users")
        frame = spark.createDataFrame(recs, RECOMMENDATIONS_SCHEMA)
        clock.time(f"neural GRU: {label}", lambda: quality(frame, truth), str)


def print_quality_table(clock: Clock) -> None:
    """Every quality row of this run, one line each (the seconds are that row's own step)."""
    print(f"quality on the next-basket split (@{K}):")
    print(f"  {'model':<46} {'users':>6} {'hit':>7} {'recall':>7} {'ndcg':>7}")
    for name, _, note in clock.rows:
        if note.startswith("users "):
            fields = dict(part.split(" ") for part in note.split(", "))
            print(f"  {name.strip():<46} {fields['users']:>6} {fields[f'hit@{K}']:>7} "
                  f"{fields[f'recall@{K}']:>7} {fields[f'ndcg@{K}']:>7}")
    fits = [(n, t) for n, t, _ in clock.rows if n.startswith("neural:")]
    print("  neural steps: " + ", ".join(f"{n.removeprefix('neural: ')} {t:.1f}s" for n, t in fits))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=("synthetic", "online_retail"), default="synthetic")
    parser.add_argument("--warehouse", default="/tmp/cobuy-bench-paths-or")
    parser.add_argument("--reuse", action="store_true",
                        help="online_retail: read the warehouse's events as they are (e.g. bench_evaluate_online_retail's)")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--items", type=int, default=2_000)
    parser.add_argument("--sessions-per-day", type=int, default=1_400)
    parser.add_argument("--min-count", type=int, default=20, help="PrefixSpan: episodes a path needs")
    parser.add_argument("--partitions", default="1,1,2,4",
                        help="Word2Vec numPartitions to compare; the first is the reference of 'neighbours shared' "
                             "(1 twice: a second identical run shows whether 1 partition is deterministic)")
    parser.add_argument("--split-days", type=int, default=30)
    parser.add_argument("--neural", action="store_true", help="also fit and score the GRU yardstick (jax)")
    parser.add_argument("--neural-epochs", type=int, default=10)
    parser.add_argument("--neural-hidden", type=int, default=64)
    parser.add_argument("--neural-embed", type=int, default=64)
    args = parser.parse_args()

    spark = build_session("cobuy-bench-paths", SESSION_CONF)
    spark.sparkContext.setLogLevel("ERROR")
    clock = Clock()
    print(f"bench_paths on {args.dataset} (local[2])")
    load = synthetic_events if args.dataset == "synthetic" else online_retail_events
    events, end, planted = load(spark, args)
    events = events.persist(StorageLevel.MEMORY_AND_DISK)
    clock.time("events (load + persist + count)", events.count, lambda n: f"{n:,} events")
    caps = dict(max_basket_items=50, max_baskets_per_user=100)
    baskets = user_baskets(events, **caps).persist(StorageLevel.MEMORY_AND_DISK)
    clock.time("user baskets", baskets.count, lambda n: f"{n:,} baskets")
    seqs = user_sequences(baskets, max_gap_days=30).persist(StorageLevel.MEMORY_AND_DISK)
    n_seq = clock.time("sequences (episodes, max gap 30 d)", seqs.count, lambda n: f"{n:,} episodes")
    pruning = PathPruningParams().as_rules_pruning()
    paths = clock.time(
        f"purchase paths (PrefixSpan, min {args.min_count})",
        lambda: purchase_paths(seqs, n_seq, PatternParams(min_count=args.min_count), pruning).persist(),
    )
    clock.time("  paths: count by status", lambda: dict(paths.groupBy("status").count().collect()), str)
    after = clock.time("next items (14 days)",
                       lambda: next_items(baskets, end, NextItemsParams(min_count=5), pruning).persist())
    clock.time("  next items: count kept", lambda: after.where(F.col("status") == "kept").count(), str)
    for first, then in planted:
        row = after.where((F.col("item_id") == first) & (F.col("next_item_id") == then)).first()
        print(f"  planted {first} -> {then}: " + (f"confidence {row['confidence']:.3f} over {row['n_a']} users, "
              f"rank {row['rank']}, {row['status']} (planted 0.5)" if row else "NOT FOUND"))
    print("  top kept paths by lift:")
    for r in paths.where(F.col("status") == "kept").orderBy(F.col("lift").desc()).limit(5).collect():
        print(f"    {' > '.join('+'.join(s) for s in r['path'])}: n {r['n_path']}, conf {r['confidence']:.3f}, "
              f"lift {r['lift']:.1f}")

    # -- next-basket split ------------------------------------------------------------------------
    split = end - dt.timedelta(days=args.split_days)
    training = events.where(F.to_date("event_time") <= F.lit(split)).persist(StorageLevel.MEMORY_AND_DISK)
    train_baskets = user_baskets(training, **caps).persist(StorageLevel.MEMORY_AND_DISK)
    truth = first_basket_after(baskets, split).join(train_baskets.select("user_id").distinct(), "user_id", "inner")
    truth = truth.persist()
    users = truth.select("user_id").distinct().persist()
    clock.time(f"next-basket split at {split}", users.count, lambda n: f"{n:,} test users with training baskets")
    clock.time("popularity (30 d)", lambda: quality(recommend_popularity(training, users, split, 30, K), truth), str)
    clock.time("buy again", lambda: quality(recommend_buy_again(training, users, split, K, 30.0), truth), str)
    params = NextPurchaseParams(within_days=30, min_pair_count=2)
    seeds = seed_items(train_baskets, users, split, params.recent_baskets, params.half_life_days).persist()
    transitions = transition_counts(train_baskets, split, params.within_days, params.min_pair_count).persist()
    clock.time("transitions (30 d)", transitions.count, lambda n: f"{n:,} pairs")
    clock.time("next purchase: transitions only",
               lambda: quality(score_next_purchase(seeds, transitions, None, K, params), truth), str)
    train_sentences = sentences(training, train_baskets, Item2VecParams()).persist()
    clock.time("item2vec sentences", train_sentences.count, lambda n: f"{n:,} sentences")
    best_similar, reference = None, None
    for parts in [int(p) for p in args.partitions.split(",")]:
        w2v = Item2VecParams(num_partitions=parts)
        vectors = clock.time(f"item2vec fit, numPartitions={parts}",
                             lambda: fit_item2vec(train_sentences, w2v).persist(), lambda v: f"{v.count():,} vectors")
        similar = clock.time(f"  similar items (k={params.neighbours})",
                             lambda: similar_by_behaviour(vectors, params.neighbours).persist(),
                             lambda s: f"{s.count():,} rows")
        clock.time(f"  next purchase: item2vec only, parts={parts}",
                   lambda: quality(score_next_purchase(seeds, None, similar, K, params), truth), str)
        if reference is None:
            reference = similar.select("item_id", "similar_item_id")
        else:
            clock.time(f"  neighbours shared with parts={args.partitions.split(',')[0]}",
                       lambda: neighbour_agreement(reference, similar), str)
        if best_similar is None or parts == 1:
            best_similar = similar
    clock.time("next purchase: blend (1.0 T + 0.5 E, parts=1)",
               lambda: quality(score_next_purchase(seeds, transitions, best_similar, K, params), truth), str)
    if args.neural:
        neural_rows(spark, clock, args, train_baskets, split, users, seeds, truth)
        print_quality_table(clock)
    print(f"total {sum(t for _, t, _ in clock.rows):.1f}s")
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
