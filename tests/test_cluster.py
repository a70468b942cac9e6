"""The jobs on a real multi-process Spark cluster: a standalone master and two one-core workers on
127.0.0.1 (pyspark's own `spark-class`), jobs submitted through deploy/submit.sh with the packaged
lib.zip, outputs compared with a `local[2]` run of the same jobs on the same input.

The embedded Delta engine writes to local paths only, so driver and executors share a warehouse on
this machine's disk. Every process the test starts is stopped by its id, also when the test fails.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pytest

from deploy_helpers import (
    TEST_SPARK, VENV_BIN, assert_tables_equal, build_package, copy_tree, delta_tables, existing_jobs, free_port,
    landing_days, project_spark_env, read_csv, read_pipeline, read_table, runnable_pipeline, submit_job,
    topological, without_run_metadata, write_overlay,
)

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

WORKERS = 2
START_TIMEOUT_S = 120


@dataclass
class StandaloneCluster:
    master_url: str
    logs: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def registered_workers(self) -> int:
        return (self.logs / "master.log").read_text(errors="replace").count("Registering worker")

    def stop(self) -> list[int]:
        """Workers first, then the master: SIGTERM by pid, SIGKILL to the process group if it lingers."""
        stopped = []
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=30)
            # Executors a worker launched live in the worker's process group (start_new_session).
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            stopped.append(process.pid)
        return stopped


def start(command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    handle = log.open("w")
    try:
        return subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    finally:
        handle.close()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    logs = tmp_path_factory.mktemp("standalone")
    port = free_port()
    spark_class = str(VENV_BIN / "spark-class")
    env = project_spark_env()
    standalone = StandaloneCluster(master_url=f"spark://127.0.0.1:{port}", logs=logs)
    try:
        standalone.processes.append(start(
            [spark_class, "org.apache.spark.deploy.master.Master",
             "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(free_port())],
            logs / "master.log", env,
        ))
        for index in range(1, WORKERS + 1):
            work_dir = logs / f"worker{index}"
            work_dir.mkdir()
            standalone.processes.append(start(
                [spark_class, "org.apache.spark.deploy.worker.Worker",
                 "--host", "127.0.0.1", "--cores", "1", "--memory", "1536m", "--work-dir", str(work_dir),
                 "--webui-port", str(free_port()), standalone.master_url],
                logs / f"worker{index}.log", env,
            ))
        deadline = time.monotonic() + START_TIMEOUT_S
        while standalone.registered_workers() < WORKERS:
            dead = [p.args[1] for p in standalone.processes if p.poll() is not None]
            assert not dead, f"{dead} exited; logs in {logs}"
            assert time.monotonic() < deadline, f"{WORKERS} workers not registered in {START_TIMEOUT_S}s; see {logs}"
            time.sleep(1)
        yield standalone
    finally:
        pids = standalone.stop()
        still_running = [pid for pid in pids if _alive(pid)]
        assert not still_running, f"could not stop {still_running}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_standalone_cluster_outputs_equal_a_local_run(cluster: StandaloneCluster, tmp_path: Path) -> None:
    started = time.monotonic()
    package = build_package(tmp_path / "cobuy")
    pipeline, pre_steps = runnable_pipeline(read_pipeline(), existing_jobs())
    order = topological(pipeline)
    env = project_spark_env()
    # One input for both sides: the shop and its history up to the day before, made once.
    seed = tmp_path / "seed"
    write_overlay(package / "conf", "ci-seed", seed / "warehouse", seed / "landing", TEST_SPARK)
    for job, *args in pre_steps:
        submit_job(package, "local[2]", job, "ci-seed", args, tmp_path / "seed.log", env)
    shared_landing = "generate" not in pipeline["tasks"]

    sides = {"local": "local[2]", "cluster": cluster.master_url}
    for side, master in sides.items():
        if (seed / "warehouse").exists():
            copy_tree(seed / "warehouse", tmp_path / side / "warehouse")
        landing = seed / "landing" if shared_landing else tmp_path / side / "landing"
        write_overlay(package / "conf", f"ci-{side}", tmp_path / side / "warehouse", landing, TEST_SPARK)
        for task in order:
            spec = pipeline["tasks"][task]
            submit_job(package, master, spec.get("job", task), f"ci-{side}", spec.get("args", []),
                       tmp_path / f"{side}.log", env)
    seconds = time.monotonic() - started

    log = (tmp_path / "cluster.log").read_text()
    assert f"--master {cluster.master_url}" in log and f"--py-files {package}/lib.zip" in log
    launched = [
        (cluster.logs / f"worker{i}.log").read_text(errors="replace").count("Asked to launch executor")
        for i in range(1, WORKERS + 1)
    ]
    assert launched == [len(order)] * WORKERS, f"executors per worker {launched}: every job uses both workers"

    local, remote = tmp_path / "local", tmp_path / "cluster"
    if not shared_landing:
        assert landing_days(remote / "landing") == landing_days(local / "landing")
        for folder in sorted((local / "landing" / "shop").glob("date=*")):
            other = remote / "landing" / "shop" / folder.name
            assert_tables_equal(concat_csv(folder), concat_csv(other), f"landing {folder.name}")
    tables = delta_tables(local / "warehouse")
    assert tables.keys() == delta_tables(remote / "warehouse").keys()
    for name, path in tables.items():
        assert_tables_equal(
            without_run_metadata(read_table(path)), without_run_metadata(read_table(remote / "warehouse" / name)),
            f"table {name}",
        )
    print(f"\ncluster vs local ({', '.join(order)}; tables {', '.join(tables)}): {seconds:.0f}s")


def concat_csv(folder: Path) -> pa.Table:
    return pa.concat_tables([read_csv(p) for p in sorted(folder.glob("*.csv"))])
