"""Shared by the orchestration tests (test_deploy, test_airflow with standalone): package, overlays,
the jobs that exist, subprocesses with logs, and reading the outputs without a JVM."""

from __future__ import annotations

import datetime as dt
import importlib
import os
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
from deltalake import DeltaTable

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
AIRFLOW_BIN = ROOT / ".venv-airflow" / "bin"
PIPELINE_FILE = ROOT / "deploy" / "airflow" / "dags" / "pipeline.toml"
RUN_DATE = dt.date(2024, 3, 31)  # a Sunday: the default evaluation day

# A shop small enough for a 2-core machine shared by several people, big enough for every job.
SHOP_DAYS = 10
TINY_SHOP = (
    f"days={SHOP_DAYS}", "users=300", "items=120", "sessions_per_day=150", "top_categories=3",
    "subcategories_per_top=2", "leaves_per_subcategory=2", "bundles=4",
)
# Small-data settings of the jobs (only for jobs that exist): fewer iterations, no tuning grid.
TEST_JOB_ARGS = {
    "fpgrowth": ("--set", "min_count=3"),
    "als": ("--set", "recommender.als.max_iter=3", "--set", "recommender.als.rank=8"),
    "evaluate": (
        "--set", "tuning_horizon_days=0", "--set", "horizon_days=3",
        "--set", "recommender.als.max_iter=3", "--set", "recommender.als.rank=8",
    ),
    # Compaction's file counts depend on how many files each side wrote (local[2] vs two workers);
    # tests/test_maintenance_job.py proves compaction. Vacuum (retention 168 h) still runs.
    "maintenance": ("--set", "compact=false"),
}
# Columns that differ between two runs of the same data (ids, clocks, paths in job_runs.details).
# maintenance_log's version_after: a table's version grows with every run that writes it.
RUN_METADATA_COLUMNS = {"run_id", "run_started_at", "started_at", "finished_at", "details", "version_after"}
APPEND_ONLY_TABLES = {"job_runs"}  # one row per run: grows on every re-run by design
PSEUDONYM_SECRET = "cobuy-test-secret"
# Tiny data: interpreting expressions costs less than compiling generated code (Janino, then the JIT)
# for every new plan in every fresh JVM: jobs 14-23% shorter here (docs/figures.md, "CI time, sixth
# stop"). Spark's own switches (whole-stage, and the internal factory mode for expressions); results
# do not depend on them. COBUY_TEST_CODEGEN=1 runs the tests with generated code, as production runs.
CODEGEN_OFF_SPARK_CONF = {"spark.sql.codegen.wholeStage": "false", "spark.sql.codegen.factoryMode": "NO_CODEGEN"}
TINY_DATA_SPARK_CONF = {} if os.environ.get("COBUY_TEST_CODEGEN") == "1" else CODEGEN_OFF_SPARK_CONF
TEST_SPARK = {
    **TINY_DATA_SPARK_CONF,
    "spark.driver.memory": "1g",
    "spark.executor.memory": "1g",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.ui.enabled": "false",
    "spark.driver.host": "127.0.0.1",
    # The cluster's executors are two more cold JVMs on the same 2 cores, each doing a few ms of work
    # per task: C1 alone compiles what they run at a fraction of C2's cost (cluster jobs 15-25% shorter
    # here, docs/figures.md). Results do not depend on it: Java's float arithmetic is strict (JEP 306).
    # No effect on local[*], whose executor is the driver's JVM. Jobs' own extraJavaOptions still apply.
    "spark.executor.defaultJavaOptions": "-XX:TieredStopAtLevel=1",
    # The driver likewise, with the serial GC: on local[2] it runs every task too, and its C2
    # compiler and parallel GC threads compete with them for 2 cores. Side by side on the test shop:
    # als 0.83, fpgrowth 0.87, graph 1.00 of the default's wall time, driver CPU -30 to -40%; on the
    # cluster's driver als 0.98, graph 0.89 (docs/figures.md, "CI time, eighth stop"). The pytest
    # session's own long-lived JVM (tests/conftest.py) keeps the default JIT.
    "spark.driver.defaultJavaOptions": "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC",
}


def build_package(out: Path) -> Path:
    subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "package.py"), "--no-wheel", "--out", str(out)],
        check=True, capture_output=True, text=True,
    )
    return out


def existing_jobs() -> set[str]:
    return {p.stem for p in (ROOT / "jobs").glob("*.py")}


def read_pipeline(path: Path = PIPELINE_FILE) -> dict[str, Any]:
    with path.open("rb") as handle:
        return tomllib.load(handle)


def pipeline_edges(pipeline: Mapping[str, Any]) -> set[tuple[str, str]]:
    return {(up, task) for task, spec in pipeline["tasks"].items() for up in spec.get("upstream", [])}


def runnable_pipeline(pipeline: Mapping[str, Any], jobs: set[str]) -> tuple[dict[str, Any], list[list[str]]]:
    """The designed pipeline cut to the jobs that exist, with small-data arguments, and the steps that
    give it an input: a synthetic shop and, when ingest exists, its history up to the day before.

    A task whose job is missing is removed and its downstream tasks wait for its upstream instead.
    With none of the pipeline's jobs written yet, the pipeline is the synthetic shop itself.
    Returns (pipeline, pre-steps as [job, job args...]).
    """
    tasks = {k: dict(v) for k, v in pipeline["tasks"].items()}
    shop = [part for arg in TINY_SHOP for part in ("--set", arg)]
    header = {k: v for k, v in pipeline.items() if k != "tasks"}
    if not any(spec.get("job", name) in jobs for name, spec in tasks.items()):
        return {**header, "tasks": {"generate": {"job": "generate", "upstream": [], "args": shop}}}, []

    def resolve(names: Sequence[str]) -> list[str]:
        found: list[str] = []
        for name in names:
            if tasks[name].get("job", name) in jobs:
                found.append(name)
            else:
                found.extend(resolve(tasks[name].get("upstream", [])))
        return sorted(set(found))

    kept = {}
    for name, spec in tasks.items():
        job = spec.get("job", name)
        if job in jobs:
            args = [*map(str, spec.get("args", [])), *TEST_JOB_ARGS.get(job, ())]
            kept[name] = {**spec, "upstream": resolve(spec.get("upstream", [])), "args": args}
    pre_steps = [["generate", "--date", str(RUN_DATE), *shop]]
    if "ingest" in jobs:
        first = RUN_DATE - dt.timedelta(days=SHOP_DAYS - 1)
        pre_steps.append(["ingest", "--from", str(first), "--to", str(RUN_DATE - dt.timedelta(days=1))])
    return {**header, "tasks": kept}, pre_steps


def topological(pipeline: Mapping[str, Any]) -> list[str]:
    order: list[str] = []
    pending = dict(pipeline["tasks"])
    while pending:
        ready = sorted(t for t, s in pending.items() if all(u in order for u in s.get("upstream", [])))
        if not ready:
            raise ValueError(f"cycle among {sorted(pending)}")
        order.extend(ready)
        for name in ready:
            del pending[name]
    return order


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def dump_toml(data: Mapping[str, Any]) -> str:
    """Enough TOML for pipelines and overlays: scalars, lists, tables and tables of tables."""
    lines = [f"{toml_value(k) if '.' in k else k} = {toml_value(v)}" for k, v in data.items()
             if not isinstance(v, Mapping)]

    def tables(prefix: str, mapping: Mapping[str, Any]) -> None:
        for key, value in mapping.items():
            if isinstance(value, Mapping):
                name = f"{prefix}{key}"
                lines.append(f"\n[{name}]")
                lines.extend(
                    f"{toml_value(k) if '.' in k else k} = {toml_value(v)}"
                    for k, v in value.items() if not isinstance(v, Mapping)
                )
                tables(f"{name}.", value)

    tables("", data)
    return "\n".join(lines) + "\n"


def delta_spark_conf() -> dict[str, str]:
    """Delta's jars from `make setup` (absolute paths: spark-submit gets them at launch, executors
    fetch them from the driver) with Delta's extension and catalog: what a Delta cluster has."""
    from lib.session import DELTA_SPARK_CONF, resolve_jars

    return {
        "spark.jars": resolve_jars(str(ROOT / "jars" / "spark" / "*.jar"), root=ROOT),
        **DELTA_SPARK_CONF,
        "spark.databricks.delta.snapshotPartitions": "2",
        "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    }


def write_overlay(
    conf_dir: Path, name: str, warehouse: Path | str, landing: Path, spark: Mapping[str, str],
    engine: str = "delta-spark",
) -> str:
    """A test environment overlay: storage under tmp, Delta's own engine (delta-spark), small Spark."""
    delta = delta_spark_conf() if engine == "delta-spark" else {}
    overlay = {
        "storage": {
            "warehouse": str(warehouse),
            "landing": str(landing),
            "engine": engine,
            "allow_schema_evolution": False,
            "checkpoint_dir": f"{warehouse}/_checkpoints",
        },
        "spark": {**delta, **dict(spark)},
    }
    (conf_dir / "env" / f"{name}.toml").write_text(dump_toml(overlay))
    return name


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_logged(
    command: Sequence[str], log: Path, env: Mapping[str, str] | None = None, timeout: float = 600,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess:
    """Run to completion with output in `log`; a failure raises with the log's tail."""
    started = time.monotonic()
    with log.open("a") as handle:
        handle.write(f"\n$ {' '.join(map(str, command))}\n")
        handle.flush()
        result = subprocess.run(
            list(map(str, command)), stdout=handle, stderr=subprocess.STDOUT, env=dict(env or os.environ),
            timeout=timeout, cwd=cwd,
        )
    if result.returncode != 0:
        tail = "\n".join(log.read_text().splitlines()[-60:])
        raise AssertionError(f"exit {result.returncode} after {time.monotonic() - started:.0f}s: {command}\n{tail}")
    return result


# ---------------------------------------------------------------------------------------------
# Outputs, read with delta-rs and pyarrow (no JVM)


def delta_tables(warehouse: Path) -> dict[str, Path]:
    if not warehouse.exists():
        return {}
    return {
        log.parent.relative_to(warehouse).as_posix(): log.parent
        for log in sorted(warehouse.rglob("_delta_log"))
        if not any(part.startswith("_") for part in log.parent.relative_to(warehouse).parts)
    }


def read_table(path: Path) -> pa.Table:
    return DeltaTable(str(path)).to_pyarrow_table()


def row_counts(tables: Mapping[str, pa.Table], run_date: dt.date) -> dict[str, tuple[int, int]]:
    """(all rows, rows with dt = run_date or None when the table has no dt) per Delta table."""
    counts = {}
    for name, table in tables.items():
        if name in APPEND_ONLY_TABLES:
            continue
        on_date = None
        if "dt" in table.column_names:
            on_date = sum(1 for value in table.column("dt").to_pylist() if value == run_date)
        counts[name] = (table.num_rows, on_date)
    return counts


def landing_days(landing: Path) -> dict[str, int]:
    """Data rows per `shop/date=...` folder of the raw CSV files."""
    counts = {}
    for folder in sorted((landing / "shop").glob("date=*")):
        counts[folder.name] = sum(read_csv(p).num_rows for p in folder.glob("*.csv"))
    return counts


def read_csv(path: Path) -> pa.Table:
    options = pacsv.ConvertOptions(strings_can_be_null=False, column_types=None)
    return pacsv.read_csv(path, convert_options=options, read_options=pacsv.ReadOptions(autogenerate_column_names=False))


def sorted_rows(table: pa.Table) -> list[tuple]:
    columns = sorted(table.column_names)
    rows = table.select(columns).to_pylist()
    return sorted((tuple(row[c] for c in columns) for row in rows), key=repr)


def without_run_metadata(table: pa.Table) -> pa.Table:
    return table.drop_columns([c for c in table.column_names if c in RUN_METADATA_COLUMNS])


def assert_tables_equal(left: pa.Table, right: pa.Table, what: str, rel: float = 1e-6) -> None:
    """Same schema and the same rows in any order; floats equal to `rel` (embeddings and the scores
    computed from them are float32: seven significant digits)."""
    assert sorted(left.schema, key=lambda f: f.name) == sorted(right.schema, key=lambda f: f.name), (
        f"{what}: schemas differ\n{left.schema}\n{right.schema}"
    )
    assert left.num_rows == right.num_rows, f"{what}: {left.num_rows} rows vs {right.num_rows}"
    for a, b in zip(sorted_rows(left), sorted_rows(right)):
        if a == b:
            continue
        assert len(a) == len(b) and all(_close(x, y, rel) for x, y in zip(a, b)), f"{what}: row {a} != {b}"


def _close(x: Any, y: Any, rel: float) -> bool:
    if isinstance(x, float) and isinstance(y, float):
        return abs(x - y) <= rel * max(abs(x), abs(y), 1.0)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_close(a, b, rel) for a, b in zip(x, y))
    if isinstance(x, dict) and isinstance(y, dict):
        return x.keys() == y.keys() and all(_close(x[k], y[k], rel) for k in x)
    return x == y


def copy_tree(source: Path, target: Path) -> None:
    shutil.copytree(source, target, dirs_exist_ok=True)


def submit_job(
    package: Path, master: str, job: str, env_name: str, args: Sequence[str], log: Path, env: Mapping[str, str],
    date: bool = True,
) -> None:
    """deploy/submit.sh of the package: JOB --env ENV [--date RUN_DATE] ARGS."""
    dated = ["--date", str(RUN_DATE)] if date and "--date" not in args and "--from" not in args else []
    run_logged(
        [str(package / "submit.sh"), "--master", master, job, "--env", env_name, *dated, *map(str, args)],
        log, env=env, timeout=1200,
    )


def run_in_session(job: str, env_name: str, conf_dir: Path, args: Sequence[str]) -> None:
    """jobs/<job>.py's main in this process, on the test session (the `spark` fixture): a shop's history
    written in a warm JVM, not a fresh spark-submit per step. Same arguments as `submit_job`."""
    dated = ["--date", str(RUN_DATE)] if "--date" not in args and "--from" not in args else []
    argv = ["--env", env_name, "--conf-dir", str(conf_dir), *dated, *map(str, args)]
    exit_code = importlib.import_module(f"jobs.{job}").main(argv)
    assert exit_code == 0, f"{job} {' '.join(argv)} exited {exit_code}"


def project_spark_env(**extra: str) -> dict[str, str]:
    """The environment jobs get from the project: its Python for driver and workers, loopback only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYSPARK", "SPARK_", "AIRFLOW"))}
    env.update(
        SPARK_LOCAL_IP="127.0.0.1",
        PYSPARK_PYTHON=str(VENV_BIN / "python"),
        PYSPARK_DRIVER_PYTHON=str(VENV_BIN / "python"),
        COBUY_PYTHON=str(VENV_BIN / "python"),
        COBUY_PSEUDONYM_SECRET=PSEUDONYM_SECRET,
        **extra,
    )
    return env
