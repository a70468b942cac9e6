"""Table maintenance: compact small files and vacuum what no version within the retention needs.

    spark-submit jobs/maintenance.py --env local --date 2024-03-31 [--set retention_hours=336]

Runs weekly in the Airflow DAG. Writes one `maintenance_log` row per table (maintained, or not_written yet) with dt = --date.
Retention, and what it means for time travel and erasure requests: docs/storage.md.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lib.config import ConfigError, JobConfig
from lib.jobkit import config_from_args, job_parser, open_store, run_job
from lib.outputs import start_run, write_outputs
from lib.schemas.maintenance import MAINTENANCE_LOG, STATUS_MAINTAINED
from lib.storage.maintenance import maintain_tables, maintenance_log

JOB = "maintenance"
MIN_RETENTION_HOURS = 168  # Delta's own floor: a week of time travel and room for slow readers
log = logging.getLogger(f"cobuy.{JOB}")


@dataclass(frozen=True)
class MaintenanceParams:
    # Warehouse tables to maintain; empty = every table of the catalogue. A table not yet written is logged as such.
    maintained_tables: tuple[str, ...] = ()
    retention_hours: int = MIN_RETENTION_HOURS
    compact: bool = True
    allow_short_retention: bool = False  # tests and one-off erasures only
    parallel_tables: int = 4  # tables maintained side by side (driver-side listing and log replay)


def validate(params: MaintenanceParams, source: str) -> None:
    if params.parallel_tables < 1:
        raise ConfigError(f"{source}: key 'parallel_tables' must be >= 1, got {params.parallel_tables}")
    if params.retention_hours < 0:
        raise ConfigError(f"{source}: key 'retention_hours' must be >= 0, got {params.retention_hours}")
    if params.retention_hours < MIN_RETENTION_HOURS and not params.allow_short_retention:
        raise ConfigError(
            f"{source}: key 'retention_hours' is {params.retention_hours}, below {MIN_RETENTION_HOURS}: readers "
            "and time travel older than that would break; set allow_short_retention = true to mean it"
        )


def parse_args(argv: Sequence[str]) -> JobConfig[MaintenanceParams]:
    parser = job_parser(JOB, "Compact and vacuum the warehouse's tables.")
    return config_from_args(JOB, MaintenanceParams, parser.parse_args(argv), validate=validate)


def run(spark: SparkSession, config: JobConfig[MaintenanceParams]) -> str:
    params, tables = config.params, config.catalog()
    job_run, store = start_run(JOB, config.run_date), open_store(spark, config)
    names = params.maintained_tables or tuple(tables.physical(name) for name in tables.tables)
    done = maintain_tables(store, names, params.retention_hours, params.compact, params.parallel_tables)
    frame = maintenance_log(spark, done, store.engine_name, params.retention_hours, config.run_date)
    write_outputs(store, tables, {MAINTENANCE_LOG: frame}, job_run)
    maintained = sum(m.status == STATUS_MAINTAINED for m in done)
    vacuumed = sum(m.files_vacuumed for m in done)
    compacted = sum(m.files_compacted for m in done)
    return (
        f"{maintained} of {len(done)} tables on {store.engine_name}: {compacted} small files compacted, {vacuumed} files vacuumed "
        f"(retention {params.retention_hours} h)"
    )


def main() -> int:
    return run_job(JOB, parse_args, run)


if __name__ == "__main__":
    sys.exit(main())
