"""jobs/maintenance.py: compaction and vacuum end to end on a tiny warehouse (delta-spark, as `local`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality
from deltalake import DeltaTable

from jobs import maintenance
from lib.config import ConfigError
from lib.jobkit import EXIT_OK, run_job
from lib.schemas.maintenance import MAINTENANCE_LOG, MAINTENANCE_LOG_SCHEMA

RUN_DATE = dt.date(2024, 3, 31)
D1, D2 = dt.date(2024, 3, 30), dt.date(2024, 3, 31)
ROWS = "item_id string, quantity int, dt date"


def args(warehouse: str, *extra: str) -> list[str]:
    return [
        "--env", "local", "--date", str(RUN_DATE), "--set", f"storage.warehouse={warehouse}",
        "--set", 'maintained_tables=["t", "u", "absent"]', "--set", "retention_hours=0", "--set", "allow_short_retention=true",
        *extra,
    ]


def data_files(location: str) -> set[str]:
    root = Path(location)
    return {str(p.relative_to(root)) for p in root.rglob("*.parquet") if "_delta_log" not in p.parts}


def test_a_short_retention_needs_to_be_meant():
    with pytest.raises(ConfigError, match="retention_hours' is 0, below 168.*allow_short_retention"):
        maintenance.parse_args(["--date", str(RUN_DATE), "--set", "retention_hours=0"])
    with pytest.raises(ConfigError, match="parallel_tables' must be >= 1, got 0"):
        maintenance.parse_args(["--date", str(RUN_DATE), "--set", "parallel_tables=0"])
    defaults = maintenance.parse_args(["--date", str(RUN_DATE)]).params
    assert (defaults.retention_hours, defaults.maintained_tables, defaults.parallel_tables) == (168, (), 4)


def test_maintenance_compacts_and_vacuums_keeping_every_current_row(spark, store, warehouse):
    for quantity in (1, 2, 3):  # three small files in D1
        store.append("t", spark.createDataFrame([("a", quantity, D1)], ROWS).coalesce(1))
    store.replace_partitions("t", spark.createDataFrame([("old", 0, D2)], ROWS).coalesce(1), dates=[D2])
    store.replace_partitions("t", spark.createDataFrame([("new", 9, D2)], ROWS).coalesce(1), dates=[D2])  # 'old' file unreferenced
    store.replace_partitions("u", spark.createDataFrame([("u-old", 1, D1)], ROWS).coalesce(1), dates=[D1])
    store.replace_partitions("u", spark.createDataFrame([("u-new", 2, D1)], ROWS).coalesce(1), dates=[D1])
    rows_before = store.read("t")
    expected_rows = spark.createDataFrame([("a", 1, D1), ("a", 2, D1), ("a", 3, D1), ("new", 9, D2)], ROWS)

    assert run_job("maintenance", maintenance.parse_args, maintenance.run, args(warehouse)) == EXIT_OK

    assert_df_equality(store.read("t"), expected_rows, ignore_row_order=True, ignore_nullable=True)
    assert_df_equality(rows_before, expected_rows, ignore_row_order=True, ignore_nullable=True)
    table = DeltaTable(store.path("t"))
    referenced = {str(Path(f).relative_to(store.path("t"))) for f in table.file_uris()}
    assert data_files(store.path("t")) == referenced  # only what the current version reads is left
    assert len(referenced) == 2  # D1's three small files compacted into one, D2's current file
    # Delta 4 vacuums by the table's own retention (its RETAIN argument is ignored unless 0): the job sets it.
    assert table.metadata().configuration["delta.deletedFileRetentionDuration"] == "interval 0 hours"
    # compacted: D1's three small files into one; vacuumed: those three and D2's replaced 'old' file
    log = store.read(MAINTENANCE_LOG)
    assert {r.table_name: r.version_after is None for r in log.collect()} == {"t": False, "u": False, "absent": True}
    log = log.drop("version_after")
    expected_log = spark.createDataFrame(
        [("t", "maintained", "delta-spark", 0, 3, 1, 4, RUN_DATE),
         ("u", "maintained", "delta-spark", 0, 0, 0, 1, RUN_DATE),  # vacuumed beside t (parallel_tables 4)
         ("absent", "not_written", "delta-spark", 0, 0, 0, 0, RUN_DATE)],
        "table_name string, status string, engine string, retention_hours int, files_compacted long, files_written long, "
        "files_vacuumed long, dt date",
    )
    assert_df_equality(log, expected_log, ignore_row_order=True, ignore_nullable=True)
    assert store.schema(MAINTENANCE_LOG) == MAINTENANCE_LOG_SCHEMA


def test_a_table_at_deltas_default_retention_is_vacuumed_without_a_metadata_commit(spark, store, warehouse):
    """168 h is Delta's default retention: a table that does not set the property gets no commit for it."""
    store.replace_partitions("t", spark.createDataFrame([("a", 1, D1)], ROWS), dates=[D1])
    version = store.engine.version(store.path("t"))
    argv = ["--env", "local", "--date", str(RUN_DATE), "--set", f"storage.warehouse={warehouse}",
            "--set", 'maintained_tables=["t"]', "--set", "compact=false"]

    assert run_job("maintenance", maintenance.parse_args, maintenance.run, argv) == EXIT_OK

    assert store.engine.version(store.path("t")) == version
    assert "delta.deletedFileRetentionDuration" not in DeltaTable(store.path("t")).metadata().configuration
    [row] = store.read(MAINTENANCE_LOG).collect()
    assert (row.table_name, row.status, row.retention_hours, row.files_vacuumed, row.version_after) == (
        "t", "maintained", 168, 0, version,
    )
