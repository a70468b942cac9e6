"""A cobuy job run as its own process by a benchmark: timed, its summary line picked out, and a
failure ending the benchmark with the log's last lines (never a silent half-run)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from shared_datasets import PROJECT_ROOT


@dataclass(frozen=True)
class JobProcess:
    wall_s: float
    summary: str  # what follows " ok in " on the job's last summary line
    stdout: str


def run_job_process(job: str, command: Sequence[str], env: Mapping[str, str]) -> JobProcess:
    """Run `command` (the job's whole argv) from the project root; SystemExit when it fails."""
    started = time.monotonic()
    result = subprocess.run(list(command), env=dict(env), capture_output=True, text=True, cwd=PROJECT_ROOT)
    wall = time.monotonic() - started
    # spark-submit's PythonRunner forwards the Python driver's stderr (the job's log) to its stdout.
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise SystemExit(f"{job} failed (exit {result.returncode}) after {wall:.1f}s:\n{output[-4000:]}")
    summary = [line for line in output.splitlines() if " ok in " in line]
    return JobProcess(wall, summary[-1].split(" ok in ", 1)[-1] if summary else "(no summary line)", result.stdout)


def local_job_command(python: str, job: str, job_args: Sequence[str]) -> list[str]:
    """The job as `make demo` runs it (its own session loads Delta's jars), 4 GB driver, deep stack."""
    return [python, f"jobs/{job}.py", "--env", "local", *job_args,
            "--set", "spark.driver.memory=4g", "--set", "spark.driver.extraJavaOptions=-Xss32m"]
