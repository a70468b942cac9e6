"""Packaging, the submit wrapper and the cluster manifests (fast: no JVM, no Airflow)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
import yaml  # dev dependency: the Kubernetes manifests are YAML

from deploy_helpers import ROOT, build_package, pipeline_edges, read_pipeline
from lib.config import load_job_config

DELTA = "io.delta:delta-spark_4.2_2.13:4.4.0"  # Maven has delta-spark for Spark 4.2 at 4.4.0 (deploy/maven-jars.txt)
PIPELINE_JOBS = {"ingest", "fpgrowth", "als", "evaluate", "maintenance", "embed", "paths", "graph", "report"}
# The Kubernetes and Databricks definitions have the four core jobs; maintenance, embed, paths, graph
# and report are in the Airflow DAG only so far (docs/deployment.md).
PLATFORM_JOBS = PIPELINE_JOBS - {"maintenance", "embed", "paths", "graph", "report"}


def load_submit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("cobuy_submit_under_test", ROOT / "deploy" / "submit.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


submit = load_submit()


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_package(tmp_path_factory.mktemp("package") / "cobuy")


# ---------------------------------------------------------------------------------------------
# The package


def test_package_holds_lib_jobs_conf_and_a_true_manifest(package: Path, tmp_path: Path) -> None:
    lib_sources = sorted(
        p.relative_to(ROOT).as_posix() for p in (ROOT / "lib").rglob("*.py") if "__pycache__" not in p.parts
    )
    with zipfile.ZipFile(package / "lib.zip") as archive:
        assert sorted(archive.namelist()) == lib_sources
        assert archive.read("lib/config.py") == (ROOT / "lib" / "config.py").read_bytes()
    conf_sources = sorted(p.relative_to(ROOT / "conf").as_posix() for p in (ROOT / "conf").rglob("*.toml"))
    with zipfile.ZipFile(package / "conf.zip") as archive:
        assert sorted(archive.namelist()) == conf_sources
    assert sorted(p.name for p in (package / "jobs").glob("*.py")) == sorted(p.name for p in (ROOT / "jobs").glob("*.py"))
    assert (package / "airflow" / "dags" / "cobuy_pipeline.py").read_bytes() == (
        ROOT / "deploy" / "airflow" / "dags" / "cobuy_pipeline.py"
    ).read_bytes()

    manifest = json.loads((package / "MANIFEST.json").read_text())
    assert (manifest["name"], manifest["version"]) == ("cobuy", "0.1.0")
    assert manifest["jobs"] == sorted(p.stem for p in (ROOT / "jobs").glob("*.py"))
    on_disk = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()} - {"MANIFEST.json"}
    assert set(manifest["files"]) == on_disk

    again = build_package(tmp_path / "again")
    assert (again / "lib.zip").read_bytes() == (package / "lib.zip").read_bytes(), "lib.zip is not reproducible"


def test_lib_zip_alone_provides_the_lib_package(package: Path) -> None:
    """`python -S` has no site-packages (no editable install): lib can only come from the zip."""
    code = "import sys; sys.path.insert(0, sys.argv[1]); import lib.config as c; print(c.__file__)"
    result = subprocess.run(
        [sys.executable, "-S", "-c", code, str(package / "lib.zip")], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == str(package / "lib.zip" / "lib" / "config.py")


# ---------------------------------------------------------------------------------------------
# The submit wrapper


@dataclass(frozen=True)
class Knobs:
    n: int = 1


def write_conf(conf: Path) -> None:
    (conf / "env").mkdir(parents=True)
    (conf / "knobs.toml").write_text('n = 2\n[spark]\n"spark.a" = "job"\n"spark.b" = "job"\n"spark.c" = "job"\n')
    (conf / "env" / "prod.toml").write_text(
        '[storage]\nwarehouse = "s3a://lake/wh"\nlanding = "s3a://lake/landing"\n'
        '[spark]\n"spark.b" = "env"\n"spark.c" = "env"\n"spark.master" = "yarn"\n"spark.flag" = true\n'
        '[jobs.knobs.spark]\n"spark.c" = "env-job"\n'
    )


def test_submit_settings_are_the_jobs_own_spark_settings(tmp_path: Path) -> None:
    write_conf(tmp_path / "conf")
    overrides = ["n=3", "spark.d=cli"]
    expected = load_job_config("knobs", Knobs, "prod", dt.date(2024, 3, 31), overrides, tmp_path / "conf").spark_conf
    found = submit.spark_settings(tmp_path / "conf", "knobs", "prod", overrides)
    assert found == dict(expected) == {
        "spark.a": "job", "spark.b": "env", "spark.c": "env-job", "spark.master": "yarn",
        "spark.flag": "true", "spark.d": "cli",
    }


def test_submit_client_mode_command(package: Path) -> None:
    spec = submit.build_submit(
        "generate", ["--env", "local", "--date", "2024-03-31", "--set", "days=3"],
        package=package, master="spark://127.0.0.1:7077",
    )
    command = spec.argv("/opt/spark/bin/spark-submit")
    assert command[:7] == [
        "/opt/spark/bin/spark-submit", "--master", "spark://127.0.0.1:7077", "--deploy-mode", "client",
        "--name", "cobuy-generate-2024-03-31",
    ]
    assert command[command.index("--py-files") + 1] == f"{package}/lib.zip"
    assert "--archives" not in command
    assert "--conf" in command and "spark.driver.memory=4g" in command  # from conf/env/local.toml
    assert not any(c.startswith("spark.master=") for c in command[: command.index(spec.application)])
    assert command[command.index(spec.application):] == [
        f"{package}/jobs/generate.py", "--env", "local", "--date", "2024-03-31", "--set", "days=3",
        "--set", "spark.master=spark://127.0.0.1:7077", "--conf-dir", f"{package}/conf",
    ]


def test_submit_cluster_mode_ships_the_config_as_an_archive(package: Path) -> None:
    spec = submit.build_submit(
        "generate", ["--env", "cluster", "--date", "2024-03-31"], package=package, master="yarn",
        deploy_mode="cluster", extra_conf={"spark.jars.packages": DELTA},
    )
    assert spec.archives == (f"{package}/conf.zip#cobuy-conf",)
    assert spec.application_args[-2:] == ("--conf-dir", "cobuy-conf")
    assert spec.conf["spark.jars.packages"] == DELTA
    assert spec.conf["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
    assert "spark.master" not in spec.conf and spec.master == "yarn"


def test_submit_refuses_what_cannot_run(package: Path) -> None:
    with pytest.raises(submit.SubmitError, match="no job 'nojob' in the package"):
        submit.build_submit("nojob", ["--env", "local", "--date", "2024-03-31"], package=package)
    with pytest.raises(submit.SubmitError, match=r"no such environment 'moon' \(available: cluster, local\)"):
        submit.build_submit("generate", ["--env", "moon", "--date", "2024-03-31"], package=package)
    with pytest.raises(submit.SubmitError, match="contradicts --set spark.master=local"):
        submit.build_submit(
            "generate", ["--env", "local", "--date", "2024-03-31", "--set", "spark.master=local[2]"],
            package=package, master="yarn",
        )
    with pytest.raises(submit.SubmitError, match="build it with `make package`"):
        submit.build_submit("generate", ["--env", "local"], package=package.parent / "missing")


def test_submit_sh_dry_run_prints_the_command(package: Path) -> None:
    env = {**os.environ, "COBUY_PYTHON": sys.executable}
    result = subprocess.run(
        [str(package / "submit.sh"), "--dry-run", "--spark-submit", "spark-submit", "--conf", "spark.x=1",
         "generate", "--env", "local", "--date", "2024-03-31"],
        capture_output=True, text=True, env=env, check=True,
    )
    assert result.stdout.startswith("spark-submit --master 'local[*]' --deploy-mode client")
    assert "--conf spark.x=1" in result.stdout and f"--py-files {package}/lib.zip" in result.stdout

    failed = subprocess.run(
        [str(package / "submit.sh"), "--dry-run", "nojob", "--env", "local", "--date", "2024-03-31"],
        capture_output=True, text=True, env=env,
    )
    assert failed.returncode == 2 and "no job 'nojob'" in failed.stderr


@pytest.mark.parametrize("script", ["yarn/submit-yarn.sh", "standalone/submit-standalone.sh"])
def test_cluster_examples_submit_with_delta_and_the_package(package: Path, script: str) -> None:
    env = {
        **os.environ, "COBUY_PYTHON": sys.executable, "COBUY_PACKAGE": str(package),
        "SUBMIT_OPTS": "--dry-run --spark-submit spark-submit", "SPARK_MASTER_URL": "spark://master:7077",
    }
    result = subprocess.run(
        [str(ROOT / "deploy" / script), "generate", "2024-03-31"], capture_output=True, text=True, env=env, check=True,
    )
    command = result.stdout
    assert f"spark.jars.packages={DELTA}" in command
    assert "spark.sql.extensions=io.delta.sql.DeltaSparkSessionExtension" in command
    assert f"--py-files {package}/lib.zip" in command
    assert "--env cluster --date 2024-03-31" in command
    if "yarn" in script:
        assert "--master yarn --deploy-mode cluster" in command and "--conf-dir cobuy-conf" in command
    else:
        assert "--master spark://master:7077 --deploy-mode client" in command


# ---------------------------------------------------------------------------------------------
# The pipeline and the platform manifests


def test_pipeline_is_the_designed_graph() -> None:
    pipeline = read_pipeline()
    assert {spec.get("job", task) for task, spec in pipeline["tasks"].items()} == PIPELINE_JOBS
    assert pipeline_edges(pipeline) == {
        ("ingest", "fpgrowth"), ("ingest", "als"), ("fpgrowth", "evaluate"), ("als", "evaluate"),
        ("fpgrowth", "maintenance"), ("als", "maintenance"),
        ("ingest", "embed"), ("ingest", "paths"),
        ("fpgrowth", "graph"), ("als", "graph"), ("embed", "graph"), ("paths", "graph"), ("graph", "report"),
    }
    assert pipeline["tasks"]["maintenance"]["gate"] == "maintenance_day"
    assert pipeline["tasks"]["evaluate"]["gate"] == "evaluation_day"
    assert "events" in pipeline["tasks"]["ingest"]["outputs"]


def test_kubernetes_sparkapplications() -> None:
    documents = list(yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "cobuy-sparkapplications.yaml").read_text()))
    apps = {doc["metadata"]["labels"]["app.kubernetes.io/component"]: doc for doc in documents}
    assert set(apps) == PLATFORM_JOBS and len(documents) == len(PLATFORM_JOBS)
    for job, app in apps.items():
        spec = app["spec"]
        assert (app["apiVersion"], app["kind"]) == ("sparkoperator.k8s.io/v1beta2", "SparkApplication")
        assert (spec["type"], spec["mode"], spec["sparkVersion"]) == ("Python", "cluster", "4.2.0")
        assert spec["mainApplicationFile"] == f"local:///opt/cobuy/jobs/{job}.py"
        assert spec["deps"]["pyFiles"] == ["local:///opt/cobuy/lib.zip"]
        assert DELTA in spec["deps"]["packages"]
        assert spec["sparkConf"]["spark.sql.extensions"] == "io.delta.sql.DeltaSparkSessionExtension"
        args = spec["arguments"]
        assert args[args.index("--env") + 1] == "cluster" and args[args.index("--date") + 1] == "{{ ds }}"
        assert args[args.index("--conf-dir") + 1] == "/opt/cobuy/conf"
        assert spec["restartPolicy"]["onFailureRetries"] >= 1
        for role in ("driver", "executor"):
            assert {"cores", "memory"} <= set(spec[role])
        assert "/opt/cobuy" in (ROOT / "deploy" / "kubernetes" / "Dockerfile").read_text()


def test_databricks_job_runs_the_pipeline_graph() -> None:
    job = json.loads((ROOT / "deploy" / "databricks" / "cobuy-job.json").read_text())
    tasks = {task["task_key"]: task for task in job["tasks"]}
    spark_tasks = {key: task for key, task in tasks.items() if "spark_python_task" in task}
    assert set(spark_tasks) == PLATFORM_JOBS
    edges = {(dep["task_key"], key) for key, task in tasks.items() for dep in task.get("depends_on", [])}
    # Through the two conditions (Sunday, or evaluate=true) evaluate waits for fpgrowth and als.
    direct = {(a, b) for a, b in edges if a in spark_tasks and b in spark_tasks}
    gated = {(a, "evaluate") for a, b in edges if b in ("evaluate_due", "evaluate_requested")}
    assert direct | gated == {(a, b) for a, b in pipeline_edges(read_pipeline()) if b in PLATFORM_JOBS}
    assert tasks["evaluate"]["run_if"] == "AT_LEAST_ONE_SUCCESS"
    assert job["max_concurrent_runs"] == 1
    for key, task in spark_tasks.items():
        python = task["spark_python_task"]
        assert python["python_file"].endswith(f"/jobs/{key}.py")
        params = python["parameters"]
        assert params[params.index("--env") + 1] == "cluster"
        assert params[params.index("--date") + 1] == "{{job.parameters.run_date}}"
        assert params[params.index("--conf-dir") + 1].endswith("/conf")
        sets = [params[i + 1] for i, p in enumerate(params) if p == "--set"]
        assert any(s.startswith("storage.warehouse=s3://") for s in sets)
        assert [lib["whl"].rsplit("/", 1)[1] for lib in task["libraries"]] == ["cobuy-0.1.0-py3-none-any.whl"]
        assert task["max_retries"] >= 1 and task["job_cluster_key"] == "cobuy"


@pytest.mark.slow
def test_make_package_builds_a_wheel_of_lib(tmp_path: Path) -> None:
    """The Databricks library: `lib` and its metadata, no tests, jobs or configs."""
    subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "package.py"), "--out", str(tmp_path / "cobuy")],
        check=True, capture_output=True, text=True,
    )
    [wheel] = list((tmp_path / "cobuy").glob("*.whl"))
    assert wheel.name == "cobuy-0.1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    with zipfile.ZipFile(tmp_path / "cobuy" / "lib.zip") as archive:
        assert sorted(n for n in names if n.startswith("lib/")) == sorted(archive.namelist())
    assert {n.split("/")[0] for n in names} == {"lib", "cobuy-0.1.0.dist-info"}


# -- the pseudonym secret reaches ingest's driver on every target, never its value in a file -----


def test_kubernetes_ingest_driver_gets_the_secret_from_a_secret_key_ref() -> None:
    documents = list(yaml.safe_load_all((ROOT / "deploy" / "kubernetes" / "cobuy-sparkapplications.yaml").read_text()))
    apps = {doc["metadata"]["labels"]["app.kubernetes.io/component"]: doc for doc in documents}
    env = {e["name"]: e for e in apps["ingest"]["spec"]["driver"]["env"]}
    assert env["COBUY_PSEUDONYM_SECRET"] == {
        "name": "COBUY_PSEUDONYM_SECRET", "valueFrom": {"secretKeyRef": {"name": "cobuy-pseudonym", "key": "secret"}},
    }


def test_databricks_drivers_get_the_secret_from_a_secret_scope() -> None:
    job = json.loads((ROOT / "deploy" / "databricks" / "cobuy-job.json").read_text())
    [cluster] = job["job_clusters"]
    assert cluster["new_cluster"]["spark_env_vars"]["COBUY_PSEUDONYM_SECRET"] == "{{secrets/cobuy/pseudonym_secret}}"


@pytest.mark.parametrize("script", ["yarn/submit-yarn.sh", "standalone/submit-standalone.sh"])
def test_cluster_scripts_hand_ingest_its_secret_and_refuse_without_one(package: Path, script: str, tmp_path: Path) -> None:
    key = tmp_path / "pseudonym.key"
    key.write_text("not-a-real-key")
    env = {
        k: v for k, v in os.environ.items() if k not in ("COBUY_PSEUDONYM_SECRET", "COBUY_PSEUDONYM_SECRET_FILE")
    } | {
        "COBUY_PYTHON": sys.executable, "COBUY_PACKAGE": str(package),
        "SUBMIT_OPTS": "--dry-run --spark-submit spark-submit", "SPARK_MASTER_URL": "spark://master:7077",
    }
    command = [str(ROOT / "deploy" / script), "ingest", "2024-03-31"]

    refused = subprocess.run(command, capture_output=True, text=True, env=env)
    assert refused.returncode != 0 and "COBUY_PSEUDONYM_SECRET_FILE" in refused.stderr

    printed = subprocess.run(command, capture_output=True, text=True, check=True,
                             env={**env, "COBUY_PSEUDONYM_SECRET_FILE": str(key)}).stdout
    assert "not-a-real-key" not in printed
    if "yarn" in script:
        assert f"spark.yarn.dist.files={key}#cobuy-pseudonym.secret" in printed
        assert "--set secret_file=cobuy-pseudonym.secret" in printed
    else:
        assert f"--set secret_file={key}" in printed
