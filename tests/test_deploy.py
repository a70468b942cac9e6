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
# The Kubernetes and Databricks definitions are rendered from pipeline.toml (deploy/render_platforms.py):
# every job the pipeline runs, whatever it runs.
PLATFORM_JOBS = {spec.get("job", task) for task, spec in read_pipeline()["tasks"].items()}
# pipeline.toml's gates and the run parameter that asks for them (the Airflow DAG's params).
GATE_PARAMETERS = {"evaluation_day": "evaluate", "maintenance_day": "maintain"}
KUBERNETES_FILE = ROOT / "deploy" / "kubernetes" / "cobuy-sparkapplications.yaml"
DATABRICKS_FILE = ROOT / "deploy" / "databricks" / "cobuy-job.json"


def load_deploy_module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"cobuy_{name}_under_test", ROOT / "deploy" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


submit = load_deploy_module("submit")
render_platforms = load_deploy_module("render_platforms")


def kubernetes_apps(text: str | None = None) -> dict[str, dict]:
    documents = list(yaml.safe_load_all(KUBERNETES_FILE.read_text() if text is None else text))
    apps = {doc["metadata"]["labels"]["app.kubernetes.io/component"]: doc for doc in documents}
    assert len(apps) == len(documents), "two SparkApplications of the same component"
    return apps


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
    apps = kubernetes_apps()
    assert set(apps) == PLATFORM_JOBS
    pipeline = read_pipeline()
    for job, app in apps.items():
        # The operator has no DAG: each application names what it waits for and its gate (the header explains).
        annotations = app["metadata"]["annotations"]
        task = pipeline["tasks"][job]
        assert annotations.get("cobuy/upstream", "").split(",") == (task["upstream"] or [""])
        assert annotations.get("cobuy/gate") == task.get("gate")
        assert annotations["cobuy/description"]
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
    job = json.loads(DATABRICKS_FILE.read_text())
    tasks = {task["task_key"]: task for task in job["tasks"]}
    spark_tasks = {key: task for key, task in tasks.items() if "spark_python_task" in task}
    assert set(spark_tasks) == PLATFORM_JOBS
    edges = {(dep["task_key"], key) for key, task in tasks.items() for dep in task.get("depends_on", [])}
    pipeline = read_pipeline()
    gated_tasks = {task: spec["gate"] for task, spec in pipeline["tasks"].items() if spec.get("gate")}
    assert set(gated_tasks) == {"evaluate", "maintenance"}
    # A gated task waits for its two conditions (Sunday, or its job parameter = true), and they for
    # the task's upstream in the pipeline.
    conditions = {key: task for key, task in tasks.items() if "condition_task" in task}
    assert set(conditions) == {f"{t}_{c}" for t in gated_tasks for c in ("due", "requested")}
    assert set(tasks) == set(spark_tasks) | set(conditions)
    parameters = {p["name"]: p["default"] for p in job["parameters"]}
    asked = {GATE_PARAMETERS[gate]: "false" for gate in gated_tasks.values()}
    assert parameters == {"run_date": "{{job.start_time.iso_date}}"} | asked
    for gated, gate in gated_tasks.items():
        assert conditions[f"{gated}_due"]["condition_task"] == {
            "op": "EQUAL_TO", "left": "{{job.start_time.iso_weekday}}", "right": "7",
        }
        assert conditions[f"{gated}_requested"]["condition_task"] == {
            "op": "EQUAL_TO", "left": f"{{{{job.parameters.{GATE_PARAMETERS[gate]}}}}}", "right": "true",
        }
        assert sorted(spark_tasks[gated]["depends_on"], key=lambda d: d["task_key"]) == [
            {"task_key": f"{gated}_due", "outcome": "true"}, {"task_key": f"{gated}_requested", "outcome": "true"},
        ]
        assert spark_tasks[gated]["run_if"] == "AT_LEAST_ONE_SUCCESS"
    direct = {(a, b) for a, b in edges if a in spark_tasks and b in spark_tasks}
    through_gates = {(a, b.rsplit("_", 1)[0]) for a, b in edges if b in conditions}
    assert direct | through_gates == pipeline_edges(pipeline)
    assert not direct & through_gates
    assert all("run_if" not in task for key, task in spark_tasks.items() if key not in gated_tasks)
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


def test_both_platforms_retry_a_job_as_often() -> None:
    job = json.loads(DATABRICKS_FILE.read_text())
    retries = {t["task_key"]: t["max_retries"] for t in job["tasks"] if "spark_python_task" in t}
    restart = {name: app["spec"]["restartPolicy"]["onFailureRetries"] for name, app in kubernetes_apps().items()}
    assert restart == retries and min(retries.values()) >= 1


# -- the manifests are pipeline.toml's rendering (deploy/render_platforms.py) ----------------------


def test_checked_in_manifests_are_the_rendering_of_the_pipeline() -> None:
    """Drift check: after a change to pipeline.toml, run `python deploy/render_platforms.py`."""
    for path, text in render_platforms.renderings().items():
        assert path.read_text() == text, (
            f"{path.relative_to(ROOT)} is not the rendering of pipeline.toml: run `python deploy/render_platforms.py`"
        )


def test_render_check_reports_a_pipeline_change_with_a_diff(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    before = {path: path.read_bytes() for path in (KUBERNETES_FILE, DATABRICKS_FILE)}
    assert render_platforms.main(["--check"]) == 0

    changed = tmp_path / "pipeline.toml"
    text = (ROOT / "deploy" / "airflow" / "dags" / "pipeline.toml").read_text()
    graph_args = 'args = ["--set", "top_k=7", "--flag", "true"]\n'
    changed.write_text(text.replace('job = "graph"\n', 'job = "graph"\n' + graph_args))
    assert render_platforms.main(["--check", "--pipeline", str(changed)]) == 1
    out = capsys.readouterr()
    assert "+++ deploy/kubernetes/cobuy-sparkapplications.yaml (rendered)" in out.out
    assert '+    - "top_k=7"\n+    - --flag\n+    - "true"\n' in out.out
    assert "+++ deploy/databricks/cobuy-job.json (rendered)" in out.out and '"--set", "top_k=7",' in out.out
    assert "2 file(s) differ" in out.err and "run `python deploy/render_platforms.py`" in out.err
    assert {path: path.read_bytes() for path in before} == before, "--check wrote a file"

    # Task args reach both platforms as strings, after --date, as the Airflow DAG passes them.
    rendered = {p.name: t for p, t in render_platforms.renderings(changed).items()}
    k8s_args = kubernetes_apps(rendered[KUBERNETES_FILE.name])["graph"]["spec"]["arguments"]
    assert k8s_args == ["--env", "cluster", "--date", "{{ ds }}", "--set", "top_k=7", "--flag", "true",
                        "--conf-dir", "/opt/cobuy/conf"]
    [graph] = [t for t in json.loads(rendered[DATABRICKS_FILE.name])["tasks"] if t["task_key"] == "graph"]
    assert graph["spark_python_task"]["parameters"][4:8] == ["--set", "top_k=7", "--flag", "true"]


def test_render_refuses_a_job_it_cannot_place(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    text = (ROOT / "deploy" / "airflow" / "dags" / "pipeline.toml").read_text()
    unsized = tmp_path / "unsized.toml"
    unsized.write_text(text + '\n[tasks.summary]\njob = "summary"\nupstream = ["report"]\n')
    assert render_platforms.main(["--check", "--pipeline", str(unsized)]) == 2
    assert "task 'summary' runs job 'summary', which has no entry in JOBS" in capsys.readouterr().err
    secret = tmp_path / "secret.toml"
    secret.write_text(text.replace('COBUY_PSEUDONYM_SECRET = "cobuy_pseudonym_secret"', 'X = "cobuy_other_secret"'))
    assert render_platforms.main(["--check", "--pipeline", str(secret)]) == 2
    assert "task 'ingest' secret Variable 'cobuy_other_secret' has no entry in SECRETS" in capsys.readouterr().err


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
    apps = kubernetes_apps()
    env = {e["name"]: e for e in apps["ingest"]["spec"]["driver"]["env"]}
    assert env["COBUY_PSEUDONYM_SECRET"] == {
        "name": "COBUY_PSEUDONYM_SECRET", "valueFrom": {"secretKeyRef": {"name": "cobuy-pseudonym", "key": "secret"}},
    }
    # Only the tasks with [tasks.<id>.secrets] get one; no value is ever written in the file.
    for job, app in apps.items():
        names = {e["name"] for role in ("driver", "executor") for e in app["spec"][role]["env"]}
        assert names == {"COBUY_CONF_DIR"} | set(read_pipeline()["tasks"][job].get("secrets", {}))
        assert all("value" not in e for e in app["spec"]["driver"]["env"] if e["name"] != "COBUY_CONF_DIR")


def test_databricks_drivers_get_the_secret_from_a_secret_scope() -> None:
    job = json.loads(DATABRICKS_FILE.read_text())
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
