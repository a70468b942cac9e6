"""Submit a cobuy job to Spark from the package that `make package` built (stdlib only).

    deploy/submit.sh [submit options] JOB --env ENV --date YYYY-MM-DD [--set KEY=VALUE ...] [job args]

Submit options (before JOB):
    --package DIR        the package folder (default: $COBUY_PACKAGE or dist/cobuy)
    --master URL         spark://host:7077, yarn, k8s://https://..., local[2]; overrides the overlay's
                         spark.master and is passed to the job as --set spark.master=URL too, so the
                         job's session builder cannot pick a different one
    --deploy-mode MODE   client (driver here, default) or cluster (driver on the cluster)
    --spark-submit PATH  the spark-submit to run (default: $SPARK_SUBMIT, else the spark-submit beside
                         this Python interpreter, else the one on PATH)
    --conf KEY=VALUE     an extra Spark setting for this submit only (repeatable)
    --dry-run            print the command instead of running it

What it adds to spark-submit:
    --py-files <package>/lib.zip            the shared code, on the driver's and executors' path
    --conf k=v for every Spark setting of conf/<job>.toml [spark] < conf/env/<env>.toml [spark]
        < [jobs.<job>.spark] < --set spark.*=...  (spark.master -> --master,
        spark.submit.deployMode -> --deploy-mode; spark.jars.packages is Spark's --packages)
    the config: client mode passes --conf-dir <package>/conf; cluster mode ships
        --archives <package>/conf.zip#cobuy-conf and passes --conf-dir cobuy-conf (the driver's
        working directory), unless the job args already name a --conf-dir.

The DAG in deploy/airflow/ builds its SparkSubmitOperator from the same `build_submit`, so a job
submitted by hand and one submitted by Airflow get the same files and settings.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PACKAGE_ENV = "COBUY_PACKAGE"
SPARK_SUBMIT_ENV = "SPARK_SUBMIT"
LIB_ARCHIVE = "lib.zip"
CONF_ARCHIVE = "conf.zip"
CLUSTER_CONF_ALIAS = "cobuy-conf"
DEPLOY_MODES = ("client", "cluster")


class SubmitError(ValueError):
    """A submit that cannot be built: missing package file, unknown job or environment, bad key."""


@dataclass(frozen=True)
class SubmitSpec:
    """Everything spark-submit needs for one job run; `argv()` turns it into a command line."""

    job: str
    application: str
    application_args: tuple[str, ...]
    py_files: tuple[str, ...]
    conf: Mapping[str, str]
    master: str | None = None
    deploy_mode: str = "client"
    archives: tuple[str, ...] = ()
    name: str = ""
    env: str = "local"
    sources: tuple[str, ...] = field(default=(), compare=False)

    def argv(self, spark_submit: str = "spark-submit") -> list[str]:
        command = [spark_submit]
        if self.master:
            command += ["--master", self.master]
        command += ["--deploy-mode", self.deploy_mode, "--name", self.name]
        for key, value in sorted(self.conf.items()):
            command += ["--conf", f"{key}={value}"]
        if self.py_files:
            command += ["--py-files", ",".join(self.py_files)]
        if self.archives:
            command += ["--archives", ",".join(self.archives)]
        return [*command, self.application, *self.application_args]


# ---------------------------------------------------------------------------------------------
# Spark settings: the same layering as lib.config.load_job_config, for the spark.* keys only


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise SubmitError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as error:
        raise SubmitError(f"{path}: not valid TOML: {error}") from None


def _spark_table(table: Any, source: str) -> dict[str, str]:
    if table is None:
        return {}
    if not isinstance(table, Mapping):
        raise SubmitError(f"{source}: [spark] must be a table of settings")
    settings = {}
    for key, value in table.items():
        if not key.startswith("spark.") or isinstance(value, Mapping):
            raise SubmitError(f"{source}: Spark setting '{key}' must start with 'spark.' and be one value")
        settings[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return settings


def spark_settings(conf_dir: Path, job: str, env: str, overrides: Sequence[str] = ()) -> dict[str, str]:
    """conf/<job>.toml [spark] < conf/env/<env>.toml [spark] < [jobs.<job>.spark] < --set spark.*."""
    job_file = conf_dir / f"{job}.toml"
    env_file = conf_dir / "env" / f"{env}.toml"
    if not env_file.exists():
        available = sorted(p.stem for p in (conf_dir / "env").glob("*.toml"))
        raise SubmitError(f"{env_file}: no such environment '{env}' (available: {', '.join(available)})")
    env_layer = _read_toml(env_file)
    settings = _spark_table(_read_toml(job_file).get("spark"), str(job_file))
    settings.update(_spark_table(env_layer.get("spark"), str(env_file)))
    job_layer = env_layer.get("jobs", {}).get(job, {})
    settings.update(_spark_table(job_layer.get("spark"), f"{env_file} [jobs.{job}]"))
    for pair in overrides:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SubmitError(f"--set: expected key=value, got '{pair}'")
        if key.strip().startswith("spark."):
            settings[key.strip()] = value
    return settings


# ---------------------------------------------------------------------------------------------
# The spec


def _job_options(job_args: Sequence[str]) -> argparse.Namespace:
    """The common job arguments submit needs to see; everything else passes through untouched."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--env", default="local")
    parser.add_argument("--date")
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    parser.add_argument("--conf-dir")
    known, _ = parser.parse_known_args(list(job_args))
    return known


def package_dir(package: str | Path | None = None) -> Path:
    """--package, else $COBUY_PACKAGE, else the package this file sits in, else <project>/dist/cobuy."""
    if package or os.environ.get(PACKAGE_ENV):
        return Path(package or os.environ[PACKAGE_ENV]).resolve()
    return HERE if (HERE / LIB_ARCHIVE).exists() else HERE.parent / "dist" / "cobuy"


def build_submit(
    job: str,
    job_args: Sequence[str],
    package: str | Path | None = None,
    master: str | None = None,
    deploy_mode: str | None = None,
    extra_conf: Mapping[str, str] | None = None,
) -> SubmitSpec:
    """Build the spark-submit spec of `job` run with `job_args` (--env, --date, --set ... pass through)."""
    root = package_dir(package)
    application = root / "jobs" / f"{job}.py"
    lib_archive = root / LIB_ARCHIVE
    conf_dir = root / "conf"
    for needed in (lib_archive, conf_dir):
        if not needed.exists():
            raise SubmitError(f"{needed}: not in the package; build it with `make package`")
    if not application.exists():
        known = sorted(p.stem for p in (root / "jobs").glob("*.py"))
        raise SubmitError(f"{application}: no job '{job}' in the package (jobs: {', '.join(known)})")

    options = _job_options(job_args)
    settings = spark_settings(conf_dir, job, options.env, options.overrides)
    settings.update(extra_conf or {})
    cli_master = master
    master = master or settings.get("spark.master")
    settings.pop("spark.master", None)
    mode = deploy_mode or settings.pop("spark.submit.deployMode", None) or "client"
    settings.pop("spark.submit.deployMode", None)
    if mode not in DEPLOY_MODES:
        raise SubmitError(f"deploy mode must be one of {', '.join(DEPLOY_MODES)}, got '{mode}'")

    args = list(job_args)
    job_master = [o.partition("=")[2] for o in options.overrides if o.startswith("spark.master=")]
    if cli_master and job_master and job_master[-1] != cli_master:
        raise SubmitError(f"--master {cli_master} contradicts --set spark.master={job_master[-1]}")
    if cli_master and not job_master:
        # The job's session builder applies the overlay's spark.master; make it agree with --master.
        args += ["--set", f"spark.master={master}"]
    archives: tuple[str, ...] = ()
    if options.conf_dir is None:
        if mode == "cluster":
            archives = (f"{root / CONF_ARCHIVE}#{CLUSTER_CONF_ALIAS}",)
            args += ["--conf-dir", CLUSTER_CONF_ALIAS]
        else:
            args += ["--conf-dir", str(conf_dir)]
    return SubmitSpec(
        job=job,
        application=str(application),
        application_args=tuple(args),
        py_files=(str(lib_archive),),
        conf=settings,
        master=master,
        deploy_mode=mode,
        archives=archives,
        name=f"cobuy-{job}" + (f"-{options.date}" if options.date else ""),
        env=options.env,
        sources=(str(conf_dir / f"{job}.toml"), str(conf_dir / "env" / f"{options.env}.toml")),
    )


def default_spark_submit() -> str:
    """$SPARK_SUBMIT, else the spark-submit installed beside this interpreter (pyspark's), else PATH."""
    if os.environ.get(SPARK_SUBMIT_ENV):
        return os.environ[SPARK_SUBMIT_ENV]
    beside = Path(sys.executable).parent / "spark-submit"
    if beside.exists():
        return str(beside)
    found = shutil.which("spark-submit")
    if not found:
        raise SubmitError("no spark-submit found: set SPARK_SUBMIT or pass --spark-submit")
    return found


def parse_cli(argv: Sequence[str]) -> tuple[argparse.Namespace, str, list[str]]:
    parser = argparse.ArgumentParser(
        prog="deploy/submit.sh",
        description="spark-submit a cobuy job from the package (see deploy/submit.py)",
        usage="%(prog)s [options] JOB --env ENV --date YYYY-MM-DD [--set KEY=VALUE ...] [job args]",
    )
    parser.add_argument("--package")
    parser.add_argument("--master")
    parser.add_argument("--deploy-mode", choices=DEPLOY_MODES)
    parser.add_argument("--spark-submit")
    parser.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--dry-run", action="store_true")
    argv = list(argv)
    # Everything from the first positional (the job) on belongs to the job.
    split = 0
    takes_value = {"--package", "--master", "--deploy-mode", "--spark-submit", "--conf"}
    while split < len(argv) and argv[split].startswith("-"):
        split += 1 if "=" in argv[split] or argv[split] not in takes_value else 2
    options = parser.parse_args(argv[:split])
    if split >= len(argv):
        parser.error("missing JOB")
    return options, argv[split], argv[split + 1 :]


def main(argv: Sequence[str] | None = None) -> int:
    options, job, job_args = parse_cli(sys.argv[1:] if argv is None else argv)
    try:
        extra = {}
        for pair in options.conf:
            key, sep, value = pair.partition("=")
            if not sep or not key.startswith("spark."):
                raise SubmitError(f"--conf: expected spark.key=value, got '{pair}'")
            extra[key] = value
        spec = build_submit(job, job_args, options.package, options.master, options.deploy_mode, extra)
        command = spec.argv(options.spark_submit or default_spark_submit())
    except SubmitError as error:
        print(f"submit: {error}", file=sys.stderr)
        return 2
    print(shlex.join(command), file=sys.stderr if not options.dry_run else sys.stdout, flush=True)
    if options.dry_run:
        return 0
    os.execve(command[0], command, python_env(command[0], spec.master))  # the job's exit code is ours


def python_env(spark_submit: str, master: str | None) -> dict[str, str]:
    """pyspark's spark-submit beside this interpreter finds its Spark with, and runs the driver on, this
    interpreter; local masters run their Python workers on it too. Values already set are kept."""
    env = dict(os.environ)
    if Path(spark_submit).parent == Path(sys.executable).parent:
        env.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        if (master or "").startswith("local"):
            env.setdefault("PYSPARK_PYTHON", sys.executable)
    return env


if __name__ == "__main__":
    sys.exit(main())
