"""Cluster jobs with the executors' default JIT (C1 then C2) against C1 alone, side by side.

    .venv/bin/python bench/bench_cluster_jit.py [--jobs als,graph] [--repeats 2]

Why: on a 2-core machine a standalone-cluster job is three cold JVMs (driver, two executors) whose
JIT compilers compete with the work; the end-to-end test (tests/test_airflow.py) runs its cluster
jobs with `spark.executor.defaultJavaOptions=-XX:TieredStopAtLevel=1` (tests/deploy_helpers.py).

What it does: the end-to-end test's tiny shop (10 days, 300 users, 120 items) is generated and
ingested, and the jobs the measured ones read are run once with Spark local[2]. Then a standalone
master with two one-core workers starts on 127.0.0.1 and each measured job is submitted to it
with each variant in turn (A, B, A, B, ... so drift on a shared machine hits both), re-running the
same date. Prints each run's wall time and its driver process tree's CPU time.
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
    TEST_SPARK, VENV_BIN, build_package, existing_jobs, project_spark_env, read_pipeline,
    runnable_pipeline, submit_job, topological, write_overlay,
)
import standalone  # noqa: E402

VARIANTS = {"default JIT": "", "C1 only": "-XX:TieredStopAtLevel=1"}
EXECUTOR_JIT = "spark.executor.defaultJavaOptions"


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
    parser.add_argument("--jobs", default="als,graph", help="pipeline tasks to time on the cluster")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    options = parser.parse_args()
    jobs = options.jobs.split(",")

    root = Path(tempfile.mkdtemp(prefix="bench-cluster-jit-"))
    env = project_spark_env()
    try:
        package = build_package(root / "cobuy")
        spark = {k: v for k, v in TEST_SPARK.items() if k != EXECUTOR_JIT}  # the variants set it
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

        cluster = standalone.start_cluster(root / "standalone", env)
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        try:
            for _ in range(options.repeats):
                for label, java_options in VARIANTS.items():
                    for task in jobs:
                        spec = pipeline["tasks"][task]
                        command = [str(VENV_BIN / "python"), str(package / "submit.py"), "--master", cluster.master_url]
                        if java_options:
                            command += ["--conf", f"{EXECUTOR_JIT}={java_options}"]
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
            cluster.stop()

        print("\n| job | " + " | ".join(f"{label} wall (s)" for label in VARIANTS) + " | ratio |")
        print("|---|" + "---|" * (len(VARIANTS) + 1))
        for task in jobs:
            walls = [[wall for wall, _ in results[(task, label)]] for label in VARIANTS]
            means = [sum(w) / len(w) for w in walls]
            print(f"| {task} | " + " | ".join(", ".join(f"{w:.0f}" for w in ws) for ws in walls)
                  + f" | {means[1] / means[0]:.2f} |")
    finally:
        if options.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
