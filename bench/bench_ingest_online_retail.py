"""Benchmark: ingest the whole UCI Online Retail year (305 daily files, 541,909 rows) with one run.

    PYSPARK_PYTHON=.venv/bin/python .venv/bin/python bench/bench_ingest_online_retail.py \
        [--input ../shared/datasets/online_retail] [--warehouse /tmp/cobuy-bench-ingest]

Runs `jobs/ingest.py` in this process (local[2] from conf/env/local.toml, a fresh warehouse), then
prints the wall time and the audit's figures: accepted, duplicates, quarantined per reason.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from shared_datasets import DATASETS, PROJECT_ROOT as ROOT  # noqa: E402 - bench/ is on sys.path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", default=str(DATASETS / "online_retail"))
    parser.add_argument("--warehouse", default="/tmp/cobuy-bench-ingest")
    parser.add_argument("--cores", default="2")
    args = parser.parse_args()
    shutil.rmtree(args.warehouse, ignore_errors=True)
    env = {**os.environ, "COBUY_PSEUDONYM_SECRET": os.environ.get("COBUY_PSEUDONYM_SECRET", "bench-secret")}
    command = [
        sys.executable, str(ROOT / "jobs" / "ingest.py"), "--env", "local",
        "--from", "2010-12-01", "--to", "2011-12-09", "--set", "source=online_retail", "--input", args.input,
        "--set", f"storage.warehouse={args.warehouse}", "--set", "storage.engine=embedded",
        "--set", f"spark.master=local[{args.cores}]", "--set", "spark.ui.showConsoleProgress=false",
    ]
    started = time.monotonic()
    result = subprocess.run(command, env=env, capture_output=True, text=True, cwd=ROOT)
    wall = time.monotonic() - started
    summary = [line for line in result.stderr.splitlines() if " ok in " in line or "read, cleaned" in line or "wrote " in line]
    print("\n".join(summary[-3:]) if summary else result.stderr[-3000:])
    print(f"exit code {result.returncode}; wall time {wall:.1f}s (JVM start included) on local[{args.cores}]")
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
