"""A Spark standalone cluster for the end-to-end proofs: a master and two one-core workers on
127.0.0.1 (pyspark's own `spark-class`). Every process it starts is stopped by its id, also when the
test fails; executors a worker launched are killed with the worker's process group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from deploy_helpers import VENV_BIN, free_port, project_spark_env

WORKERS = 2
START_TIMEOUT_S = 120


@dataclass
class StandaloneCluster:
    master_url: str
    logs: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def registered_workers(self) -> int:
        return (self.logs / "master.log").read_text(errors="replace").count("Registering worker")

    def executors_launched(self) -> list[int]:
        """Executors each worker was asked to launch so far (one per application using it)."""
        return [
            (self.logs / f"worker{i}.log").read_text(errors="replace").count("Asked to launch executor")
            for i in range(1, WORKERS + 1)
        ]

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


def start_cluster(logs: Path, env: dict[str, str]) -> StandaloneCluster:
    """A master and WORKERS one-core workers on 127.0.0.1, their logs in `logs`, once every worker
    has registered; everything started is stopped again when they do not come up."""
    logs.mkdir(parents=True, exist_ok=True)
    port = free_port()
    spark_class = str(VENV_BIN / "spark-class")
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
    except BaseException:
        standalone.stop()
        raise
    return standalone


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StandaloneCluster]:
    standalone = start_cluster(tmp_path_factory.mktemp("standalone"), project_spark_env())
    try:
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
