"""Render the Kubernetes SparkApplications and the Databricks job from the Airflow pipeline.

    python deploy/render_platforms.py           # rewrite both files
    python deploy/render_platforms.py --check   # exit 1 and print a diff when a file differs

The jobs, their order, the gates and the secrets come from deploy/airflow/dags/pipeline.toml (what the
Airflow DAG runs); what only a platform needs (sizes, retries, descriptions, where the package sits)
is in the tables below. Writes deploy/kubernetes/cobuy-sparkapplications.yaml and
deploy/databricks/cobuy-job.json; tests/test_deploy.py fails when they differ from a rendering.
Standard library only (plain text out, so the YAML keeps its comments).
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import textwrap
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PIPELINE_FILE = ROOT / "deploy" / "airflow" / "dags" / "pipeline.toml"
KUBERNETES_FILE = ROOT / "deploy" / "kubernetes" / "cobuy-sparkapplications.yaml"
DATABRICKS_FILE = ROOT / "deploy" / "databricks" / "cobuy-job.json"
ENV = "cluster"  # conf/env/cluster.toml on every platform


@dataclass(frozen=True)
class JobPlatform:
    """What a platform needs of one job beyond pipeline.toml. Executor sizes are Kubernetes'
    (the Databricks tasks share one job cluster); retries are both platforms'."""

    description: str
    executors: int
    cores: int = 2
    memory: str = "8g"
    memory_overhead: str | None = None  # off-heap (Python workers); None = Spark's default (0.4 x memory for Python)
    retries: int = 2


# Estimates for the cluster overlay's data sizes, not measured on a cluster. Two executors unless the
# job is wide: fpgrowth, als, paths shuffle every basket or sequence of the window; evaluate fits ALS
# once per grid point plus the hybrid grid (as wide as als, several times over); graph joins every
# signal table over 90 days, blocked cosine and iterative PageRank/label propagation (the widest
# shuffle of the day). embed runs model.num_partitions encoder tasks (more executors would sit idle),
# but each Python worker holds an onnxruntime session and Arrow batches outside the JVM heap: extra
# memory overhead. report reads bounded rows (conf/report.toml [limits]) and renders on the driver.
JOBS: dict[str, JobPlatform] = {
    "ingest": JobPlatform("Raw shop files of the day into the events and items tables.", executors=2),
    "fpgrowth": JobPlatform("Association rules (FPGrowth) over the purchase baskets.", executors=4),
    "als": JobPlatform("Implicit-feedback ALS recommendations.", executors=4),
    # One retry: a failed evaluation is re-run on request, not three times a day.
    "evaluate": JobPlatform("Offline evaluation of rules and recommendations.", executors=4, retries=1),
    "embed": JobPlatform(
        "Product text embeddings (MiniLM ONNX), similar products by text and product families.",
        executors=2, memory_overhead="6g",
    ),
    "paths": JobPlatform("Purchase paths, bought-after and item2vec behaviour embeddings.", executors=4),
    "graph": JobPlatform("The product graph: fused edges, communities, bridges and bundles.", executors=6),
    "report": JobPlatform("Rule trends and the HTML report of the day.", executors=1, memory="4g"),
    "maintenance": JobPlatform("Weekly compaction and vacuum of the warehouse tables.", executors=2),
}


@dataclass(frozen=True)
class Gate:
    """pipeline.toml's `gate`: the Airflow Variable of its weekdays and the run parameter that asks for it."""

    parameter: str  # Airflow trigger conf key and Databricks job parameter
    weekdays_variable: str
    what: str


# Databricks has no weekday Variable: its condition is the default day, Sunday (iso_weekday 7).
GATES: dict[str, Gate] = {
    "evaluation_day": Gate("evaluate", "cobuy_evaluate_weekdays", "evaluation"),
    "maintenance_day": Gate("maintain", "cobuy_maintenance_weekdays", "maintenance"),
}
GATE_WEEKDAY = "7"  # Sunday: the default of both weekday Variables ("sun")


@dataclass(frozen=True)
class Secret:
    """Where a platform keeps the value of an Airflow Variable named in `[tasks.<id>.secrets]`."""

    k8s_secret: str
    k8s_key: str
    databricks: str
    k8s_hint: str


SECRETS: dict[str, Secret] = {
    "cobuy_pseudonym_secret": Secret(
        "cobuy-pseudonym", "secret", "{{secrets/cobuy/pseudonym_secret}}",
        "ingest's HMAC key for user pseudonyms, from the Kubernetes Secret (never in this file):\n"
        "  kubectl -n cobuy create secret generic cobuy-pseudonym --from-file=secret=./pseudonym.key",
    ),
}

# Kubernetes: the image of deploy/kubernetes/Dockerfile holds the package in /opt/cobuy.
K8S_IMAGE = "registry.example.com/cobuy:0.1.0"
K8S_PACKAGES = ("io.delta:delta-spark_4.2_2.13:4.4.0", "org.apache.hadoop:hadoop-aws:3.5.0")
# Databricks: the package (make package) uploaded to a volume; the runtime brings Delta.
DBX_ARTIFACTS = "/Volumes/main/cobuy/artifacts/cobuy-0.1.0"
DBX_STORAGE = {
    "storage.warehouse": "s3://cobuy-lake/warehouse",
    "storage.landing": "s3://cobuy-lake/landing",
    "storage.checkpoint_dir": "s3://cobuy-lake/checkpoints",
}


class PipelineError(ValueError):
    pass


def read_pipeline(path: Path = PIPELINE_FILE) -> dict[str, Any]:
    """pipeline.toml, checked against what the renderer knows: every job sized, gates and secrets known."""
    with path.open("rb") as handle:
        pipeline = tomllib.load(handle)
    tasks = pipeline.get("tasks", {})
    if not tasks:
        raise PipelineError(f"{path}: no [tasks.<id>] tables")
    for task_id, task in tasks.items():
        job = task.get("job", task_id)
        if job not in JOBS:
            raise PipelineError(f"{path}: task '{task_id}' runs job '{job}', which has no entry in JOBS of {__file__}")
        for upstream in task.get("upstream", []):
            if upstream not in tasks:
                raise PipelineError(f"{path}: task '{task_id}' waits for unknown task '{upstream}'")
        if task.get("gate") not in (None, *GATES):
            raise PipelineError(f"{path}: task '{task_id}' has unknown gate '{task['gate']}' (known: {sorted(GATES)})")
        for variable in task.get("secrets", {}).values():
            if variable not in SECRETS:
                raise PipelineError(f"{path}: task '{task_id}' secret Variable '{variable}' has no entry in SECRETS")
    unused = set(JOBS) - {task.get("job", task_id) for task_id, task in tasks.items()}
    if unused:
        raise PipelineError(f"JOBS has jobs the pipeline does not run: {sorted(unused)}")
    return pipeline


def job_arguments(pipeline: Mapping[str, Any], task: Mapping[str, Any], date: str) -> list[str]:
    """The job's arguments as the Airflow DAG builds them (before --conf-dir)."""
    return ["--env", ENV, "--date", date, *map(str, pipeline.get("job_args", [])), *map(str, task.get("args", []))]


def gate_condition(task: Mapping[str, Any]) -> str:
    gate = GATES[task["gate"]]
    return (
        f"only on {gate.what} days (Airflow Variable {gate.weekdays_variable}, default sun) or when the run "
        f"asks for it (trigger conf {{\"{gate.parameter}\": true}})"
    )


# ---------------------------------------------------------------------------------------------
# Kubernetes


def render_kubernetes(pipeline: Mapping[str, Any]) -> str:
    tasks = pipeline["tasks"]
    first = next(iter(tasks))
    lines = [
        "# cobuy's jobs as SparkApplications for the Kubernetes Spark operator (sparkoperator.k8s.io/v1beta2),",
        "# one document per task of deploy/airflow/dags/pipeline.toml. GENERATED by deploy/render_platforms.py:",
        "# edit pipeline.toml (or the platform tables in the renderer), then run `python deploy/render_platforms.py`.",
        "# The image (Dockerfile beside this file) holds the package in /opt/cobuy.",
        "# Tables live in object storage and Delta's jars come from --packages (deps.packages), so the native",
        '# Delta engine commits (conf/env/cluster.toml: storage.engine = "delta-spark").',
        "#",
        '# "{{ ds }}" / "{{ ds_nodash }}" are the run date, Airflow-style Jinja. By hand, for one job:',
        "#   sed 's/{{ ds }}/2024-03-31/; s/{{ ds_nodash }}/20240331/' deploy/kubernetes/cobuy-sparkapplications.yaml \\",
        f"#     | yq 'select(.metadata.labels.\"app.kubernetes.io/component\" == \"{first}\")' | kubectl apply -f -",
        "#",
        "# Each SparkApplication is one job; the operator has no DAG. The orchestrator is the Airflow DAG",
        "# (deploy/airflow/dags/cobuy_pipeline.py: the same pipeline.toml, submitted with spark-submit through",
        "# its Spark connection; it does not apply these files); these are the per-job specs. By hand, apply",
        "# a job once every job it waits for reached COMPLETED (kubectl get sparkapplication -n cobuy):",
    ]
    width = max(map(len, tasks))
    for task_id, task in tasks.items():
        upstream = task.get("upstream", [])
        line = f"#   {task_id:<{width}}  " + (f"after {', '.join(upstream)}" if upstream else "first")
        lines.append(line)
        if task.get("gate"):
            pad = f"#   {'':<{width}}  "
            text = f"gate {task['gate']}: {gate_condition(task)}"
            lines += [pad + part for part in textwrap.wrap(text, 106 - len(pad), break_on_hyphens=False)]
    body = "\n".join(lines) + "\n"
    for task_id, task in tasks.items():
        body += sparkapplication(pipeline, task_id, task)
    return body


def quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON strings are valid YAML)."""
    return json.dumps(text, ensure_ascii=False)


YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


def yaml_scalar(text: str) -> str:
    """Plain when it is surely a string to YAML (flags, words, paths), else double-quoted."""
    plain = re.fullmatch(r"--?[A-Za-z][\w.-]*|[A-Za-z/][\w./:-]*", text) and text.lower() not in YAML_WORDS
    return text if plain else quoted(text)


def sparkapplication(pipeline: Mapping[str, Any], task_id: str, task: Mapping[str, Any]) -> str:
    job = task.get("job", task_id)
    platform = JOBS[job]
    name = task_id.replace("_", "-")
    arguments = [*job_arguments(pipeline, task, "{{ ds }}"), "--conf-dir", "/opt/cobuy/conf"]
    annotations = [f"    cobuy/description: {quoted(platform.description)}"]
    if task.get("upstream"):
        annotations.append(f"    cobuy/upstream: {quoted(','.join(task['upstream']))}")
    if task.get("gate"):
        annotations.append(f"    cobuy/gate: {task['gate']}")
    conf_dir_env = ["      - name: COBUY_CONF_DIR", "        value: /opt/cobuy/conf"]
    secrets = []
    for env_name, variable in task.get("secrets", {}).items():
        secret = SECRETS[variable]
        secrets += [f"      # {hint}" for hint in secret.k8s_hint.splitlines()]
        secrets += [
            f"      - name: {env_name}",
            "        valueFrom:",
            "          secretKeyRef:",
            f"            name: {secret.k8s_secret}",
            f"            key: {secret.k8s_key}",
        ]
    lines = [
        "---",
        "apiVersion: sparkoperator.k8s.io/v1beta2",
        "kind: SparkApplication",
        "metadata:",
        f"  name: cobuy-{name}-{{{{ ds_nodash }}}}",
        "  namespace: cobuy",
        "  labels:",
        "    app.kubernetes.io/name: cobuy",
        f"    app.kubernetes.io/component: {task_id}",
        "  annotations:",
        *annotations,
        "spec:",
        "  type: Python",
        '  pythonVersion: "3"',
        "  mode: cluster",
        f"  image: {K8S_IMAGE}",
        "  imagePullPolicy: IfNotPresent",
        '  sparkVersion: "4.2.0"',
        f"  mainApplicationFile: local:///opt/cobuy/jobs/{job}.py",
        "  arguments:",
        *(f"    - {yaml_scalar(a)}" for a in arguments),
        "  deps:",
        "    pyFiles:",
        "      - local:///opt/cobuy/lib.zip",
        "    packages:",
        *(f"      - {p}" for p in K8S_PACKAGES),
        "  sparkConf:",
        "    spark.sql.extensions: io.delta.sql.DeltaSparkSessionExtension",
        "    spark.sql.catalog.spark_catalog: org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "    spark.jars.ivy: /tmp/.ivy2",
        "    spark.hadoop.fs.s3a.aws.credentials.provider: "
        "software.amazon.awssdk.auth.credentials.WebIdentityTokenFileCredentialsProvider",
        "    spark.sql.session.timeZone: UTC",
        "  restartPolicy:",
        "    type: OnFailure",
        f"    onFailureRetries: {platform.retries}",
        "    onFailureRetryInterval: 300",
        f"    onSubmissionFailureRetries: {platform.retries}",
        "    onSubmissionFailureRetryInterval: 60",
        "  timeToLiveSeconds: 86400",
        "  driver:",
        "    cores: 1",
        '    coreLimit: "1200m"',
        "    memory: 4g",
        "    serviceAccount: cobuy-spark",
        "    env:",
        *conf_dir_env,
        *secrets,
        "  executor:",
        f"    instances: {platform.executors}",
        f"    cores: {platform.cores}",
        f"    memory: {platform.memory}",
        *([f"    memoryOverhead: {platform.memory_overhead}"] if platform.memory_overhead else []),
        "    env:",
        *conf_dir_env,
    ]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# Databricks (Jobs API 2.1)


def render_databricks(pipeline: Mapping[str, Any]) -> str:
    tasks = pipeline["tasks"]
    gates = list(dict.fromkeys(task["gate"] for task in tasks.values() if task.get("gate")))
    env_vars = {"COBUY_CONF_DIR": f"{DBX_ARTIFACTS}/conf"}
    for task in tasks.values():
        env_vars.update({name: SECRETS[variable].databricks for name, variable in task.get("secrets", {}).items()})
    asked = ", ".join(
        f"{task_id} ({GATES[task['gate']].parameter}=true)" for task_id, task in tasks.items() if task.get("gate")
    )
    job = {
        "name": "cobuy-daily",
        "description": f"{pipeline['description']}. On Sundays or when asked: {asked}. Jobs API 2.1, rendered from "
        f"deploy/airflow/dags/pipeline.toml by deploy/render_platforms.py; the package (make package) is "
        f"uploaded to {DBX_ARTIFACTS}/.",
        "tags": {"project": "cobuy"},
        "max_concurrent_runs": 1,
        "timeout_seconds": 14400,
        "schedule": {"quartz_cron_expression": "0 0 3 * * ?", "timezone_id": "UTC", "pause_status": "UNPAUSED"},
        "parameters": [
            {"name": "run_date", "default": "{{job.start_time.iso_date}}"},
            *({"name": GATES[gate].parameter, "default": "false"} for gate in gates),
        ],
        "job_clusters": [
            {
                "job_cluster_key": "cobuy",
                "new_cluster": {
                    "spark_version": "17.3.x-scala2.13",
                    "node_type_id": "i3.xlarge",
                    "num_workers": 2,
                    "data_security_mode": "SINGLE_USER",
                    "spark_conf": {"spark.sql.session.timeZone": "UTC", "spark.sql.shuffle.partitions": "200"},
                    "spark_env_vars": env_vars,
                },
            }
        ],
        "tasks": [entry for task_id, task in tasks.items() for entry in databricks_tasks(pipeline, task_id, task)],
    }
    return dump_json(job) + "\n"


def databricks_tasks(pipeline: Mapping[str, Any], task_id: str, task: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The Spark task, preceded by its two condition tasks when gated (due on Sunday, or asked for:
    the task runs when at least one says true)."""
    job = task.get("job", task_id)
    upstream = [{"task_key": up} for up in task.get("upstream", [])]
    conditions = []
    if task.get("gate"):
        gate = GATES[task["gate"]]
        for suffix, left, right in (
            ("due", "{{job.start_time.iso_weekday}}", GATE_WEEKDAY),
            ("requested", f"{{{{job.parameters.{gate.parameter}}}}}", "true"),
        ):
            condition = {"task_key": f"{task_id}_{suffix}"}
            if upstream:
                condition["depends_on"] = upstream
            condition["condition_task"] = {"op": "EQUAL_TO", "left": left, "right": right}
            conditions.append(condition)
        upstream = [{"task_key": c["task_key"], "outcome": "true"} for c in conditions]
    storage = [part for key, value in DBX_STORAGE.items() for part in ("--set", f"{key}={value}")]
    spark_task: dict[str, Any] = {"task_key": task_id, "description": JOBS[job].description}
    if upstream:
        spark_task["depends_on"] = upstream
    if conditions:
        spark_task["run_if"] = "AT_LEAST_ONE_SUCCESS"
    spark_task |= {
        "job_cluster_key": "cobuy",
        "spark_python_task": {
            "python_file": f"{DBX_ARTIFACTS}/jobs/{job}.py",
            "parameters": [
                *job_arguments(pipeline, task, "{{job.parameters.run_date}}"),
                "--conf-dir", f"{DBX_ARTIFACTS}/conf", *storage,
            ],
        },
        "libraries": [{"whl": f"{DBX_ARTIFACTS}/cobuy-0.1.0-py3-none-any.whl"}],
        "max_retries": JOBS[job].retries,
        "min_retry_interval_millis": 300000,
        "retry_on_timeout": False,
    }
    return [*conditions, spark_task]


WIDTH = 110


def dump_json(value: Any, indent: int = 0, column: int = 0, in_list: bool = False) -> str:
    """JSON as the file was written by hand: small flat objects and short lists on one line, argument
    lists wrapped after each flag and its value, everything else one key per line."""
    if isinstance(value, dict):
        flat = all(not isinstance(v, (dict, list)) for v in value.values())
        if value and flat and (in_list or len(value) == 1):
            return "{" + ", ".join(f"{json.dumps(k)}: {dump_json(v)}" for k, v in value.items()) + "}"
        lines = []
        for key, item in value.items():
            prefix = " " * (indent + 2) + json.dumps(key) + ": "
            lines.append(prefix + dump_json(item, indent + 2, len(prefix)))
        return "{\n" + ",\n".join(lines) + "\n" + " " * indent + "}"
    if isinstance(value, list):
        if all(not isinstance(v, (dict, list)) for v in value):
            return wrapped_list([dump_json(v) for v in value], column)
        if all(isinstance(v, dict) and len(v) == 1 for v in value):
            one = "[" + ", ".join(dump_json(v, in_list=True) for v in value) + "]"
            if "\n" not in one and column + len(one) + 1 <= WIDTH:
                return one
        items = [" " * (indent + 2) + dump_json(v, indent + 2, indent + 2, in_list=True) for v in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    return json.dumps(value, ensure_ascii=False)


def wrapped_list(items: Sequence[str], column: int) -> str:
    one = "[" + ", ".join(items) + "]"
    if column + len(one) + 1 <= WIDTH:
        return one
    units: list[str] = []  # a flag and its value stay together
    i = 0
    while i < len(items):
        if items[i].startswith('"--') and i + 1 < len(items) and not items[i + 1].startswith('"--'):
            units.append(f"{items[i]}, {items[i + 1]}")
            i += 2
        else:
            units.append(items[i])
            i += 1
    lines = [units[0]]
    for unit in units[1:]:
        if column + 1 + len(lines[-1]) + len(", ") + len(unit) + 1 <= WIDTH:
            lines[-1] += ", " + unit
        else:
            lines.append(unit)
    return "[" + (",\n" + " " * (column + 1)).join(lines) + "]"


# ---------------------------------------------------------------------------------------------


def renderings(pipeline_file: Path = PIPELINE_FILE) -> dict[Path, str]:
    pipeline = read_pipeline(pipeline_file)
    return {KUBERNETES_FILE: render_kubernetes(pipeline), DATABRICKS_FILE: render_databricks(pipeline)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 with a diff when a file is not the rendering")
    parser.add_argument("--pipeline", type=Path, default=PIPELINE_FILE)
    args = parser.parse_args(argv)
    try:
        rendered = renderings(args.pipeline)
    except PipelineError as error:
        print(f"render_platforms: {error}", file=sys.stderr)
        return 2
    stale = 0
    for path, text in rendered.items():
        current = path.read_text() if path.exists() else ""
        if current == text:
            continue
        if args.check:
            stale += 1
            sys.stdout.writelines(difflib.unified_diff(
                current.splitlines(keepends=True), text.splitlines(keepends=True),
                f"{path.relative_to(ROOT)} (checked in)", f"{path.relative_to(ROOT)} (rendered)",
            ))
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)}")
    if stale:
        print(f"\n{stale} file(s) differ from pipeline.toml's rendering: run `python deploy/render_platforms.py`",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
