"""`TableStore`: read and write the warehouse's Delta tables, whichever engine commits them.

Tables live at `<warehouse>/<table_name>`. Jobs replace the `dt` partitions they produce, so a re-run
of a date replaces that date in one atomic commit; schemas are checked before anything is written.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
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
                "storage.engine = 'delta-spark' but Delta's Spark classes are not on the classpath "
                "(add --packages io.delta:delta-spark_2.13:<version> and the Delta session extension)"
            )
        return DeltaSparkEngine(spark)
    if engine == "embedded":
        return EmbeddedEngine(spark)
    if engine == "auto":
        return DeltaSparkEngine(spark) if delta_classes_available(spark) else EmbeddedEngine(spark)
    raise ValueError(f"unknown storage engine '{engine}' (auto, embedded, delta-spark)")


class TableStore:
    def __init__(
        self,
        spark: SparkSession,
        warehouse: str,
        engine: str = "auto",
        allow_schema_evolution: bool = False,
    ) -> None:
        self.spark = spark
        self.warehouse = warehouse
        self.engine = choose_engine(spark, engine)
        self.allow_schema_evolution = allow_schema_evolution

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

    def schema(self, table: str) -> T.StructType:
        return self.engine.schema(self.path(table))

    def history(self, table: str, limit: int | None = None) -> list[dict]:
        return self.engine.history(self.path(table), limit)

    def vacuum(self, table: str, retention_hours: int = DEFAULT_VACUUM_HOURS) -> list[str]:
        """Delete files no version at most `retention_hours` old refers to, and abandoned staging."""
        return self.engine.vacuum(self.path(table), retention_hours)

    # -- writing -------------------------------------------------------------------------------

    def replace_partitions(
        self,
        table: str,
        frame: DataFrame,
        dates: Sequence[dt.date] | None = None,
        before_commit: BeforeCommitHook | None = None,
    ) -> WriteResult:
        """Replace exactly the `dt` partitions in `dates` (default: those `frame` has) in one commit.

        A date in `dates` with no rows in `frame` is emptied; a row outside `dates` is an error.
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
        return self._write(table, frame, "replace", (PARTITION_COLUMN,), values, before_commit)

    def append(self, table: str, frame: DataFrame, partition_by: Sequence[str] = (PARTITION_COLUMN,)) -> WriteResult:
        return self._write(table, frame, "append", tuple(partition_by), None, None)

    def overwrite(
        self, table: str, frame: DataFrame, partition_by: Sequence[str] = (PARTITION_COLUMN,)
    ) -> WriteResult:
        """Replace the whole table (all partitions) in one commit."""
        return self._write(table, frame, "overwrite", tuple(partition_by), None, None)

    def _write(
        self,
        table: str,
        frame: DataFrame,
        mode: str,
        partition_by: tuple[str, ...],
        values: list[str] | None,
        before_commit: BeforeCommitHook | None,
    ) -> WriteResult:
        location = self.path(table)
        embedded = isinstance(self.engine, EmbeddedEngine)
        # The version the schema is checked against is the one the write starts from: a commit
        # after it that touches the same partitions makes this write a conflict.
        read_version = self.engine.version(location) if embedded else None
        frame, added = self._conform(table, location, frame, partition_by)
        operation = f"cobuy {mode} {table}" + (f" {PARTITION_COLUMN} in {values}" if values else "")
        if embedded:
            kwargs = {"read_version": read_version, "add_fields": added}
        else:
            kwargs = {"merge_schema": bool(added)}
        version, replaced = self.engine.write(
            location, frame, mode, partition_by, values, operation, before_commit, **kwargs
        )
        log.info("wrote %s (%s, %s) -> version %s", table, self.engine_name, mode, version)
        return WriteResult(table, location, version, mode, replaced)

    def _conform(
        self, table: str, location: str, frame: DataFrame, partition_by: tuple[str, ...]
    ) -> tuple[DataFrame, tuple[T.StructField, ...]]:
        """Check `frame` against the table's schema; order its columns like the table's.

        Returns the frame to write and the columns it adds to the table (additive evolution, only
        when allowed). The engine adds those columns after the Spark job succeeded, so a failed write
        leaves the schema as it was. A non-nullable table column fails the Spark job on a null, as
        Delta's own writers do.
        """
        if not self.engine.exists(location):
            return frame, ()
        existing_partitions = self.engine.partition_columns(location)
        if list(existing_partitions) != list(partition_by):
            raise SchemaMismatchError(
                f"table '{table}' at {location} is partitioned by {existing_partitions}, "
                f"the write asks for {list(partition_by)}; nothing was written"
            )
        table_schema = self.engine.schema(location)
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
        columns = [
            _enforce_not_null(table, f.name) if not f.nullable and frame_fields[f.name].nullable else F.col(f"`{f.name}`")
            for f in table_schema.fields
        ]
        return frame.select(*columns, *[F.col(f"`{f.name}`") for f in added]), added


def _enforce_not_null(table: str, column: str) -> Column:
    """The column, failing the Spark job (so nothing is written) when it holds a null."""
    value = F.col(f"`{column}`")
    message = f"table '{table}': column '{column}' is NOT NULL in the table but the DataFrame has a null there"
    return F.when(value.isNull(), F.raise_error(F.lit(message))).otherwise(value).alias(column)
