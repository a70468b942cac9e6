"""cobuy's daily pipeline for Apache Airflow 3: ingest -> (fpgrowth || als) -> evaluate (weekly or on request).

The task graph comes from pipeline.toml beside this file. Every task is a SparkSubmitOperator whose
application, --py-files, config and Spark settings come from the cobuy package's own
`submit.build_submit` (the same code as `deploy/submit.sh`), so a job run by Airflow and one run by
hand are submitted identically. `{{ ds }}` is the job's --date.

Settings (Airflow Variables, read when the DAG is parsed unless marked "at run time"):
    cobuy_env                  environment overlay conf/env/<env>.toml       (default: cluster)
    cobuy_spark_conn_id        Spark connection: the master                 (default: cobuy_spark)
    cobuy_deploy_mode          client, or cluster (YARN/Kubernetes drivers)   (default: client)
    cobuy_catchup              back-fill missed days                        (default: false)
    cobuy_max_active_runs      runs at once                                 (default: 1)
    cobuy_retries              retries per task, exponential back-off       (default: 2)
    cobuy_spark_bin_dir        folder of the project's spark-submit and python, put first on the
                               PATH of spark-submit (default: <project>/.venv/bin when it exists;
                               "" = use PATH as it is, e.g. on Kubernetes masters)
    cobuy_evaluate_weekdays    at run time: weekdays evaluation runs on, e.g. "sun" or "mon,thu",
                               "*" = every run, "" = only when asked           (default: sun)
    cobuy_maintenance_weekdays at run time: weekdays the maintenance job (compaction, vacuum) runs on,
                               same syntax                                   (default: sun)
    cobuy_pseudonym_secret     at run time: ingest's HMAC secret, given to its driver as
                               COBUY_PSEUDONYM_SECRET (pipeline.toml [tasks.ingest.secrets])
Where the package is: $COBUY_PACKAGE, else Variable cobuy_package_dir, else the package this DAG
file was copied into by `make package` (<package>/airflow/dags/), else <project>/dist/cobuy.
Ask for an evaluation on any day: `airflow dags trigger cobuy_daily -c '{"evaluate": true}'`.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import DAG, Param, Variable

HERE = Path(__file__).resolve().parent
PIPELINE_FILE = Path(os.environ.get("COBUY_PIPELINE", HERE / "pipeline.toml"))
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
GATES = ("evaluation_day", "maintenance_day")


def setting(name: str, default: str) -> str:
    """An Airflow Variable (AIRFLOW_VAR_<NAME> works too), with a default when it is not set."""
    value = Variable.get(name, default=None)
    return default if value is None else str(value)


def as_bool(name: str, text: str) -> bool:
    if text.strip().lower() in ("true", "1", "yes"):
        return True
    if text.strip().lower() in ("false", "0", "no", ""):
        return False
    raise ValueError(f"Airflow Variable {name} must be true or false, got '{text}'")


def find_package() -> Path:
    explicit = os.environ.get("COBUY_PACKAGE") or setting("cobuy_package_dir", "")
    candidates = [Path(explicit)] if explicit else [HERE.parent.parent, HERE.parent.parent / "dist" / "cobuy"]
    for candidate in candidates:
        if (candidate / "lib.zip").exists() and (candidate / "submit.py").exists():
            return candidate.resolve()
    raise FileNotFoundError(
        f"no cobuy package at {', '.join(map(str, candidates))}: run `make package` "
        "and set COBUY_PACKAGE or the Airflow Variable cobuy_package_dir"
    )


def load_submit(package: Path) -> ModuleType:
    """The package's submit module: the one definition of how a cobuy job is submitted."""
    spec = importlib.util.spec_from_file_location("cobuy_submit", package / "submit.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {package / 'submit.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def read_pipeline(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        pipeline = tomllib.load(handle)
    tasks = pipeline.get("tasks", {})
    if not tasks:
        raise ValueError(f"{path}: no [tasks.<id>] tables")
    for task_id, task in tasks.items():
        for upstream in task.get("upstream", []):
            if upstream not in tasks:
                raise ValueError(f"{path}: task '{task_id}' waits for unknown task '{upstream}'")
        if task.get("gate", None) not in (None, *GATES):
            raise ValueError(f"{path}: task '{task_id}' has unknown gate '{task['gate']}' (known: {GATES})")
    return pipeline


def is_evaluation_day(params: dict[str, Any], logical_date: dt.datetime | None = None, dag_run: Any = None) -> bool:
    """True on the weekdays of Variable cobuy_evaluate_weekdays, or when the run was asked to evaluate."""
    return is_due("cobuy_evaluate_weekdays", bool(params.get("evaluate")), logical_date, dag_run)


def is_maintenance_day(params: dict[str, Any], logical_date: dt.datetime | None = None, dag_run: Any = None) -> bool:
    """True on the weekdays of Variable cobuy_maintenance_weekdays, or when the run asked for maintenance."""
    return is_due("cobuy_maintenance_weekdays", bool(params.get("maintain")), logical_date, dag_run)


def is_due(variable: str, asked: bool, logical_date: dt.datetime | None, dag_run: Any) -> bool:
    if asked:
        return True
    day = logical_date or getattr(dag_run, "run_after", None)
    if day is None:
        raise ValueError("a run with neither logical date nor run_after: cannot tell the weekday")
    wanted = setting(variable, "sun").strip().lower()
    if wanted == "*":
        return True
    days = {day.strip()[:3] for day in wanted.split(",") if day.strip()}
    unknown = days - set(WEEKDAYS)
    if unknown:
        raise ValueError(f"Airflow Variable {variable} has unknown day(s): {sorted(unknown)}")
    return WEEKDAYS[day.weekday()] in days


def spark_env(bin_dir: str, secrets: dict[str, str]) -> dict[str, str] | None:
    """spark-submit and Python of the project's environment (not whatever Airflow's PATH finds), and
    the task's secrets as Jinja over Airflow Variables, rendered only when the task runs."""
    env = {name: f"{{{{ var.value.{variable} }}}}" for name, variable in secrets.items()}
    if bin_dir:
        env.update(
            PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
            PYSPARK_PYTHON=str(Path(bin_dir) / "python"),
            PYSPARK_DRIVER_PYTHON=str(Path(bin_dir) / "python"),
        )
    return env or None


def build_dag(pipeline: dict[str, Any], package: Path) -> DAG:
    submit = load_submit(package)
    env = setting("cobuy_env", pipeline.get("env", "cluster"))
    conn_id = setting("cobuy_spark_conn_id", "cobuy_spark")
    deploy_mode = setting("cobuy_deploy_mode", "client")  # cluster: config shipped as conf.zip
    retries = int(setting("cobuy_retries", str(pipeline.get("retries", 2))))
    default_bin = package.parent.parent / ".venv" / "bin"
    bin_dir = setting("cobuy_spark_bin_dir", str(default_bin) if default_bin.exists() else "")
    extra_args = [str(a) for a in pipeline.get("job_args", [])]

    dag = DAG(
        dag_id=pipeline["dag_id"],
        description=pipeline.get("description"),
        schedule=pipeline.get("schedule", "@daily"),
        start_date=dt.datetime.fromisoformat(str(pipeline["start_date"])).replace(tzinfo=dt.timezone.utc),
        catchup=as_bool("cobuy_catchup", setting("cobuy_catchup", "false")),
        max_active_runs=int(setting("cobuy_max_active_runs", "1")),
        tags=list(pipeline.get("tags", [])),
        params={
            "evaluate": Param(False, type="boolean", description="evaluate on this run whatever the day"),
            "maintain": Param(False, type="boolean", description="compact and vacuum on this run whatever the day"),
        },
        default_args={
            "retries": retries,
            "retry_delay": dt.timedelta(minutes=float(pipeline.get("retry_delay_minutes", 5))),
            "retry_exponential_backoff": True,
            "max_retry_delay": dt.timedelta(minutes=float(pipeline.get("max_retry_delay_minutes", 60))),
        },
        doc_md=__doc__,
    )
    operators: dict[str, Any] = {}
    with dag:
        for task_id, task in pipeline["tasks"].items():
            job = task.get("job", task_id)
            spec = submit.build_submit(
                job, ["--env", env, "--date", "{{ ds }}", *extra_args, *map(str, task.get("args", []))],
                package=package, deploy_mode=deploy_mode,
            )
            operators[task_id] = SparkSubmitOperator(
                task_id=task_id,
                conn_id=conn_id,
                application=spec.application,
                application_args=list(spec.application_args),
                py_files=",".join(spec.py_files),
                archives=",".join(spec.archives) or None,
                conf=dict(spec.conf),
                deploy_mode=spec.deploy_mode,
                name=f"cobuy-{job}-{{{{ ds }}}}",
                env_vars=spark_env(bin_dir, dict(task.get("secrets", {}))),
                doc_md=f"`spark-submit jobs/{job}.py --env {env} --date <ds>`; writes: "
                + (", ".join(task.get("outputs", [])) or "see the job"),
            )
        for task_id, task in pipeline["tasks"].items():
            upstream = [operators[u] for u in task.get("upstream", [])]
            if task.get("gate") in GATES:
                weekly = task["gate"] == "evaluation_day"
                gate = ShortCircuitOperator(
                    task_id=f"{task_id}_due",
                    python_callable=is_evaluation_day if weekly else is_maintenance_day,
                    ignore_downstream_trigger_rules=True,
                    retries=0,
                    doc_md="Lets the task below run on its weekdays "
                    f"({'cobuy_evaluate_weekdays' if weekly else 'cobuy_maintenance_weekdays'}) or on request.",
                )
                for parent in upstream:
                    parent >> gate
                upstream = [gate]
            for parent in upstream:
                parent >> operators[task_id]
    return dag


dag = build_dag(read_pipeline(PIPELINE_FILE), find_package())
