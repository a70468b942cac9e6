"""The Airflow DAG, run by Airflow 3 in its own virtual environment (`make airflow-env`).

- integrity: the DAG file imports into a DagBag with no errors, the task graph is the designed one,
  Variables reach the DAG, the templated fields render for a date, the evaluation gate decides right;
- end to end: `airflow dags test` on a small synthetic shop, twice for the same date: first with
  Spark local[2], its tasks run by LocalExecutor two at a time (an api-server serves their
  supervisors), then on a two-worker standalone cluster (tests/standalone.py), the tasks in turn
  (`--mark-success-pattern` works only without an executor). The warehouse is on
  object storage: `s3a://` on a moto S3 server on 127.0.0.1 (tests/s3_helpers.py), through hadoop-aws
  on the driver's and executors' class path, committed by delta-spark; the raw landing files stay on
  this machine's disk. Every task succeeds, the output tables exist for the date, and the cluster's
  re-run leaves every table as the local run wrote it (counts and rows; floats to float32 precision).
  In CI the cluster re-run runs the four jobs whose results depend on how the work is spread over
  executors (CLUSTER_RERUN_TASKS: model fits, float products, the pandas UDF encoder); the others ran
  in the local pass and are marked successful in the re-run. COBUY_E2E_FULL_CLUSTER=1 re-runs all
  nine on the cluster (about 8 minutes more on a 2-core machine).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
import json
import os
import re
import sqlite3
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

import pyarrow as pa
from deploy_helpers import (
    AIRFLOW_BIN, APPEND_ONLY_TABLES, PIPELINE_FILE, PSEUDONYM_SECRET, RUN_DATE, SHOP_DAYS, TEST_SPARK, VENV_BIN,
    assert_tables_equal, build_package, dump_toml, existing_jobs, free_port, landing_days, read_pipeline, row_counts,
    run_in_session, run_logged, runnable_pipeline, without_run_metadata, write_overlay,
)
from s3_helpers import S3A_JARS, S3Server, moto_s3
from lib.schemas.runs import RUN_COMPLETE
from standalone import WORKERS, StandaloneCluster, cluster  # noqa: F401 - the cluster fixture

pytestmark = [pytest.mark.airflow, pytest.mark.slow]  # the end-to-end test is also marked cluster

DAG_ID = "cobuy_daily"
DESIGNED_EDGES = {
    ("ingest", "fpgrowth"), ("ingest", "als"),
    ("fpgrowth", "evaluate_due"), ("als", "evaluate_due"), ("evaluate_due", "evaluate"),
    ("fpgrowth", "maintenance_due"), ("als", "maintenance_due"), ("maintenance_due", "maintenance"),
    ("ingest", "embed"), ("ingest", "paths"),
    ("fpgrowth", "graph"), ("als", "graph"), ("embed", "graph"), ("paths", "graph"), ("graph", "report"),
}
SPARK_TASKS = {"ingest", "fpgrowth", "als", "evaluate", "maintenance", "embed", "paths", "graph", "report"}
# Re-run on the cluster in CI (each cluster job costs 1-2.5 minutes on 2 cores): MLlib's ALS and
# FPGrowth, the encoder in a pandas UDF with float32 products, the graph's float sums and top-k ties.
# ingest, paths, evaluate, maintenance and report run in the local pass on the same s3a warehouse.
CLUSTER_RERUN_TASKS = None if os.environ.get("COBUY_E2E_FULL_CLUSTER") == "1" else {"embed", "als", "fpgrowth", "graph"}
# Tasks the local run's LocalExecutor runs side by side (each a local[2] spark-submit on 2 cores: much
# of a small job is one-threaded JVM start, planning and Delta's log, so two overlap well).
LOCAL_RUN_PARALLELISM = 2

PROBE = r"""
import datetime as dt, json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
out = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}}
for dag_id, dag in bag.dags.items():
    tasks = {}
    for task in dag.tasks:
        info = {"type": type(task).__name__, "upstream": sorted(task.upstream_task_ids),
                "retries": task.retries, "backoff": bool(task.retry_exponential_backoff),
                "retry_delay_s": task.retry_delay.total_seconds(),
                "max_retry_delay_s": task.max_retry_delay.total_seconds() if task.max_retry_delay else None}
        if info["type"] == "SparkSubmitOperator":
            task.render_template_fields(
                {"ds": sys.argv[2], "var": {"value": {"cobuy_pseudonym_secret": "rendered-secret"}}})
            info.update(application=task.application, args=task.application_args, name=task.name,
                        conf=task.conf, py_files=task.py_files, conn_id=task._conn_id,
                        env_vars=task.env_vars, deploy_mode=task._deploy_mode, archives=task._archives)
        tasks[task.task_id] = info
    decisions = {}
    for gate_id, asked in (("evaluate_due", "evaluate"), ("maintenance_due", "maintain")):
        gate = dag.task_dict.get(gate_id)
        if gate is None:
            continue
        for label, day, params in [("sunday", dt.datetime(2024, 3, 31), {}),
                                   ("monday", dt.datetime(2024, 4, 1), {}),
                                   ("monday_asked", dt.datetime(2024, 4, 1), {asked: True})]:
            decisions[f"{gate_id}:{label}"] = gate.python_callable(params=params, logical_date=day)
    out["dags"][dag_id] = {"catchup": dag.catchup, "max_active_runs": dag.max_active_runs,
                           "schedule": str(dag.schedule), "params": dict(dag.params), "tasks": tasks,
                           "gate": decisions}
print("PROBE" + json.dumps(out, default=str))
"""


@pytest.fixture(scope="module")
def airflow_python() -> Path:
    python = AIRFLOW_BIN / "python"
    if not python.exists():
        if os.environ.get("CI"):
            pytest.fail("no .venv-airflow: CI must run `make airflow-env` (make test-deploy does)")
        pytest.skip("no .venv-airflow: run `make airflow-env` (or `make test-deploy`)")
    return python


def airflow_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYSPARK", "SPARK_"))}
    env.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
        AIRFLOW__LOGGING__LOGGING_LEVEL="INFO",
        SPARK_LOCAL_IP="127.0.0.1",
        **extra,
    )
    return env


def probe(airflow_python: Path, dags: Path, env: dict[str, str], ds: str = str(RUN_DATE)) -> dict:
    result = subprocess.run(
        [str(airflow_python), "-c", PROBE, str(dags), ds], env=env, capture_output=True, text=True, timeout=300,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("PROBE")]
    assert result.returncode == 0 and lines, f"probe failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return json.loads(lines[-1][len("PROBE"):])


@pytest.fixture(scope="module")
def designed_package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package, with placeholder files for the pipeline's jobs not written yet (graph checks only)."""
    package = build_package(tmp_path_factory.mktemp("designed") / "cobuy")
    for task, spec in read_pipeline()["tasks"].items():
        job = spec.get("job", task)
        if not (package / "jobs" / f"{job}.py").exists():
            (package / "jobs" / f"{job}.py").write_text('"""placeholder: the DAG-integrity test only parses."""\n')
            (package / "conf" / f"{job}.toml").write_text("# placeholder\n")
    return package


def test_dag_imports_with_the_designed_graph_and_renders_the_date(
    airflow_python: Path, designed_package: Path, tmp_path: Path
) -> None:
    env = airflow_env(
        tmp_path / "airflow",
        AIRFLOW_VAR_COBUY_CATCHUP="true",
        AIRFLOW_VAR_COBUY_MAX_ACTIVE_RUNS="3",
        AIRFLOW_VAR_COBUY_SPARK_CONN_ID="spark_prod",
        AIRFLOW_VAR_COBUY_SPARK_BIN_DIR=str(VENV_BIN),
    )
    found = probe(airflow_python, designed_package / "airflow" / "dags", env)

    assert found["import_errors"] == {}
    dag = found["dags"][DAG_ID]
    assert (dag["catchup"], dag["max_active_runs"], dag["schedule"]) == (True, 3, "@daily")
    edges = {(up, task) for task, info in dag["tasks"].items() for up in info["upstream"]}
    assert edges == DESIGNED_EDGES
    assert dag["gate"] == {
        f"{gate}:{day}": wanted for gate in ("evaluate_due", "maintenance_due")
        for day, wanted in (("sunday", True), ("monday", False), ("monday_asked", True))
    }

    package = str(designed_package)
    for task in SPARK_TASKS:
        info = dag["tasks"][task]
        assert info["type"] == "SparkSubmitOperator"
        assert info["conn_id"] == "spark_prod"
        assert info["application"] == f"{package}/jobs/{task}.py"
        assert info["py_files"] == f"{package}/lib.zip"
        assert info["args"] == ["--env", "cluster", "--date", "2024-03-31", "--conf-dir", f"{package}/conf"]
        assert info["name"] == f"cobuy-{task}-2024-03-31"
        assert (info["deploy_mode"], info["archives"]) == ("client", None)
        assert info["conf"]["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
        assert info["env_vars"]["PATH"].split(os.pathsep)[0] == str(VENV_BIN)
        assert info["env_vars"]["PYSPARK_PYTHON"] == str(VENV_BIN / "python")
        assert (info["retries"], info["backoff"], info["retry_delay_s"], info["max_retry_delay_s"]) == (
            2, True, 300.0, 3600.0,
        )
        secret = info["env_vars"].get("COBUY_PSEUDONYM_SECRET")
        assert secret == ("rendered-secret" if task == "ingest" else None)


def test_dag_defaults_and_a_bad_pipeline_is_an_import_error(
    airflow_python: Path, designed_package: Path, tmp_path: Path
) -> None:
    broken = read_pipeline()
    broken["tasks"]["evaluate"]["upstream"] = ["fpgrowth", "alss"]
    (tmp_path / "broken.toml").write_text(dump_toml(broken))
    env = airflow_env(tmp_path / "airflow", COBUY_PIPELINE=str(tmp_path / "broken.toml"))
    found = probe(airflow_python, designed_package / "airflow" / "dags", env)
    [error] = found["import_errors"].values()
    assert "task 'evaluate' waits for unknown task 'alss'" in error

    env = airflow_env(tmp_path / "airflow", COBUY_PIPELINE=str(PIPELINE_FILE), AIRFLOW_VAR_COBUY_DEPLOY_MODE="cluster")
    dag = probe(airflow_python, designed_package / "airflow" / "dags", env)["dags"][DAG_ID]
    assert (dag["catchup"], dag["max_active_runs"]) == (False, 1)
    ingest = dag["tasks"]["ingest"]
    assert ingest["conn_id"] == "cobuy_spark"
    assert (ingest["deploy_mode"], ingest["archives"]) == ("cluster", f"{designed_package}/conf.zip#cobuy-conf")
    assert ingest["args"][-2:] == ["--conf-dir", "cobuy-conf"]


# ---------------------------------------------------------------------------------------------
# End to end


def task_states(home: Path) -> dict[str, dict[str, str]]:
    """run_id -> {task_id: state} from Airflow's metadata database."""
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute("SELECT run_id, task_id, state FROM task_instance WHERE dag_id = ?", (DAG_ID,))
        states: dict[str, dict[str, str]] = {}
        for run_id, task_id, state in rows:
            states.setdefault(run_id, {})[task_id] = state
    return states


# What a run found in the warehouse: on the first run of a date, tables written after maintenance
# are `not_written` yet; on a re-run they are there. Every other column must be equal.
RUN_STATE_COLUMNS = {"maintenance_log": ["status"]}


def read_warehouse(s3: S3Server, prefix: str) -> dict[str, pa.Table]:
    """Every Delta table under `prefix` of the bucket, read from S3 by delta-rs (no JVM)."""
    return {name: s3.read_table(uri) for name, uri in s3.delta_tables(prefix).items()}


def compared_tables(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Every table but the append-only run log, without the columns that name a run."""
    return {
        name: without_run_metadata(table).drop_columns(RUN_STATE_COLUMNS.get(name, []))
        for name, table in tables.items() if name not in APPEND_ONLY_TABLES
    }


def complete_runs(job_runs: pa.Table, run_date: dt.date) -> dict[str, int]:
    """job -> how many complete runs of `run_date` the run log holds."""
    counts: dict[str, int] = {}
    for row in job_runs.to_pylist():
        if row["run_date"] == run_date and row["status"] == RUN_COMPLETE:
            counts[row["job"]] = counts.get(row["job"], 0) + 1
    return counts


def start_execution_api_server(airflow: str, port: int, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Airflow's execution API alone (what LocalExecutor's task supervisors call), one worker."""
    with log.open("w") as handle:
        return subprocess.Popen(
            [airflow, "api-server", "--apps", "execution", "--workers", "1", "--host", "127.0.0.1", "--port", str(port)],
            stdout=handle, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )


def wait_until_healthy(server: subprocess.Popen, port: int, log: Path, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert server.poll() is None, f"the api-server exited ({server.returncode}):\n{log.read_text()[-3000:]}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/execution/health", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError(f"the api-server did not answer in {timeout_s:.0f}s:\n{log.read_text()[-3000:]}")


def stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    if not list(S3A_JARS.glob("hadoop-aws-*.jar")):
        pytest.fail(f"no hadoop-aws jar in {S3A_JARS}: run `make setup` (the [s3a] section of deploy/maven-jars.txt)")
    with moto_s3(tmp_path_factory.mktemp("moto")) as server:
        yield server


@pytest.mark.cluster
def test_airflow_runs_the_pipeline_locally_then_reruns_it_on_a_cluster_with_equal_outputs(
    airflow_python: Path, cluster: StandaloneCluster, s3: S3Server, spark, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest,
) -> None:
    """`airflow dags test` twice for one date on one warehouse in S3: first with Spark local[2], then
    again with the Spark connection pointing at a two-worker standalone cluster. Every task succeeds
    both times; the re-run replaces the date (same counts, same landing files) and the cluster's
    tables equal the local run's row for row - one proof of the DAG, of re-runs, of the cluster and
    of object storage."""
    started = time.monotonic()
    package = build_package(tmp_path / "cobuy")
    warehouse_prefix, landing = "e2e/warehouse", tmp_path / "landing"
    warehouse = s3.uri(warehouse_prefix)
    write_overlay(package / "conf", "e2e", warehouse, landing, {**TEST_SPARK, **s3.spark_conf()})
    pipeline, pre_steps = runnable_pipeline(read_pipeline(), existing_jobs())
    (tmp_path / "pipeline.toml").write_text(dump_toml(pipeline))
    log = tmp_path / "airflow.log"
    home = tmp_path / "airflow"
    api_port = free_port()
    env = airflow_env(
        home,
        AIRFLOW__CORE__DAGS_FOLDER=str(package / "airflow" / "dags"),
        COBUY_PIPELINE=str(tmp_path / "pipeline.toml"),
        AIRFLOW_VAR_COBUY_ENV="e2e",
        AIRFLOW_VAR_COBUY_RETRIES="0",
        AIRFLOW_VAR_COBUY_SPARK_BIN_DIR=str(VENV_BIN),
        AIRFLOW_VAR_COBUY_PSEUDONYM_SECRET=PSEUDONYM_SECRET,
        # The local run's tasks go through LocalExecutor, two at a time, as a deployment's workers run
        # the DAG's independent branches side by side; their supervisors report to this api-server.
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__PARALLELISM=str(LOCAL_RUN_PARALLELISM),
        AIRFLOW__CORE__EXECUTION_API_SERVER_URL=f"http://127.0.0.1:{api_port}/execution/",
        AIRFLOW__API_AUTH__JWT_SECRET="cobuy-e2e-jwt-secret",
    )
    airflow = str(airflow_python.parent / "airflow")
    run_logged([airflow, "db", "migrate"], log, env=env, timeout=300)
    api_server = start_execution_api_server(airflow, api_port, env, tmp_path / "api-server.log")
    request.addfinalizer(lambda: stop(api_server))

    # The shop's history, delivered before the day the DAG runs: written by the same jobs in the test
    # session's warm JVM on local disk (a spark-submit each cost ~80 s on 2 cores), then copied into
    # the bucket (Delta's log holds relative paths). Pseudonyms use the DAG's secret.
    # (`spark`, the session fixture, is that JVM: the jobs' run_job finds it running and leaves it.)
    history_warehouse = tmp_path / "history-warehouse"
    write_overlay(package / "conf", "history", history_warehouse, landing, {})
    monkeypatch.setenv("COBUY_PSEUDONYM_SECRET", PSEUDONYM_SECRET)
    for job, *args in pre_steps:
        run_in_session(job, "history", package / "conf", args)
    s3.upload_tree(history_warehouse, warehouse_prefix)
    history = time.monotonic() - started
    wait_until_healthy(api_server, api_port, tmp_path / "api-server.log")

    def dags_test(master: str, marked_successful: tuple[str, ...] = ()) -> float:
        """`airflow dags test`. On local[2] through the executor, two tasks at a time. On the cluster
        each task in turn in this process: one application holds both workers, and only this loop
        honours `--mark-success-pattern`."""
        began = time.monotonic()
        connection = json.dumps({"conn_type": "spark", "host": master})
        if master.startswith("local"):
            how = ["--use-executor"]
        else:
            how = ["--mark-success-pattern", f"^({'|'.join(marked_successful)})$"] if marked_successful else []
        run_logged([airflow, "dags", "test", DAG_ID, str(RUN_DATE), *how], log,
                   env={**env, "AIRFLOW_CONN_COBUY_SPARK": connection}, timeout=2400)
        return time.monotonic() - began

    expected_states = {task: "success" for task in pipeline["tasks"]}
    for task, spec in pipeline["tasks"].items():
        if spec.get("gate"):
            expected_states[f"{task}_due"] = "success"  # 2024-03-31 is a Sunday
    local_seconds = dags_test("local[2]")
    first_run = task_states(home)
    assert list(first_run.values()) == [expected_states], f"see {log}"
    first_tables = read_warehouse(s3, warehouse_prefix)
    first_landing, first_counts = landing_days(landing), row_counts(first_tables, RUN_DATE)
    assert set(first_landing) == {f"date={RUN_DATE - dt.timedelta(days=d)}" for d in range(SHOP_DAYS)}
    for spec in pipeline["tasks"].values():
        for table in spec.get("outputs", []):
            total, on_date = first_counts[table]
            assert (on_date if on_date is not None else total) >= 1, f"{table} has no rows for {RUN_DATE}"
    local_tables = compared_tables(first_tables)
    assert cluster.executors_launched() == [0] * WORKERS  # the first run never touched the cluster

    skipped = tuple(t for t in pipeline["tasks"] if CLUSTER_RERUN_TASKS is not None and t not in CLUSTER_RERUN_TASKS)
    cluster_tasks = [task for task in pipeline["tasks"] if task not in skipped]
    cluster_seconds = dags_test(cluster.master_url, skipped)
    second_run = task_states(home)  # `dags test` replaces the date's earlier run with a new one
    assert list(second_run.values()) == [expected_states] and second_run.keys() != first_run.keys(), f"see {log}"
    assert cluster.executors_launched() == [len(cluster_tasks)] * WORKERS, "every job of the re-run uses both workers"
    assert f"--master {cluster.master_url}" in log.read_text() and f"{package}/lib.zip" in log.read_text()
    assert landing_days(landing) == first_landing
    second_tables = read_warehouse(s3, warehouse_prefix)
    assert row_counts(second_tables, RUN_DATE) == first_counts
    # The equality below is not vacuous: each cluster task committed a second complete run of the date.
    assert complete_runs(second_tables["job_runs"], RUN_DATE) == {
        pipeline["tasks"][task].get("job", task): 1 if task in skipped else 2 for task in pipeline["tasks"]
    }
    cluster_tables = compared_tables(second_tables)
    assert cluster_tables.keys() == local_tables.keys()
    differences = []
    for name, table in local_tables.items():
        try:
            assert_tables_equal(table, cluster_tables[name], f"table {name}")
        except AssertionError as difference:
            differences.append(str(difference).splitlines()[0])
    assert not differences, "\n".join(differences)
    # Every write of both runs went through delta-spark (TableStore logs the engine of each write),
    # and the report page of the date is in the bucket.
    engines = set(re.findall(r"INFO lib\.storage\.store: wrote \S+ \(([\w-]+), ", log.read_text()))
    assert engines == {"delta-spark"}, f"engines of the runs' writes: {engines}"
    if "report" in pipeline["tasks"]:
        assert f"{warehouse_prefix}/_reports/report-{RUN_DATE}.html" in s3.keys(f"{warehouse_prefix}/_reports/")
    print(
        f"\nairflow end to end on {warehouse} ({', '.join(pipeline['tasks'])}; tables {', '.join(local_tables)}): "
        f"history {history:.0f}s, local[2] run {local_seconds:.0f}s, cluster re-run of {', '.join(cluster_tasks)} "
        f"{cluster_seconds:.0f}s"
    )
