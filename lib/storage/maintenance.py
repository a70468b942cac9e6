"""Table maintenance: compact small files, then vacuum files older than the retention.

Vacuum is what makes a deletion final: after it, no version older than the retention can be read
(time travel ends there) and the Parquet files of deleted rows are gone from storage. See
docs/storage.md (retention, time travel, erasure requests).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from lib.schemas.maintenance import MAINTENANCE_LOG_SCHEMA, STATUS_MAINTAINED, STATUS_NOT_WRITTEN
from lib.storage.store import TableStore


@dataclass(frozen=True)
class TableMaintenance:
    table: str
    files_compacted: int
    files_written: int
    files_vacuumed: int
    version_after: int | None  # None: the table is not written yet

    @property
    def status(self) -> str:
        return STATUS_NOT_WRITTEN if self.version_after is None else STATUS_MAINTAINED


def maintain_tables(
    store: TableStore, tables: Sequence[str], retention_hours: int, compact: bool, parallel_tables: int = 1
) -> list[TableMaintenance]:
    """Compact (when asked) and vacuum each existing table in `tables`, `parallel_tables` tables at a
    time; a table not written yet is reported with nothing done. Results are in the order of `tables`.

    Tables are independent Delta logs, so several can be maintained at once from driver threads
    (whether that pays depends on the warehouse: docs/storage.md)."""
    if parallel_tables < 1:
        raise ValueError(f"parallel_tables must be >= 1, got {parallel_tables}")

    def maintain(table: str) -> TableMaintenance:
        if not store.exists(table):
            return TableMaintenance(table, 0, 0, 0, None)
        compacted = store.compact(table) if compact else {"files_removed": 0, "files_added": 0}
        vacuumed = store.vacuum(table, retention_hours)
        version = store.version(table)
        return TableMaintenance(table, compacted["files_removed"], compacted["files_added"], vacuumed, version)

    if parallel_tables == 1 or len(tables) < 2:
        return [maintain(table) for table in tables]
    with ThreadPoolExecutor(max_workers=min(parallel_tables, len(tables)), thread_name_prefix="maintain") as pool:
        return list(pool.map(maintain, tables))


def maintenance_log(
    spark: SparkSession, done: Sequence[TableMaintenance], engine: str, retention_hours: int, run_date: dt.date
) -> DataFrame:
    """One row per table in `done` (a handful of rows: built on the driver)."""
    rows = [
        (m.table, m.status, engine, retention_hours, m.files_compacted, m.files_written, m.files_vacuumed, m.version_after, run_date)
        for m in done
    ]
    return spark.createDataFrame(rows, MAINTENANCE_LOG_SCHEMA)
