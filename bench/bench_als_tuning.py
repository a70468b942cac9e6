"""ALS tuning: blocks, intermediateStorageLevel, blockSize, native BLAS; job vs bare MLlib vs implicit CG.

    env PYSPARK_PYTHON=.venv/bin/python .venv/bin/python bench/bench_als_tuning.py \
        [--interactions 1000000 --users 50000 --items 10000 --rank 64 --iters 15 --sweep-iters 5] \
        [--skip-native] [--skip-sweep] [--repeats 3]

The 1M-interaction synthetic set of bench/bench_als.py; one held-out item per user with >= 3 items
(seeded) is the test set; NDCG@10 of every model is computed the same way, in numpy, on the same
sample of test users from the fitted factors (train items excluded from the ranking).

Prints, in one run:
- which BLAS and LAPACK Spark's netlib wrapper loaded in this JVM (`loaded_blas`);
- the main table at --rank/--iters: `implicit` CG (2 threads), bare `ALS().fit()` with the job's
  settings, the job's path (lib.recs.als.fit_als on the id-mapped frame from lib.recs.ids), and the
  bare fit in a child JVM with Debian's OpenBLAS (`-Ddev.ludovic.netlib.blas.nativeLibPath=...`),
  with seconds, NDCG@10 and the ratio to implicit CG;
- the sweep at --sweep-iters: user/item blocks 2/4 (10, MLlib's default, is slower still: see
  SPARK-NOTES), intermediateStorageLevel MEMORY_AND_DISK vs MEMORY_ONLY, and blockSize 4096/1024 (it only stacks factors in recommendForAll*, so it is timed
  on recommendForAllUsers(10)).
Figures, not assertions: one run each (`--repeats N`: the bare fit and the job path alternated N
times, the fastest of each shown); Spark timings vary by up to 30% run to run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

# One BLAS thread per process for numpy/implicit and per Spark task (2 tasks on 2 cores); set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

OPENBLAS = "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"
NATIVE_BLAS_OPTIONS = (f"-Ddev.ludovic.netlib.blas.nativeLibPath={OPENBLAS} "
                       f"-Ddev.ludovic.netlib.lapack.nativeLibPath={OPENBLAS}")
# netlib's default looks for libblas.so.3; a path that does not exist forces the JVM (Vector API) BLAS.
JAVA_BLAS_OPTIONS = ("-Ddev.ludovic.netlib.blas.nativeLibPath=/nonexistent/libblas.so "
                     "-Ddev.ludovic.netlib.lapack.nativeLibPath=/nonexistent/liblapack.so")


def loaded_blas(spark) -> dict[str, str]:
    """The BLAS and LAPACK implementations Spark's netlib wrapper loaded in the driver JVM."""
    jvm = spark._jvm
    return {
        "blas": jvm.dev.ludovic.netlib.blas.BLAS.getInstance().getClass().getName(),
        "lapack": jvm.dev.ludovic.netlib.lapack.LAPACK.getInstance().getClass().getName(),
    }


def holdout(frame: pd.DataFrame, seed: int = 3) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One random interaction of every user with >= 3 interactions is the test; the rest train."""
    rng = np.random.default_rng(seed)
    shuffled = frame.iloc[rng.permutation(len(frame))]
    counts = shuffled.groupby("user")["item"].transform("size")
    first = ~shuffled.duplicated("user") & (counts >= 3)
    return shuffled[~first].sort_values(["user", "item"]), shuffled[first]


def ndcg_at_10(user_factors: np.ndarray, item_factors: np.ndarray, train: pd.DataFrame,
               test: pd.DataFrame, users: np.ndarray) -> float:
    """Mean NDCG@10 of the held-out item over `users` (one relevant item: 1 / log2(rank + 2))."""
    truth = dict(zip(test["user"], test["item"]))
    seen = train[train["user"].isin(users)].groupby("user")["item"].apply(np.asarray).to_dict()
    total = 0.0
    for start in range(0, len(users), 2048):
        chunk = users[start:start + 2048]
        scores = user_factors[chunk] @ item_factors.T
        for row, user in enumerate(chunk):
            scores[row, seen.get(user, [])] = -np.inf
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        for row, user in enumerate(chunk):
            ranked = top[row][np.argsort(-scores[row, top[row]])]
            hit = np.flatnonzero(ranked == truth[user])
            total += 1.0 / np.log2(hit[0] + 2) if hit.size else 0.0
    return float(total / len(users))


def spark_factors(model, n_users: int, n_items: int, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """Dense factor matrices (users x rank, items x rank; zeros for ids the model has not seen)."""
    out = []
    for frame, n in ((model.userFactors, n_users), (model.itemFactors, n_items)):
        pdf = frame.toPandas()  # bounded: one row per user or item of the benchmark set
        dense = np.zeros((n, rank), dtype=np.float32)
        dense[pdf["id"].to_numpy()] = np.stack(pdf["features"].to_numpy())
        out.append(dense)
    return out[0], out[1]


def timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def build_spark(java_options: str):
    from lib.session import build_session

    spark = build_session("cobuy-bench-als-tuning", {
        "spark.master": "local[2]", "spark.driver.memory": "4g", "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false", "spark.sql.shuffle.partitions": "4",
        "spark.default.parallelism": "4", "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.driver.extraJavaOptions": java_options, "spark.executor.extraJavaOptions": java_options,
    })
    spark.sparkContext.setLogLevel("ERROR")
    spark.sparkContext.setCheckpointDir("/tmp/cobuy-bench-als-tuning-checkpoints")
    return spark


def als(rank: int, iters: int, blocks: int = 2, storage: str = "MEMORY_AND_DISK", block_size: int = 4096):
    from pyspark.ml.recommendation import ALS

    return ALS(userCol="user_idx", itemCol="item_idx", ratingCol="confidence", implicitPrefs=True,
               rank=rank, maxIter=iters, regParam=0.1, alpha=1.0, seed=42, numUserBlocks=blocks,
               numItemBlocks=blocks, checkpointInterval=5, intermediateStorageLevel=storage,
               blockSize=block_size, coldStartStrategy="drop")


def spark_arms(args, train: pd.DataFrame, test: pd.DataFrame, eval_users: np.ndarray, java_options: str,
               sweep: bool, job: bool = True) -> dict:
    """Bare fit and job path at the main settings (+ the sweep) in one JVM; figures as a dict."""
    from pyspark.sql import functions as F

    from lib.recs.als import AlsParams, fit_als, with_int_ids
    from lib.recs.ids import assign_ids
    from lib.schemas.recs import ID_MAP_ITEMS_SCHEMA, ID_MAP_USERS_SCHEMA

    spark = build_spark(java_options)
    out: dict = {"blas": loaded_blas(spark)}
    try:
        ints = spark.createDataFrame(train.astype({"user": "int32", "item": "int32", "confidence": "float32"}))
        ints = ints.select(F.col("user").alias("user_idx"), F.col("item").alias("item_idx"), "confidence").cache()
        ints.count()
        strings = ints.select(F.format_string("u%06d", "user_idx").alias("user_id"),
                              F.format_string("i%05d", "item_idx").alias("item_id"),
                              F.col("confidence").cast("double")).cache()
        strings.count()
        als(4, 1).fit(ints.limit(20_000))  # warm-up: JIT and first ALS stages, not compared

        def quality(model) -> float:
            users, items = spark_factors(model, args.users, args.items, args.rank)
            return ndcg_at_10(users, items, train, test, eval_users)

        bare_times, job_times = [], []
        model, seconds = timed(lambda: als(args.rank, args.iters).fit(ints))
        bare_times.append(seconds)
        out["bare_ndcg"] = quality(model)

        def job_path():
            empty_users = spark.createDataFrame([], ID_MAP_USERS_SCHEMA)
            empty_items = spark.createDataFrame([], ID_MAP_ITEMS_SCHEMA)
            user_ids = assign_ids(empty_users, strings.select("user_id"), "user_id", "user_idx").localCheckpoint()
            item_ids = assign_ids(empty_items, strings.select("item_id"), "item_id", "item_idx").localCheckpoint()
            params = AlsParams(rank=args.rank, max_iter=args.iters, reg_param=0.1, alpha=1.0,
                               num_user_blocks=2, num_item_blocks=2, checkpoint_interval=5, seed=42)
            return fit_als(with_int_ids(strings, user_ids, item_ids), params), user_ids, item_ids

        if not job:
            out["bare_s"], out["bare_runs"] = bare_times[0], bare_times
            return out
        (job_model, user_ids, item_ids), seconds = timed(job_path)
        job_times.append(seconds)
        for _ in range(args.repeats - 1):  # alternated, so a slow spell of the machine hits both arms
            bare_times.append(timed(lambda: als(args.rank, args.iters).fit(ints))[1])
            job_times.append(timed(job_path)[1])
        out["bare_s"], out["bare_runs"] = min(bare_times), bare_times
        out["job_s"], out["job_runs"] = min(job_times), job_times
        # the job's ids are its own: map its factors back to the benchmark's integer ids for NDCG
        uf = job_model.userFactors.join(user_ids, F.col("id") == F.col("user_idx"), how="inner").select(
            F.substring("user_id", 2, 6).cast("int").alias("id"), "features")
        itf = job_model.itemFactors.join(item_ids, F.col("id") == F.col("item_idx"), how="inner").select(
            F.substring("item_id", 2, 5).cast("int").alias("id"), "features")

        class Factors:  # what spark_factors reads
            userFactors, itemFactors = uf, itf

        out["job_ndcg"] = quality(Factors)
        if sweep:
            rows = []
            for blocks, storage in ((2, "MEMORY_AND_DISK"), (4, "MEMORY_AND_DISK"), (2, "MEMORY_ONLY")):
                _, seconds = timed(lambda: als(args.rank, args.sweep_iters, blocks, storage).fit(ints))
                rows.append({"setting": f"blocks={blocks} {storage}", "fit_s": seconds})
                print(f"  sweep blocks={blocks} {storage}: {seconds:.1f}s", flush=True)
            for block_size in (4096, 1024):
                model.setBlockSize(block_size) if hasattr(model, "setBlockSize") else None
                _, seconds = timed(lambda: model.recommendForAllUsers(10).write.format("noop").mode(
                    "overwrite").save())
                rows.append({"setting": f"blockSize={block_size} recommendForAllUsers(10)", "fit_s": seconds})
                print(f"  sweep blockSize={block_size}: {seconds:.1f}s", flush=True)
            out["sweep"] = rows
    finally:
        spark.stop()
    return out


def implicit_arm(args, train: pd.DataFrame, test: pd.DataFrame, eval_users: np.ndarray) -> dict:
    import scipy.sparse as sp
    from implicit.cpu.als import AlternatingLeastSquares

    # MLlib's implicit ALS weighs a positive by 1 + alpha * r and scales the L2 penalty by each
    # row's count (ALS-WR); implicit takes the weight as given and a plain penalty: 1 + alpha * r
    # here, and the penalty times the mean count per row so that both regularise alike.
    weights = sp.csr_matrix((1.0 + 1.0 * train["confidence"].to_numpy(np.float32),
                             (train["user"].to_numpy(), train["item"].to_numpy())),
                            shape=(args.users, args.items), dtype=np.float32)
    reg = 0.1 * len(train) / args.users
    model = AlternatingLeastSquares(factors=args.rank, regularization=reg, iterations=args.iters,
                                    use_cg=True, num_threads=2, random_state=42, calculate_training_loss=False)
    _, seconds = timed(lambda: model.fit(weights, show_progress=False))
    return {"implicit_s": seconds,
            "implicit_ndcg": ndcg_at_10(model.user_factors, model.item_factors, train, test, eval_users)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--interactions", type=int, default=1_000_000)
    parser.add_argument("--rank", type=int, default=64)
    parser.add_argument("--iters", type=int, default=15)
    parser.add_argument("--sweep-iters", type=int, default=5)
    parser.add_argument("--eval-users", type=int, default=10_000)
    parser.add_argument("--skip-native", action="store_true")
    parser.add_argument("--skip-sweep", action="store_true")
    parser.add_argument("--repeats", type=int, default=1,
                        help="bare fit and job path alternated this many times (JVM BLAS arm); the fastest of each is shown")
    parser.add_argument("--child", choices=["native"], help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_als import synthetic_interactions

    data = synthetic_interactions(args.users, args.items, args.interactions)
    train, test = holdout(data)
    eval_users = np.sort(np.random.default_rng(5).choice(test["user"].to_numpy(),
                                                         size=min(args.eval_users, len(test)), replace=False))
    if args.child == "native":
        print("CHILD " + json.dumps(spark_arms(args, train, test, eval_users, NATIVE_BLAS_OPTIONS, False, job=False)))
        return 0
    print(f"interactions: {len(data):,} ({len(train):,} train, {len(test):,} held out); rank {args.rank}, "
          f"{args.iters} iterations; NDCG@10 on {len(eval_users):,} users", flush=True)

    figures = implicit_arm(args, train, test, eval_users)
    print(f"  implicit CG: {figures['implicit_s']:.1f}s NDCG@10 {figures['implicit_ndcg']:.4f}", flush=True)
    java = spark_arms(args, train, test, eval_users, JAVA_BLAS_OPTIONS, not args.skip_sweep)
    print(f"  JVM BLAS arm: {java['blas']} bare {java['bare_s']:.1f}s job {java['job_s']:.1f}s", flush=True)
    native = None
    if not args.skip_native:
        child = subprocess.run([sys.executable, __file__, "--child", "native", *(argv or sys.argv[1:])],
                               capture_output=True, text=True, check=False)
        lines = [line for line in child.stdout.splitlines() if line.startswith("CHILD ")]
        if not lines:
            print(child.stdout[-2000:], child.stderr[-4000:])
        else:
            native = json.loads(lines[0][len("CHILD "):])

    base = figures["implicit_s"]
    print()
    print(f"{'arm':<44} {'BLAS/LAPACK loaded':<44} {'fit_s':>7} {'x implicit':>10} {'NDCG@10':>8}")
    print(f"{'implicit CG (2 threads)':<44} {'numpy/OpenBLAS (implicit)':<44} {base:>7.1f} {1.0:>10.1f} "
          f"{figures['implicit_ndcg']:>8.4f}")
    for label, arm in (("JVM BLAS", java), ("OpenBLAS", native)):
        if arm is None:
            continue
        loaded = f"{arm['blas']['blas'].rsplit('.', 1)[-1]}/{arm['blas']['lapack'].rsplit('.', 1)[-1]}"
        for what, key in (("bare ALS().fit(), 2 blocks", "bare"), ("job fit_als (ids + fit)", "job")):
            if key + "_s" not in arm:
                continue
            print(f"{what + ' [' + label + ']':<44} {loaded:<44} {arm[key + '_s']:>7.1f} "
                  f"{arm[key + '_s'] / base:>10.1f} {arm[key + '_ndcg']:>8.4f}")
        if "job_s" in arm:
            print(f"{'  job / bare [' + label + ']':<44} {'':<44} {arm['job_s'] / arm['bare_s']:>7.2f}")
            if len(arm["job_runs"]) > 1:
                pairs = ", ".join(f"{b:.1f}/{j:.1f}" for b, j in zip(arm["bare_runs"], arm["job_runs"]))
                print(f"{'  every run, bare/job s [' + label + ']':<44} {pairs}")
    if java.get("sweep"):
        print()
        print(f"sweep at {args.sweep_iters} iterations, rank {args.rank} (JVM BLAS)")
        first = java["sweep"][0]["fit_s"]
        for row in java["sweep"]:
            ratio = row["fit_s"] / first if "recommend" not in row["setting"] else float("nan")
            print(f"  {row['setting']:<50} {row['fit_s']:>7.1f}s  x first {ratio:>5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
