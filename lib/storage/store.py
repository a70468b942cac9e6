"""`TableStore`: read and write the warehouse's Delta tables, whichever engine commits them.

Tables live at `<warehouse>/<table_name>`. Jobs replace the `dt` partitions they produce, so a re-run
of a date replaces that date in one atomic commit; schemas are checked before anything is written.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.config import join_path
from lib.session import delta_classes_available
from lib.storage.delta_spark import DeltaSparkEngine
from lib.storage.embedded import BeforeCommitHook, EmbeddedEngine
from lib.storage.errors import SchemaMismatchError, TableNotFoundError, WriteError
from lib.storage.schema_check import diff_schemas

PARTITION_COLUMN = "dt"
DEFAULT_VACUUM_HOURS = 168

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WriteResult:
    table: str
    location: str
    version: int
    mode: str
    partitions: tuple[str, ...]


def choose_engine(spark: SparkSession, engine: str) -> EmbeddedEngine | DeltaSparkEngine:
    if engine == "delta-spark":
        if not delta_classes_available(spark):
            raise WriteError(
                "storage.engine = 'delta-spark' but Delta's Spark classes are not on the classpath: "
                "locally run `make setup` (jars/spark/, loaded by conf/env/local.toml); on a cluster add "
                "--packages io.delta:delta-spark_4.2_2.13:4.4.0 and the Delta session extension and catalog "
                "(lib.session.DELTA_SPARK_CONF); or set storage.engine = \"embedded\""
            )
        return DeltaSparkEngine(spark)
    if engine == "embedded":
        return EmbeddedEngine(spark)
    if engine == "auto":
        return DeltaSparkEngine(spark) if delta_classes_available(spark) else EmbeddedEngine(spark)
    raise ValueError(f"unknown storage engine '{engine}' (auto, embedded, delta-spark)")


def nested_nullable(data_type: T.DataType) -> T.DataType:
    """`data_type` with every array element, map value and nested struct field nullable."""
    if isinstance(data_type, T.ArrayType):
        return T.ArrayType(nested_nullable(data_type.elementType), True)
    if isinstance(data_type, T.MapType):
        return T.MapType(nested_nullable(data_type.keyType), nested_nullable(data_type.valueType), True)
    if isinstance(data_type, T.StructType):
        return T.StructType([T.StructField(f.name, nested_nullable(f.dataType), True) for f in data_type])
    return data_type


class TableStore:
    def __init__(
        self,
        spark: SparkSession,
        warehouse: str,
        engine: str = "auto",
        allow_schema_evolution: bool = False,
        pinned_tables: Iterable[str] = (),
    ) -> None:
        self.spark = spark
        self.warehouse = warehouse
        self.engine = choose_engine(spark, engine)
        self.allow_schema_evolution = allow_schema_evolution
        # Tables `read_snapshot` reads once for this store's life (a job's): see read_snapshot.
        self.pinned_tables = frozenset(pinned_tables)
        self._snapshots: dict[str, DataFrame] = {}

    @property
    def engine_name(self) -> str:
        return self.engine.name

    def path(self, table: str) -> str:
        return join_path(self.warehouse, table)

    def exists(self, table: str) -> bool:
        return self.engine.exists(self.path(table))

    # -- reading -------------------------------------------------------------------------------

    def read(
        self,
        table: str,
        start: dt.date | None = None,
        end: dt.date | None = None,
        version: int | None = None,
        empty_schema: T.StructType | None = None,
    ) -> DataFrame:
        """Read a table, pruned to `start <= dt <= end` when given, or as of `version`.

        `empty_schema` makes a table that does not exist yet read as empty instead of failing.
        """
        location = self.path(table)
        if not self.engine.exists(location):
            if empty_schema is not None:
                return self.spark.createDataFrame([], empty_schema)
            raise TableNotFoundError(f"table '{table}' does not exist at {location}")
        return self.engine.read(location, PARTITION_COLUMN, start, end, version)

    def read_snapshot(self, table: str) -> DataFrame:
        """A pinned table at the version this store first read (cached, kept until this store writes
        it); any other table as it is now. A job's store pins the run log, so all its inputs come from
        one set of runs and the log's small files are scanned once, not per input. The version is
        fixed, so cached blocks an executor loses are recomputed from the same snapshot."""
        if table not in self.pinned_tables:
            return self.read(table)
        if table not in self._snapshots:
            self._snapshots[table] = self.read(table, version=self.version(table)).cache()
        return self._snapshots[table]

    def schema(self, table: str) -> T.StructType:
        return self.engine.schema(self.path(table))

    def version(self, table: str) -> int:
        """The table's latest committed version (-1 when there is no table): from Delta's log, no Spark job."""
        return self.engine.version(self.path(table))

    def history(self, table: str, limit: int | None = None) -> list[dict]:
        return self.engine.history(self.path(table), limit)

    def vacuum(self, table: str, retention_hours: int = DEFAULT_VACUUM_HOURS) -> int:
        """Delete files no version at most `retention_hours` old refers to, and abandoned staging;
        returns how many files (and staging folders) were deleted."""
        return self.engine.vacuum(self.path(table), retention_hours)

    def compact(self, table: str) -> dict[str, int]:
        """Rewrite the table's small files into fewer big ones (same rows, one new version)."""
        return self.engine.compact(self.path(table))

    # -- writing -------------------------------------------------------------------------------

    def replace_partitions(
        self,
        table: str,
        frame: DataFrame,
        dates: Sequence[dt.date] | None = None,
        before_commit: BeforeCommitHook | None = None,
        schema: T.StructType | None = None,
    ) -> WriteResult:
        """Replace exactly the `dt` partitions in `dates` (default: those `frame` has) in one commit.

        A date in `dates` with no rows in `frame` is emptied; a row outside `dates` is an error.
        `schema` is the table's declared schema (lib/schemas): a first write creates the table with
        it, so its NOT NULL columns are NOT NULL in the table from the start.
        """
        if PARTITION_COLUMN not in frame.columns:
            raise SchemaMismatchError(f"table '{table}': the DataFrame has no '{PARTITION_COLUMN}' column")
        dt_type = frame.schema[PARTITION_COLUMN].dataType
        if not isinstance(dt_type, T.DateType):
            raise SchemaMismatchError(
                f"table '{table}': column '{PARTITION_COLUMN}' must be date, got {dt_type.simpleString()}; "
                "nothing was written"
            )
        if dates is not None and any(isinstance(d, dt.datetime) or not isinstance(d, dt.date) for d in dates):
            raise WriteError(f"table '{table}': dates must be datetime.date values, got {list(dates)!r}")
        values = None if dates is None else sorted({d.isoformat() for d in dates})
        return self._write(table, frame, "replace", (PARTITION_COLUMN,), values, before_commit, schema)

    def append(
        self,
        table: str,
        frame: DataFrame,
        partition_by: Sequence[str] = (PARTITION_COLUMN,),
        schema: T.StructType | None = None,
    ) -> WriteResult:
        return self._write(table, frame, "append", tuple(partition_by), None, None, schema)

    def overwrite(
        self,
        table: str,
        frame: DataFrame,
        partition_by: Sequence[str] = (PARTITION_COLUMN,),
        schema: T.StructType | None = None,
    ) -> WriteResult:
        """Replace the whole table (all partitions, whatever the session's partitionOverwriteMode)."""
        return self._write(table, frame, "overwrite", tuple(partition_by), None, None, schema)

    def _write(
        self,
        table: str,
        frame: DataFrame,
        mode: str,
        partition_by: tuple[str, ...],
        values: list[str] | None,
        before_commit: BeforeCommitHook | None,
        declared: T.StructType | None = None,
    ) -> WriteResult:
        location = self.path(table)
        embedded = isinstance(self.engine, EmbeddedEngine)
        if declared is not None:  # Delta has no NOT NULL inside arrays and maps: top-level columns only
            declared = T.StructType([T.StructField(f.name, nested_nullable(f.dataType), f.nullable) for f in declared])
        if before_commit is not None and not embedded:
            raise WriteError(f"table '{table}': before_commit hooks exist only on the embedded engine")
        # The version the schema is checked against is the one the write starts from: a commit
        # after it that touches the same partitions makes this write a conflict.
        read_version = self.engine.version(location) if embedded else None
        frame, added, table_schema = self._conform(table, location, frame, partition_by, declared)
        operation = f"cobuy {mode} {table}" + (f" {PARTITION_COLUMN} in {values}" if values else "")
        if embedded:
            kwargs = {"read_version": read_version, "add_fields": added, "table_schema": table_schema}
        else:
            allowed = values if mode == "replace" else None
            frame = frame.select(
                *[_checked_partition(table, c, allowed if c == PARTITION_COLUMN else None)
                  if c in partition_by else F.col(f"`{c}`") for c in frame.columns]
            )
            kwargs = {"merge_schema": bool(added), "table_schema": table_schema}
        stale = self._snapshots.pop(table, None)
        if stale is not None:
            stale.unpersist()
        version, replaced = self.engine.write(
            location, frame, mode, partition_by, values, operation, before_commit, **kwargs
        )
        log.info("wrote %s (%s, %s) -> version %s", table, self.engine_name, mode, version)
        return WriteResult(table, location, version, mode, replaced)

    def _conform(
        self,
        table: str,
        location: str,
        frame: DataFrame,
        partition_by: tuple[str, ...],
        declared: T.StructType | None = None,
    ) -> tuple[DataFrame, tuple[T.StructField, ...], T.StructType]:
        """Check `frame` against the table's schema (or the declared one, for a new table); order
        its columns like the table's.

        Returns the frame to write, the columns it adds to the table (additive evolution, only when
        allowed) and the schema the table has after the write: the table's (or declared) schema,
        nullability included, plus the added columns - never the frame's nullability. The engine
        adds the columns after the Spark job succeeded, so a failed write leaves the schema as it
        was. A NOT NULL column fails the Spark job on a null, as Delta's own writers do.
        """
        if not self.engine.exists(location):
            if declared is None:
                return frame, (), frame.schema
            return self._conform_to(table, location, frame, declared, new_table=True)
        existing_partitions = self.engine.partition_columns(location)
        if list(existing_partitions) != list(partition_by):
            raise SchemaMismatchError(
                f"table '{table}' at {location} is partitioned by {existing_partitions}, "
                f"the write asks for {list(partition_by)}; nothing was written"
            )
        return self._conform_to(table, location, frame, self.engine.schema(location), new_table=False)

    def _conform_to(
        self, table: str, location: str, frame: DataFrame, table_schema: T.StructType, new_table: bool
    ) -> tuple[DataFrame, tuple[T.StructField, ...], T.StructType]:
        diff = diff_schemas(table_schema, frame.schema)
        added: tuple[T.StructField, ...] = ()
        if not diff.is_empty:
            if not (diff.is_additive and self.allow_schema_evolution):
                hint = "" if not diff.is_additive else " (set storage.allow_schema_evolution = true to add them)"
                raise SchemaMismatchError(
                    f"table '{table}' at {location}: the DataFrame's schema differs from the table's: "
                    f"{diff.describe()}{hint}; nothing was written"
                )
            added = diff.added
        frame_fields = {f.name: f for f in frame.schema.fields}
        # delta-spark checks NOT NULL itself on an existing table; the embedded engine needs the check.
        check_here = new_table or isinstance(self.engine, EmbeddedEngine)
        columns = [
            _enforce_not_null(table, f.name)
            if check_here and not f.nullable and frame_fields[f.name].nullable
            else F.col(f"`{f.name}`")
            for f in table_schema.fields
        ]
        target = T.StructType([*table_schema.fields, *added])
        return frame.select(*columns, *[F.col(f"`{f.name}`") for f in added]), added, target


def _enforce_not_null(table: str, column: str) -> Column:
    """The column, failing the Spark job (so nothing is written) when it holds a null."""
    value = F.col(f"`{column}`")
    message = f"table '{table}': column '{column}' is NOT NULL in the table but the DataFrame has a null there"
    return F.when(value.isNull(), F.raise_error(F.lit(message))).otherwise(value).alias(column)


def _checked_partition(table: str, column: str, allowed: Sequence[str] | None) -> Column:
    """The partition column, failing the Spark job (nothing is written) on a null, or on a value
    outside `allowed` - the same refusals, in the same words, as the embedded engine's."""
    value = F.col(f"`{column}`")
    null_message = f"table '{table}': rows with a null {column} cannot be written; nothing was written"
    checked = F.when(value.isNull(), F.raise_error(F.lit(null_message)))
    if allowed is not None:
        outside = F.concat(
            F.lit(f"table '{table}': the DataFrame has rows for {column} = "), value.cast("string"),
            F.lit(f", outside the partitions being replaced ({', '.join(allowed) or 'none'}); nothing was written"),
        )
        checked = checked.when(~value.cast("string").isin(list(allowed)), F.raise_error(outside))
    return checked.otherwise(value).alias(column)
