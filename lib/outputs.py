"""The shared writer and the run-consistent readers: every job's outputs go through `write_outputs`.

    run = start_run("fpgrowth", config.run_date)
    record = write_outputs(store, tables, {ASSOCIATION_RULES: rules, ...}, run)

`write_outputs` conforms every frame to its catalogue schema (columns selected and cast in catalogue
order) and checks them all before the first write, so a mismatch writes nothing. It then writes each
table through `TableStore` as the catalogue says (replace the run's dt partitions, overwrite, append)
and ends by appending one row to `job_runs` with the version of every table written. Delta has no
multi-table transaction: a run killed between two writes leaves no `complete` row, and readers that
need a consistent set (`read_consistent`) read the table versions of the latest complete run.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.catalog import OVERWRITE, REPLACE, Catalog, Table
from lib.progress import Progress
from lib.schemas.runs import JOB_RUNS, JOB_RUNS_SCHEMA, RUN_COMPLETE, RUN_FAILED
from lib.storage import SchemaMismatchError, TableStore, WriteResult

log = logging.getLogger(__name__)

# Frame type -> catalogue types it may be cast to without losing values.
_SAFE_CASTS = {
    "void": None,  # F.lit(None): any type
    "tinyint": {"smallint", "int", "bigint", "double"},
    "smallint": {"int", "bigint", "double"},
    "int": {"bigint", "double"},
    "bigint": {"double"},
    "float": {"double"},
    "date": {"timestamp"},
}


@dataclass(frozen=True)
class JobRun:
    job: str
    run_date: dt.date
    run_id: str
    started_at: dt.datetime


@dataclass(frozen=True)
class RunRecord:
    """A row of `job_runs`."""

    job: str
    run_date: dt.date
    run_id: str
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime
    table_versions: Mapping[str, int] = field(default_factory=dict)  # warehouse name -> version
    details: str | None = None


def plain(value: Any) -> Any:
    """Dataclasses, mappings (MappingProxyType too) and tuples as JSON-ready dicts and lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def start_run(job: str, run_date: dt.date, run_id: str = "") -> JobRun:
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None, microsecond=0)
    return JobRun(job, run_date, run_id or f"{job}-{run_date.isoformat()}-{uuid.uuid4().hex[:8]}", now)


def _castable(frame_type: T.DataType, table_type: T.DataType) -> bool:
    frame_name, table_name = frame_type.simpleString(), table_type.simpleString()
    if frame_name == table_name:
        return True
    allowed = _SAFE_CASTS.get(frame_name, set())
    return allowed is None or table_name in allowed


def conform(frame: DataFrame, table: Table, physical: str | None = None) -> DataFrame:
    """`frame` as `table.schema`: its columns selected and cast in catalogue order.

    Missing columns, unexpected columns and casts that could lose values raise SchemaMismatchError
    naming the table and every column concerned.
    """
    name = physical or table.name
    fields = {f.name: f for f in frame.schema.fields}
    missing = [f.name for f in table.schema.fields if f.name not in fields]
    extra = [c for c in fields if c not in table.schema.names]
    wrong = [
        f"{f.name} is {fields[f.name].dataType.simpleString()}, the catalogue says {f.dataType.simpleString()}"
        for f in table.schema.fields
        if f.name in fields and not _castable(fields[f.name].dataType, f.dataType)
    ]
    problems = ([f"missing columns {', '.join(missing)}"] if missing else []) + (
        [f"unexpected columns {', '.join(extra)}"] if extra else []
    ) + wrong
    if problems:
        raise SchemaMismatchError(f"table '{name}' ({table.producer}): {'; '.join(problems)}; nothing was written")
    # Same type but for nullability (an array's elements, a map's values): no cast, which Spark cannot
    # do towards non-null; the catalogue schema declared with the write keeps the table's nullability.
    return frame.select(*[
        (F.col(f"`{f.name}`") if fields[f.name].dataType.simpleString() == f.dataType.simpleString()
         else F.col(f"`{f.name}`").cast(f.dataType)).alias(f.name)
        for f in table.schema.fields
    ])


def _write_one(
    store: TableStore, table: Table, physical: str, frame: DataFrame, dates: Sequence[dt.date]
) -> WriteResult:
    # The catalogue's schema is declared with every write, so NOT NULL holds from a table's first write on.
    if table.write == REPLACE:
        return store.replace_partitions(physical, frame, dates=list(dates), schema=table.schema)
    if table.write == OVERWRITE:
        return store.overwrite(physical, frame, partition_by=table.partition_by, schema=table.schema)
    return store.append(physical, frame, partition_by=table.partition_by, schema=table.schema)


def write_outputs(
    store: TableStore,
    tables: Catalog,
    outputs: Mapping[str, DataFrame],
    run: JobRun,
    dates: Sequence[dt.date] | None = None,
    details: Mapping[str, Any] | None = None,
    after_write: Callable[[str, WriteResult], None] | None = None,
) -> RunRecord:
    """Conform and check every output, write them in order, then append the run to `job_runs`.

    `outputs` maps logical table names (catalogue keys) to frames; `dates` are the dt partitions
    replaced (default: the run date). `details` (JSON-able) is recorded with the run, e.g. the
    parameters it used. A failure after some writes appends a `failed` row and re-raises.
    """
    dates = list(dates) if dates is not None else [run.run_date]
    conformed = {name: conform(frame, tables.table(name), tables.physical(name)) for name, frame in outputs.items()}
    versions: dict[str, int] = {}
    details_json = json.dumps(plain(details), sort_keys=True, default=str) if details is not None else None
    progress = Progress(run.job, log)  # one line per table: the writes are where the lazy flow runs
    try:
        for name, frame in conformed.items():
            physical = tables.physical(name)
            with progress.stage(f"write {physical}"):
                result = _write_one(store, tables.table(name), physical, frame, dates)
            versions[physical] = int(result.version)
            if after_write is not None:
                after_write(name, result)
    except BaseException:
        failed = _record(run, RUN_FAILED, versions, details_json)
        try:
            append_run(store, tables, failed)
        except Exception:  # noqa: BLE001 - the original error matters more
            log.exception("%s %s: could not record the failed run", run.job, run.run_id)
        raise
    record = _record(run, RUN_COMPLETE, versions, details_json)
    append_run(store, tables, record)
    return record


def _record(run: JobRun, status: str, versions: Mapping[str, int], details: str | None) -> RunRecord:
    finished = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return RunRecord(run.job, run.run_date, run.run_id, status, run.started_at, finished, dict(versions), details)


def append_run(store: TableStore, tables: Catalog, record: RunRecord) -> None:
    row = (
        record.job, record.run_date, record.run_id, record.status, record.started_at, record.finished_at,
        dict(record.table_versions), record.details, record.run_date,
    )
    frame = store.spark.createDataFrame([row], JOB_RUNS_SCHEMA)
    store.append(tables.physical(JOB_RUNS), frame, partition_by=tables.table(JOB_RUNS).partition_by,
                 schema=JOB_RUNS_SCHEMA)


# ---------------------------------------------------------------------------------------------
# Reading what whole runs wrote


def latest_complete_run(
    store: TableStore,
    tables: Catalog,
    job: str,
    on_or_before: dt.date | None = None,
    before: dt.date | None = None,
    writing: str | None = None,
) -> RunRecord | None:
    """The newest `complete` run of `job` (run date within the bounds; having written `writing`)."""
    physical = tables.physical(JOB_RUNS)
    if not store.exists(physical):
        return None
    # One snapshot of the run log per store: every input of a job is read as the same runs left it.
    runs = store.read_snapshot(physical).where((F.col("job") == F.lit(job)) & (F.col("status") == F.lit(RUN_COMPLETE)))
    if on_or_before is not None:
        runs = runs.where(F.col("run_date") <= F.lit(on_or_before))
    if before is not None:
        runs = runs.where(F.col("run_date") < F.lit(before))
    if writing is not None:
        runs = runs.where(F.element_at(F.col("table_versions"), F.lit(tables.physical(writing))).isNotNull())
    newest = runs.orderBy(F.col("finished_at").desc(), F.col("run_id").desc()).limit(1).collect()
    if not newest:
        return None
    row = newest[0]
    return RunRecord(
        row["job"], row["run_date"], row["run_id"], row["status"], row["started_at"], row["finished_at"],
        dict(row["table_versions"]), row["details"],
    )


def read_consistent(
    store: TableStore,
    tables: Catalog,
    name: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
    run_on_or_before: dt.date | None = None,
    run_before: dt.date | None = None,
    empty_if_missing: bool = False,
) -> tuple[DataFrame, RunRecord | None]:
    """Table `name` as the latest complete run of its producer left it (time travel), and that run.

    A table with no complete run recorded (written before job_runs existed, or by hand) is read at
    its newest version, and None is returned as the run. Run-date bounds pick an older run (the
    ALS job reads the bought_together of a fpgrowth run dated before its own date).
    """
    table, physical = tables.table(name), tables.physical(name)
    run = latest_complete_run(store, tables, table.producer, run_on_or_before, run_before, writing=name)
    if not store.exists(physical):
        if empty_if_missing:
            return store.spark.createDataFrame([], table.schema), None
        return store.read(physical), None  # raises TableNotFoundError naming the table
    if run is None and (run_on_or_before is not None or run_before is not None) and _has_runs(store, tables, table.producer):
        return store.spark.createDataFrame([], table.schema), None  # runs exist, none in the bounds
    version = run.table_versions.get(physical) if run is not None else None
    return store.read(physical, start=start, end=end, version=version), run


def _has_runs(store: TableStore, tables: Catalog, job: str) -> bool:
    physical = tables.physical(JOB_RUNS)
    return store.exists(physical) and bool(store.read_snapshot(physical).where(F.col("job") == F.lit(job)).limit(1).collect())


def read_inputs(
    store: TableStore, tables: Catalog, names: Iterable[str], run_on_or_before: dt.date | None = None
) -> dict[str, DataFrame]:
    """Each name that is a catalogued table, read as its producer's latest complete run left it.

    Candidate sources declare their inputs by name (lib.recs.serving.CandidateSource.inputs); names
    that are not tables (derived inputs such as `companions`) are left to the caller.
    """
    return {
        name: read_consistent(store, tables, name, run_on_or_before=run_on_or_before, empty_if_missing=True)[0]
        for name in sorted(set(names))
        if name in tables.tables
    }
