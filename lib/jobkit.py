"""The shape every job shares: `parse_args(argv) -> JobConfig`, `run(spark, config)`, `main()`.

    spark-submit jobs/<name>.py --env local|cluster --date YYYY-MM-DD [--set key=value ...]
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pyspark.sql import SparkSession

from lib.config import ConfigError, JobConfig, load_job_config
from lib.session import build_session
from lib.schemas.runs import JOB_RUNS
from lib.storage import TableStore

P = TypeVar("P")
log = logging.getLogger("cobuy")

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_CONFIG = 2


def iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): '{text}'") from None


def job_parser(job: str, description: str, date_required: bool = True) -> argparse.ArgumentParser:
    """The common arguments; a job adds its own before calling `config_from_args`."""
    parser = argparse.ArgumentParser(prog=f"jobs/{job}.py", description=description)
    parser.add_argument("--env", default="local", help="environment overlay: conf/env/<env>.toml")
    parser.add_argument(
        "--date", type=iso_date, required=date_required, help="run date (YYYY-MM-DD), written as dt"
    )
    parser.add_argument(
        "--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
        help="override a config key (dotted for nested keys; spark.* keys go to the Spark conf)",
    )
    parser.add_argument("--conf-dir", type=Path, default=None, help="config folder (default: ./conf)")
    return parser


def config_from_args(
    job: str,
    params_type: type[P],
    args: argparse.Namespace,
    extra_overrides: Sequence[str] = (),
    shared: tuple[str, ...] = (),
    validate: Callable[[P, str], object] | None = None,
) -> JobConfig[P]:
    """The job's merged config; `validate(params, source)` (raising ConfigError) runs on it before any Spark."""
    config = load_job_config(
        job, params_type, env=args.env, run_date=args.date,
        overrides=[*args.overrides, *extra_overrides], config_dir=args.conf_dir, shared=shared,
    )
    if validate is not None:
        validate(config.params, config.sources[0] if config.sources else job)
    try:
        config.catalog()  # unknown or clashing [tables] names fail here, before any Spark
    except (KeyError, ValueError) as error:
        raise ConfigError(str(error).strip("'\"")) from None
    return config


def open_store(spark: SparkSession, config: JobConfig[Any]) -> TableStore:
    """The job's TableStore, on the environment's warehouse and engine, with the run log pinned: the
    job reads every input as one set of complete runs left it (TableStore.read_snapshot)."""
    storage = config.storage
    return TableStore(spark, storage.warehouse, storage.engine, storage.allow_schema_evolution,
                      pinned_tables=(config.catalog().physical(JOB_RUNS),))


def configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)


def run_job(
    job: str,
    parse_args: Callable[[Sequence[str]], JobConfig[Any]],
    run: Callable[[SparkSession, JobConfig[Any]], Any],
    argv: Sequence[str] | None = None,
    session_factory: Callable[[str, Mapping[str, str]], SparkSession] | None = None,
) -> int:
    """Parse, build the session, run, log a one-line summary; the exit code tells the scheduler.

    0 ok, 1 the run failed, 2 bad configuration or arguments. The session is stopped at the end
    only if this call created it: a session that was already running (a test suite's, a notebook's)
    is left alone. `session_factory(app_name, spark_conf)` replaces `build_session` (tests).
    """
    configure_logging()
    try:
        config = parse_args(list(sys.argv[1:] if argv is None else argv))
    except ConfigError as error:
        log.error("%s: bad configuration: %s", job, error)
        return EXIT_BAD_CONFIG
    except SystemExit as exit_:  # argparse: --help (0) or bad arguments (2, already printed)
        return exit_.code if isinstance(exit_.code, int) else EXIT_BAD_CONFIG
    started = time.monotonic()
    already_running = SparkSession.getActiveSession()
    factory = session_factory or build_session
    try:
        spark = factory(f"cobuy-{job}-{config.run_date}", config.spark_conf)
    except Exception as error:  # noqa: BLE001 - no session, no run: say why and fail
        log.exception("%s %s: could not start Spark: %s", job, config.run_date, error)
        return EXIT_FAILED
    owns_session = session_factory is None and spark is not already_running
    if owns_session:
        spark.sparkContext.setLogLevel(config.spark_conf.get("spark.cobuy.logLevel", "WARN"))
    try:
        summary = run(spark, config)
    except Exception as error:  # noqa: BLE001 - any failure must end the job non-zero
        log.exception("%s %s failed: %s", job, config.run_date, error)
        return EXIT_FAILED
    finally:
        if owns_session:
            spark.stop()
    log.info("%s %s ok in %.1fs: %s", job, config.run_date, time.monotonic() - started, summary)
    return EXIT_OK
