"""Layered typed config (issue 2, point 4): job file < environment overlay < --set; errors name key and file.

No Spark here: every test writes its own conf folder under tmp_path.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Optional

import pytest

from lib.config import PROJECT_ROOT, ConfigError, JobConfig, StorageConfig, load_job_config, resolve_location
from lib.jobkit import config_from_args, job_parser

RUN_DATE = dt.date(2024, 3, 31)


@dataclasses.dataclass(frozen=True)
class Window:
    days: int
    start: Optional[dt.date] = None  # noqa: UP045 - the typing.Optional spelling must work too


@dataclasses.dataclass(frozen=True)
class Params:
    min_support: float
    top_n: int
    window: Window
    categories: tuple[str, ...] = ()
    weights: Mapping[str, float] = dataclasses.field(default_factory=dict)
    label: str = "default"
    enabled: bool = True
    cutoff: dt.date | None = None
    pair: tuple[str, int] = ("x", 0)


JOB_TOML = """
min_support = 0.1
top_n = 1
label = "job"

[window]
days = 7

[spark]
"spark.sql.shuffle.partitions" = "1"
"spark.cobuy.only-in-job" = "job"
"""

ENV_TOML = """
[storage]
warehouse = "warehouse"
landing = "/data/landing"
engine = "embedded"

[spark]
"spark.master" = "local[2]"
"spark.sql.shuffle.partitions" = "2"
"spark.sql.adaptive.enabled" = true
"""


def top(keys: str) -> str:
    """The job file with `keys` added at top level (before its first table)."""
    return keys + JOB_TOML


def write_conf(root: Path, job: str = JOB_TOML, env: str = ENV_TOML, env_name: str = "local") -> Path:
    conf = root / "conf"
    (conf / "env").mkdir(parents=True, exist_ok=True)
    (conf / "demo.toml").write_text(textwrap.dedent(job))
    (conf / "env" / f"{env_name}.toml").write_text(textwrap.dedent(env))
    return conf


def load(conf: Path, *overrides: str, env: str = "local") -> JobConfig[Params]:
    return load_job_config("demo", Params, env=env, run_date=RUN_DATE, overrides=list(overrides), config_dir=conf)


# -- precedence ----------------------------------------------------------------------------------


def test_job_file_then_env_overlay_then_set(tmp_path):
    env = ENV_TOML + """
[jobs.demo]
top_n = 2
label = "env"
window = { start = 2024-01-01 }

[jobs.other]
top_n = 99
"""
    conf = write_conf(tmp_path, env=env)

    config = load(conf, "top_n=3", "window.days=14", "spark.sql.shuffle.partitions=3")

    assert config.params == Params(
        min_support=0.1, top_n=3, label="env", window=Window(days=14, start=dt.date(2024, 1, 1))
    )
    assert dict(config.spark_conf) == {
        "spark.master": "local[2]",
        "spark.sql.shuffle.partitions": "3",
        "spark.sql.adaptive.enabled": "true",
        "spark.cobuy.only-in-job": "job",
    }
    assert config.storage == StorageConfig(
        warehouse=str(tmp_path / "warehouse"), landing="/data/landing", engine="embedded"
    )
    assert (config.job, config.env, config.run_date) == ("demo", "local", RUN_DATE)
    assert config.sources == (str(conf / "demo.toml"), str(conf / "env" / "local.toml"))


def test_env_spark_settings_override_the_job_files(tmp_path):
    config = load(write_conf(tmp_path))

    assert config.spark_conf["spark.sql.shuffle.partitions"] == "2"


def test_set_overrides_storage(tmp_path):
    config = load(write_conf(tmp_path), "storage.engine=auto", "storage.allow_schema_evolution=true")

    assert (config.storage.engine, config.storage.allow_schema_evolution) == ("auto", True)


# -- types -----------------------------------------------------------------------------------------


def test_every_supported_type_from_the_files(tmp_path):
    job = """
    min_support = 1            # an int is a fine float
    top_n = 5
    categories = ["shoes", "bags"]
    weights = { purchase = 1.0, view = 0 }
    enabled = false
    cutoff = 2024-02-29
    pair = ["a", 2]

    [window]
    days = 3
    start = 2024-01-15
    """
    config = load(write_conf(tmp_path, job=job))

    assert config.params == Params(
        min_support=1.0, top_n=5, categories=("shoes", "bags"), weights={"purchase": 1.0, "view": 0.0},
        enabled=False, cutoff=dt.date(2024, 2, 29), pair=("a", 2), window=Window(days=3, start=dt.date(2024, 1, 15)),
    )
    assert isinstance(config.params.min_support, float)
    assert isinstance(config.params.weights["view"], float)
    with pytest.raises(TypeError):
        config.params.weights["view"] = 2.0  # type: ignore[index] - mappings are read-only
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.params.top_n = 6  # type: ignore[misc]


def test_every_supported_type_from_set(tmp_path):
    config = load(
        write_conf(tmp_path),
        "categories=shoes, bags",
        "weights.purchase=2.5",
        "enabled=false",
        "cutoff=2024-02-29",
        "window.start=2024-01-15",
        "label=123",
        "pair=b,3",
        "min_support=0.25",
    )

    assert config.params == Params(
        min_support=0.25, top_n=1, categories=("shoes", "bags"), weights={"purchase": 2.5}, enabled=False,
        cutoff=dt.date(2024, 2, 29), window=Window(days=7, start=dt.date(2024, 1, 15)), label="123", pair=("b", 3),
    )


def test_set_values_parse_as_toml_literals(tmp_path):
    config = load(write_conf(tmp_path), 'categories=["a,b", "c"]', 'label="quoted"', "categories=")

    assert (config.params.categories, config.params.label) == ((), "quoted")
    config = load(write_conf(tmp_path), 'categories=["a,b", "c"]')
    assert config.params.categories == ("a,b", "c")


def test_spark_settings_from_set_stay_strings(tmp_path):
    config = load(
        write_conf(tmp_path),
        "spark.sql.shuffle.partitions=4",
        "spark.cobuy.ratio=1e3",
        'spark.app.name="my app"',
        "spark.driver.extraJavaOptions=-Dx=y -Dz=w",
    )

    assert {k: v for k, v in config.spark_conf.items() if k != "spark.master" and "adaptive" not in k} == {
        "spark.sql.shuffle.partitions": "4",
        "spark.cobuy.only-in-job": "job",
        "spark.cobuy.ratio": "1e3",
        "spark.app.name": "my app",
        "spark.driver.extraJavaOptions": "-Dx=y -Dz=w",
    }


# -- errors name the key and the file ---------------------------------------------------------------

JOB_FILE, ENV_FILE = "conf/demo.toml", "conf/env/local.toml"


@pytest.mark.parametrize(
    ("job", "env", "overrides", "source", "message"),
    [
        (top("colour = 1\n"), ENV_TOML, [], JOB_FILE, "unknown key 'colour'"),
        (JOB_TOML.replace("days = 7", "days = 7\nhours = 1"), ENV_TOML, [], JOB_FILE, "unknown key 'window.hours'"),
        (JOB_TOML, ENV_TOML, ["colour=red"], "--set", "unknown key 'colour'"),
        (JOB_TOML, ENV_TOML + "[jobs.demo]\ncolour = 1\n", [], ENV_FILE + " [jobs.demo]", "unknown key 'colour'"),
        (JOB_TOML, ENV_TOML.replace("[spark]", "colour = 1\n[spark]"), [], ENV_FILE, "unknown key 'storage.colour'"),
        (JOB_TOML.replace("top_n = 1", ""), ENV_TOML, [], JOB_FILE, "missing required key 'top_n'"),
        (JOB_TOML.replace("days = 7", ""), ENV_TOML, [], JOB_FILE, "missing required key 'window.days'"),
        (JOB_TOML, ENV_TOML.replace('warehouse = "warehouse"', ""), [], ENV_FILE, "missing required key 'storage.warehouse'"),
        (JOB_TOML.replace("top_n = 1", 'top_n = "many"'), ENV_TOML, [], JOB_FILE, "key 'top_n' must be int, got str 'many'"),
        (JOB_TOML, ENV_TOML, ["top_n=many"], "--set", "key 'top_n' must be int"),
        (JOB_TOML, ENV_TOML, ["top_n=1.5"], "--set", "key 'top_n' must be int, got float"),
        (JOB_TOML, ENV_TOML + "[jobs.demo]\ntop_n = true\n", [], ENV_FILE + " [jobs.demo]", "key 'top_n' must be int, got bool"),
        (top("enabled = 3\n"), ENV_TOML, [], JOB_FILE, "key 'enabled' must be bool"),
        (top('cutoff = "yesterday"\n'), ENV_TOML, [], JOB_FILE, "key 'cutoff' must be"),
        (top("cutoff = 2024-01-01T10:00:00\n"), ENV_TOML, [], JOB_FILE, "key 'cutoff' must be"),
        (top("weights = { view = \"a lot\" }\n"), ENV_TOML, [], JOB_FILE, "key 'weights.view' must be float"),
        (top("categories = [1, [2]]\n"), ENV_TOML, [], JOB_FILE, "key 'categories' must be str"),
        (top('pair = ["a", "b"]\n'), ENV_TOML, [], JOB_FILE, "key 'pair' must be int"),
        (top('pair = ["a", 1, 2]\n'), ENV_TOML, [], JOB_FILE, "key 'pair' must be tuple"),
        (top("window = 3\n"), ENV_TOML, [], JOB_FILE, None),  # TOML itself rejects redefining a table
        (JOB_TOML, ENV_TOML, ["window=3"], "--set", "key 'window' must be Window"),
        (JOB_TOML, ENV_TOML, ["storage.engine=spark"], "--set", "key 'storage.engine' must be one of"),
        (JOB_TOML, ENV_TOML.replace('"spark.master"', '"master"'), [], ENV_FILE, "Spark setting 'master'"),
        (JOB_TOML, ENV_TOML + "[cluster]\nsize = 1\n", [], ENV_FILE, "unknown section 'cluster'"),
        (JOB_TOML + "[storage]\nwarehouse = 'x'\n", ENV_TOML, [], JOB_FILE, "section 'storage' belongs in an environment"),
        (JOB_TOML, ENV_TOML, ["top_n"], "--set", "expected key=value, got 'top_n'"),
        (JOB_TOML, ENV_TOML, ["window.days=1", "window.days.x=1"], "--set", "key 'window.days.x' sets both a value and a table"),
        (JOB_TOML, ENV_TOML, ["window.days.x=1"], "--set", "key 'window.days' must be int, got dict"),
        (JOB_TOML.replace('"spark.cobuy.only-in-job" = "job"', "weights = { view = 1 }"), ENV_TOML, [], JOB_FILE, "Spark setting 'weights'"),
    ],
)
def test_config_errors_name_the_key_and_the_source(tmp_path, job, env, overrides, source, message):
    conf = write_conf(tmp_path, job=job, env=env)

    with pytest.raises(ConfigError) as raised:
        load(conf, *overrides)

    text = str(raised.value)
    if source != "--set":
        source = str(tmp_path / source)
    assert text.startswith(f"{source}:"), text
    assert message is None or message in text, text


def test_unknown_env_lists_the_available_ones(tmp_path):
    conf = write_conf(tmp_path)
    (conf / "env" / "cluster.toml").write_text(ENV_TOML)

    with pytest.raises(ConfigError, match=r"no such environment 'staging' \(available: cluster, local\)"):
        load(conf, env="staging")


def test_missing_job_file_and_bad_toml_name_the_file(tmp_path):
    conf = write_conf(tmp_path)
    (conf / "demo.toml").unlink()
    with pytest.raises(ConfigError, match=rf"^{conf / 'demo.toml'}: config file not found"):
        load(conf)

    (conf / "demo.toml").write_text("top_n = = 1\n")
    with pytest.raises(ConfigError, match=rf"^{conf / 'demo.toml'}: not valid TOML"):
        load(conf)


# -- locations -------------------------------------------------------------------------------------


def test_relative_locations_resolve_against_the_project_root_not_the_cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert resolve_location("warehouse") == str(PROJECT_ROOT / "warehouse")
    assert resolve_location("/abs/warehouse") == "/abs/warehouse"
    assert resolve_location("s3a://lake/warehouse") == "s3a://lake/warehouse"
    assert resolve_location("dbfs:/lake") == "dbfs:/lake"


def test_the_shipped_overlays_load(tmp_path, monkeypatch):
    """conf/env/local.toml and cluster.toml are valid; local paths land under the project root."""
    monkeypatch.chdir(tmp_path)
    conf = write_conf(tmp_path / "project")
    for overlay in ("local", "cluster"):
        shutil.copy(PROJECT_ROOT / "conf" / "env" / f"{overlay}.toml", conf / "env" / f"{overlay}.toml")

    local = load(conf, env="local")
    cluster = load(conf, env="cluster")

    assert (local.storage.warehouse, local.storage.engine) == (str(tmp_path / "project" / "warehouse"), "delta-spark")
    assert local.storage.checkpoint_dir == str(tmp_path / "project" / "warehouse" / "_checkpoints")
    assert local.table_path("events") == str(tmp_path / "project" / "warehouse" / "events")
    assert local.spark_conf["spark.master"].startswith("local")
    assert (cluster.storage.engine, cluster.table_path("events")) == ("delta-spark", "s3a://cobuy-lake/warehouse/events")
    assert "spark.master" not in cluster.spark_conf  # spark-submit sets the master on a cluster


# -- parse_args level ------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> JobConfig[Params]:
    """What a job's parse_args looks like: the common arguments plus one of its own."""
    parser = job_parser("demo", "a test job")
    parser.add_argument("--top", type=int, default=None)
    args = parser.parse_args(argv)
    extra = [f"top_n={args.top}"] if args.top is not None else []
    return config_from_args("demo", Params, args, extra_overrides=extra)


def test_parse_args_builds_the_config_without_spark(tmp_path):
    conf = write_conf(tmp_path)

    config = parse_args(
        ["--env", "local", "--date", "2024-03-31", "--conf-dir", str(conf), "--set", "label=cli",
         "--set", "spark.sql.shuffle.partitions=5", "--top", "9"]
    )

    assert (config.run_date, config.params.label, config.params.top_n) == (RUN_DATE, "cli", 9)
    assert config.spark_conf["spark.sql.shuffle.partitions"] == "5"


def test_parse_args_rejects_a_bad_date(tmp_path, capsys):
    with pytest.raises(SystemExit) as raised:
        parse_args(["--date", "2024-02-30", "--conf-dir", str(write_conf(tmp_path))])

    assert raised.value.code == 2
    assert "not a date (YYYY-MM-DD): '2024-02-30'" in capsys.readouterr().err


def test_conf_dir_from_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("COBUY_CONF_DIR", str(write_conf(tmp_path)))

    assert parse_args(["--date", "2024-03-31"]).params.label == "job"


def test_require_names_the_first_failing_key_and_its_source():
    from lib.config import require

    require([("k", True, "at least 1", 1)], "conf/x.toml")  # every check holds: nothing raised
    with pytest.raises(ConfigError, match=r"^conf/x.toml: key 'b' must be at least 1, got 0$"):
        require([("a", True, "at least 1", 5), ("b", False, "at least 1", 0), ("c", False, "x", None)], "conf/x.toml")
    with pytest.raises(ConfigError, match=r"^key 'a' must be one of x, y, got 'z'$"):
        require([("a", False, "one of x, y", "z")])
