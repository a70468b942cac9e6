"""Settings that cut a small job's fixed cost, each pair of variants side by side on the test shop.

    .venv/bin/python bench/bench_job_settings.py --compare executor-jit [--jobs als,graph] [--repeats 2]
    .venv/bin/python bench/bench_job_settings.py --compare codegen [--jobs als,fpgrowth,evaluate] [--repeats 2]
    .venv/bin/python bench/bench_job_settings.py --compare local-driver-jit [--jobs als,graph] [--repeats 2]

Why: the end-to-end test (tests/test_airflow.py) runs each job as its own spark-submit, so every job
pays a cold JVM's fixed costs on 2 cores. Two settings of the tests (tests/deploy_helpers.py) cut them:
- `executor-jit`: on the standalone cluster a job is three cold JVMs (driver, two executors) whose JIT
  compilers compete with the work; the executors run C1 alone
  (`spark.executor.defaultJavaOptions=-XX:TieredStopAtLevel=1`) against the default JIT (C1 then C2);
- `codegen`: on local[2], Spark's generated code (whole-stage codegen, expressions compiled by
  Janino) against interpreted expressions (`TINY_DATA_SPARK_CONF`), for tiny tables;
- `driver-jit` / `local-driver-jit`: the driver's JVM with C1 alone (and the serial GC) against the
  default JIT, on the cluster and on local[2] (where the driver also runs every task).

What it does: the end-to-end test's tiny shop (10 days, 300 users, 120 items) is generated and
ingested, and the jobs the measured ones read are run once with Spark local[2]. Then each measured
job is submitted (to a standalone master with two one-core workers on 127.0.0.1 for executor-jit,
to local[2] for codegen) with each variant in turn (A, B, A, B, ... so drift on a shared machine hits
both), re-running the same date. Prints each run's wall time and its driver process tree's CPU time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT_ROOT / "tests"), str(PROJECT_ROOT)]

from deploy_helpers import (  # noqa: E402 - the test suite's package, shop and cluster helpers
    CODEGEN_OFF_SPARK_CONF, TEST_SPARK, VENV_BIN, build_package, existing_jobs, project_spark_env, read_pipeline,
    runnable_pipeline, submit_job, topological, write_overlay,
)
import standalone  # noqa: E402

EXECUTOR_JIT = "spark.executor.defaultJavaOptions"
DRIVER_JIT = "spark.driver.defaultJavaOptions"
C1_ONLY = "-XX:TieredStopAtLevel=1"
CODEGEN_ON = {"spark.sql.codegen.wholeStage": "true", "spark.sql.codegen.factoryMode": "FALLBACK"}  # Spark's defaults
# compare -> (where the measured jobs run, {variant label: the Spark settings it submits with})
COMPARISONS = {
    "executor-jit": ("cluster", {"default JIT": {}, "C1 only": {EXECUTOR_JIT: C1_ONLY}}),
    # The cluster's driver shares the 2 cores with both executors (which run C1 alone, as in the tests).
    "driver-jit": ("cluster", {
        "default JIT": {EXECUTOR_JIT: C1_ONLY},
        "C1 only": {EXECUTOR_JIT: C1_ONLY, DRIVER_JIT: C1_ONLY},
        "C1, serial GC": {EXECUTOR_JIT: C1_ONLY, DRIVER_JIT: f"{C1_ONLY} -XX:+UseSerialGC"},
    }),
    "codegen": ("local[2]", {"generated code": CODEGEN_ON, "interpreted": CODEGEN_OFF_SPARK_CONF}),
    # On local[*] the driver's JVM is also the executor: its JIT competes with the tasks for 2 cores.
    "local-driver-jit": ("local[2]", {
        "default JIT": {},
        "C1 only": {DRIVER_JIT: C1_ONLY},
        "C1, serial GC": {DRIVER_JIT: f"{C1_ONLY} -XX:+UseSerialGC"},
    }),
}


def upstream_of(pipeline: dict, jobs: list[str]) -> list[str]:
    """Every task the measured jobs read from, in the pipeline's order (the measured ones excluded)."""
    needed: set[str] = set()
    pending = list(jobs)
    while pending:
        for up in pipeline["tasks"][pending.pop()].get("upstream", []):
            if up not in needed:
                needed.add(up)
                pending.append(up)
    return [task for task in topological(pipeline) if task in needed and task not in jobs]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", choices=sorted(COMPARISONS), default="executor-jit")
    parser.add_argument("--jobs", default="als,graph", help="pipeline tasks to time")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args()
    jobs = options.jobs.split(",")
    where, variants = COMPARISONS[options.compare]
    varied = {key for settings in variants.values() for key in settings}

    root = Path(tempfile.mkdtemp(prefix="bench-cluster-jit-"))
    env = project_spark_env()
    try:
        package = build_package(root / "cobuy")
        spark = {k: v for k, v in TEST_SPARK.items() if k not in varied | {EXECUTOR_JIT, DRIVER_JIT}}  # the variants set them
        write_overlay(package / "conf", "bench", root / "warehouse", root / "landing", spark)
        pipeline, pre_steps = runnable_pipeline(read_pipeline(), existing_jobs())
        unknown = [job for job in jobs if job not in pipeline["tasks"]]
        if unknown:
            raise SystemExit(f"--jobs: {unknown} are not tasks of the pipeline ({', '.join(pipeline['tasks'])})")
        started = time.monotonic()
        for job, *args in pre_steps:
            submit_job(package, "local[2]", job, "bench", args, root / "setup.log", env)
        for task in upstream_of(pipeline, jobs):
            spec = pipeline["tasks"][task]
            submit_job(package, "local[2]", spec.get("job", task), "bench", spec.get("args", []), root / "setup.log", env)
        print(f"shop and upstream jobs ({', '.join(upstream_of(pipeline, jobs))}) on local[2]: "
              f"{time.monotonic() - started:.0f} s", flush=True)

        cluster = standalone.start_cluster(root / "standalone", env) if where == "cluster" else None
        master = cluster.master_url if cluster is not None else where
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        try:
            for _ in range(options.repeats):
                for label, settings in variants.items():
                    for task in jobs:
                        spec = pipeline["tasks"][task]
                        command = [str(VENV_BIN / "python"), str(package / "submit.py"), "--master", master]
                        for key, value in settings.items():
                            command += ["--conf", f"{key}={value}"]
                        command += [spec.get("job", task), "--env", "bench", "--date", "2024-03-31",
                                    *map(str, spec.get("args", []))]
                        before, began = os.times(), time.monotonic()
                        with (root / f"{task}.log").open("a") as log:
                            done = subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT)
                        wall, after = time.monotonic() - began, os.times()
                        if done.returncode != 0:
                            raise SystemExit(f"{task} ({label}) failed: see {root / f'{task}.log'}")
                        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
                        results.setdefault((task, label), []).append((wall, cpu))
                        print(f"{task:10s} {label:12s} wall {wall:6.1f} s  driver CPU {cpu:6.1f} s", flush=True)
        finally:
            if cluster is not None:
                cluster.stop()

        print(f"\n{options.compare} on {where}:")
        labels = list(variants)
        header = ["job", *(f"{label} wall (s)" for label in labels), *(f"ratio {label}" for label in labels[1:])]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for task in jobs:
            walls = [[wall for wall, _ in results[(task, label)]] for label in variants]
            means = [sum(w) / len(w) for w in walls]
            print(f"| {task} | " + " | ".join(", ".join(f"{w:.0f}" for w in ws) for ws in walls)
                  + "".join(f" | {mean / means[0]:.2f}" for mean in means[1:]) + " |")
    finally:
        if options.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
