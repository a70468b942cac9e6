"""ALS benchmark: the job's path (ids + fit + top-K with exclusions) against a bare ALS().fit().

    .venv/bin/python bench/bench_als.py [--users 50000 --items 10000 --interactions 1000000 --rank 64 --iters 15]

Synthetic implicit interactions (generated here, seeded): items fall into 100 clusters with Zipf-like
popularity; each user draws ~70% of their items from a home cluster and the rest from the whole
catalogue. Prints wall-clock seconds per step. Also times similar_items (exact_blocked vs lsh) on the
fitted item factors and reports the LSH's recall of the exact top-10.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pandas as pd
from pyspark.ml.recommendation import ALS
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.recs.als import AlsParams, fit_als, item_factors, recommend_als, with_int_ids
from lib.recs.ids import assign_ids
from lib.recs.pipeline import AlsFit
from lib.recs.similar import similar_items
from lib.schemas.recs import ID_MAP_ITEMS_SCHEMA, ID_MAP_USERS_SCHEMA
from lib.session import build_session


def synthetic_interactions(n_users: int, n_items: int, n_interactions: int, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_clusters = 100
    item_cluster = rng.integers(0, n_clusters, size=n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.8
    popularity = popularity[rng.permutation(n_items)]
    global_p = popularity / popularity.sum()
    cluster_items = [np.flatnonzero(item_cluster == c) for c in range(n_clusters)]
    cluster_p = [global_p[items] / global_p[items].sum() if items.size else None for items in cluster_items]

    per_user = int(np.ceil(1.4 * n_interactions / n_users))  # oversample: repeats collapse below
    users = np.repeat(np.arange(n_users), per_user)
    home = rng.integers(0, n_clusters, size=n_users)
    from_home = rng.random(users.size) < 0.7
    items = rng.choice(n_items, size=users.size, p=global_p)
    for c in range(n_clusters):
        mask = from_home & (home[users] == c)
        if cluster_items[c].size == 0:
            continue
        items[mask] = rng.choice(cluster_items[c], size=int(mask.sum()), p=cluster_p[c])
    confidence = rng.choice([1.0, 3.0, 5.0, 8.0], size=users.size, p=[0.6, 0.2, 0.15, 0.05])
    frame = pd.DataFrame({"user": users, "item": items, "confidence": confidence})
    frame = frame.groupby(["user", "item"], as_index=False)["confidence"].sum()
    if len(frame) > n_interactions:  # keep exactly n_interactions distinct pairs, a seeded sample
        frame = frame.sample(n=n_interactions, random_state=seed).reset_index(drop=True)
    return frame


def timed(label: str, fn):
    started = time.monotonic()
    result = fn()
    elapsed = time.monotonic() - started
    print(f"{label:<58} {elapsed:8.1f} s", flush=True)
    return result, elapsed


def force(frame: DataFrame) -> None:
    frame.write.format("noop").mode("overwrite").save()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--iters", type=int, default=15)
    parser.add_argument("--blocks", type=int, default=2, help="user/item blocks of the job path")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--skip-similar", action="store_true")
    parser.add_argument("--lsh-bucket", type=float, default=0.5,
                        help="LSH bucket length; 0.5 degenerates at rank 64 (projections have std ~1/sqrt(rank))")
    args = parser.parse_args(argv)

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    spark = build_session(
        "cobuy-bench-als",
        {
            "spark.master": "local[2]",
            "spark.driver.memory": "6g",
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "4",
            "spark.ui.enabled": "false",
            "spark.ui.showConsoleProgress": "false",
            "spark.sql.execution.arrow.pyspark.enabled": "true",
        },
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir("/tmp/cobuy-bench-als-checkpoints")
    try:
        data, _ = timed("generate interactions (numpy)", lambda: synthetic_interactions(args.users, args.items, args.interactions))
        print(f"interactions: {len(data):,} distinct (user, item) pairs; {data.user.nunique():,} users x {data.item.nunique():,} items; "
              f"rank {args.rank}, {args.iters} iterations", flush=True)
        ints = spark.createDataFrame(data.astype({"user": "int32", "item": "int32", "confidence": "float32"}))
        ints = ints.select(F.col("user").alias("user_idx"), F.col("item").alias("item_idx"), "confidence").cache()
        ints.count()
        strings = ints.select(
            F.format_string("u%06d", "user_idx").alias("user_id"),
            F.format_string("i%05d", "item_idx").alias("item_id"),
            F.col("confidence").cast("double"),
        ).cache()
        strings.count()

        warm = ALS(userCol="user_idx", itemCol="item_idx", ratingCol="confidence", implicitPrefs=True, rank=4, maxIter=1)
        timed("warm-up (JIT, first ALS stages; not compared)", lambda: warm.fit(ints.limit(20_000)))

        bare = ALS(userCol="user_idx", itemCol="item_idx", ratingCol="confidence", implicitPrefs=True,
                   rank=args.rank, maxIter=args.iters, seed=42)
        bare_model, bare_fit = timed("bare ALS().fit() (defaults: 10 blocks, no checkpoint dir use)", lambda: bare.fit(ints))
        _, bare_recs = timed(f"bare recommendForAllUsers({args.k})", lambda: force(bare_model.recommendForAllUsers(args.k)))

        params = AlsParams(rank=args.rank, max_iter=args.iters, reg_param=0.1, alpha=1.0,
                           num_user_blocks=args.blocks, num_item_blocks=args.blocks, checkpoint_interval=5, seed=42)
        def id_maps():
            empty_users = spark.createDataFrame([], ID_MAP_USERS_SCHEMA)
            empty_items = spark.createDataFrame([], ID_MAP_ITEMS_SCHEMA)
            user_ids = assign_ids(empty_users, strings.select("user_id"), "user_id", "user_idx").localCheckpoint()
            item_ids = assign_ids(empty_items, strings.select("item_id"), "item_id", "item_idx").localCheckpoint()
            return user_ids, item_ids

        (user_ids, item_ids), job_ids = timed("job: stable id maps (assign_ids, users and items)", id_maps)
        model, job_fit_only = timed(
            f"job: fit_als ({args.blocks} blocks, checkpoint every 5)",
            lambda: fit_als(with_int_ids(strings, user_ids, item_ids), params),
        )
        job_fit = job_ids + job_fit_only

        fitted = AlsFit(model=model, user_ids=user_ids, item_ids=item_ids)  # what train_als returns
        users = strings.select("user_id").distinct()
        _, job_recs = timed(
            f"job: recommend_als top-{args.k}, bought excluded by join",
            lambda: force(recommend_als(fitted.model, users, fitted.user_ids, fitted.item_ids, args.k, True, strings)),
        )
        same_blocks = ALS(userCol="user_idx", itemCol="item_idx", ratingCol="confidence", implicitPrefs=True,
                          rank=args.rank, maxIter=args.iters, seed=42,
                          numUserBlocks=args.blocks, numItemBlocks=args.blocks)
        _, bare_same = timed(f"bare ALS().fit() with {args.blocks} blocks", lambda: same_blocks.fit(ints))
        print(f"SUMMARY fit: bare(10 blocks) {bare_fit:.1f} s | bare({args.blocks} blocks) {bare_same:.1f} s | "
              f"job {job_fit:.1f} s (id maps {job_ids:.1f} + fit {job_fit_only:.1f}); "
              f"recommend: bare {bare_recs:.1f} s | job (with exclusion) {job_recs:.1f} s", flush=True)

        if not args.skip_similar:
            factors = item_factors(fitted.model, fitted.item_ids).cache()
            factors.count()
            exact = similar_items(factors, 10, "exact_blocked", num_blocks=8).cache()
            _, exact_time = timed("similar_items exact_blocked (8 blocks), top-10", lambda: exact.count())
            lsh = similar_items(factors, 10, "lsh", lsh_bucket_length=args.lsh_bucket, lsh_num_hash_tables=4,
                                lsh_min_cosine=0.5).cache()
            _, lsh_time = timed(f"similar_items lsh (bucket {args.lsh_bucket}, 4 tables, cos >= 0.5), top-10", lambda: lsh.count())
            hits = exact.join(lsh.select("item_id", "similar_item_id"), on=["item_id", "similar_item_id"], how="inner").count()
            print(f"SUMMARY similar: exact {exact_time:.1f} s, lsh {lsh_time:.1f} s, "
                  f"lsh recall of exact top-10 = {hits / max(1, exact.count()):.3f}", flush=True)
    finally:
        spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
