"""The embedded Delta engine: Spark writes the Parquet files, delta-rs commits them to the log.

Used where Delta's Spark classes are not on the classpath (a laptop, CI). A write goes in three steps:
1. Spark writes the DataFrame as Parquet into `<table>/_staging/<write_id>/` (invisible to readers:
   Delta ignores paths starting with `_`, and nothing there is in the log);
2. the staged files are renamed into `<table>/<col>=<value>/` and their stats read from the footers;
3. one Delta commit adds them and removes the replaced partitions' files.
Until step 3 succeeds the table is unchanged; a failure removes the files of this write, and a kill
leaves only unreferenced files that `vacuum` deletes.

Concurrency is optimistic, as in Delta: the write remembers the version it started from; at commit,
any later commit that touched one of its partitions (or changed the schema or partitioning) makes it a
`WriteConflictError`, otherwise it commits on top of the latest version (retrying when another writer
gets in first). Additive schema evolution commits the new columns just before the data, after the
Spark job succeeded (two versions: delta-rs cannot change the schema inside a write transaction).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow.parquet as pq
from deltalake import DeltaTable, Schema
from deltalake.exceptions import CommitFailedError, TableNotFoundError as DeltaRsTableNotFound
from deltalake.transaction import AddAction, CommitProperties, create_table_with_add_actions
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lib.storage.errors import TableNotFoundError, WriteConflictError, WriteError

STAGING_DIR = "_staging"
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"
MAX_COMMIT_ATTEMPTS = 5
STATS_STRING_LIMIT = 32  # Delta truncates string stats; we leave longer strings out instead

BeforeCommitHook = Callable[[list[AddAction]], None]


def local_path(location: str) -> Path:
    parsed = urlparse(location)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else location)
    raise WriteError(
        f"the embedded Delta engine writes only to local paths, not '{location}'; "
        "use storage.engine = \"delta-spark\" with Delta's jars on the cluster"
    )


class EmbeddedEngine:
    name = "embedded"

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    # -- reading -------------------------------------------------------------------------------

    def exists(self, location: str) -> bool:
        return DeltaTable.is_deltatable(location)

    def _open(self, location: str, version: int | None = None) -> DeltaTable:
        try:
            return DeltaTable(location, version=version)
        except DeltaRsTableNotFound:
            raise TableNotFoundError(f"no Delta table at {location}") from None

    def schema(self, location: str) -> T.StructType:
        return T.StructType.fromJson(json.loads(self._open(location).schema().to_json()))

    def partition_columns(self, location: str) -> list[str]:
        return list(self._open(location).metadata().partition_columns)

    def read(
        self,
        location: str,
        partition_col: str | None,
        start: dt.date | None,
        end: dt.date | None,
        version: int | None,
    ) -> DataFrame:
        table = self._open(location, version)
        schema = T.StructType.fromJson(json.loads(table.schema().to_json()))
        partitions = list(table.metadata().partition_columns)
        filters = []
        if partition_col and partition_col in partitions:
            if start is not None:
                filters.append((partition_col, ">=", start.isoformat()))
            if end is not None:
                filters.append((partition_col, "<=", end.isoformat()))
        files = table.file_uris(file_pruning_predicate=filters or None)  # partition pruning in the listing
        if not files:
            return self.spark.createDataFrame([], schema)
        reader = self.spark.read.schema(schema)
        if partitions:
            # Partition values come from the `col=value/` directories this engine always writes.
            reader = reader.option("basePath", location)
        frame = reader.parquet(*files)
        return frame.select(*[f.name for f in schema.fields])

    def history(self, location: str, limit: int | None) -> list[dict]:
        return self._open(location).history(limit)

    def vacuum(self, location: str, retention_hours: int) -> int:
        table = self._open(location)
        removed = table.vacuum(
            retention_hours=retention_hours, dry_run=False, enforce_retention_duration=False, full=True
        )
        cutoff = time.time() - retention_hours * 3600
        staging = local_path(location) / STAGING_DIR
        for leftover in staging.glob("*") if staging.exists() else []:
            if leftover.stat().st_mtime <= cutoff:
                shutil.rmtree(leftover, ignore_errors=True)
                removed.append(str(leftover.relative_to(local_path(location))))
        _remove_if_empty(staging)
        return len(removed)

    def compact(self, location: str) -> dict[str, int]:
        """Rewrite small files into bigger ones with delta-rs (one new version, same rows)."""
        metrics = self._open(location).optimize.compact(
            commit_properties=CommitProperties(custom_metadata={"cobuy.operation": "cobuy compact"})
        )
        return {"files_added": int(metrics.get("numFilesAdded", 0)), "files_removed": int(metrics.get("numFilesRemoved", 0))}

    def add_columns(self, location: str, fields: Sequence[T.StructField]) -> None:
        from deltalake.schema import Field

        delta_fields = [Field.from_json(json.dumps(f.jsonValue())) for f in fields]
        self._open(location).alter.add_columns(delta_fields)

    # -- writing -------------------------------------------------------------------------------

    def version(self, location: str) -> int:
        """The table's latest version, -1 when there is no table yet."""
        return DeltaTable(location).version() if DeltaTable.is_deltatable(location) else -1

    def write(
        self,
        location: str,
        frame: DataFrame,
        mode: str,
        partition_by: Sequence[str],
        replace_values: Sequence[str] | None,
        operation: str,
        before_commit: BeforeCommitHook | None = None,
        read_version: int | None = None,
        add_fields: Sequence[T.StructField] = (),
        table_schema: T.StructType | None = None,
    ) -> tuple[int, tuple[str, ...]]:
        """Write and commit; return the new version and the partitions replaced.

        `mode` is append | overwrite | replace (the `replace_values` of the first partition column).
        `read_version` is the version the caller checked the schema against (default: the latest
        when the write starts): a commit after it that touches what this write replaces is a
        conflict. `add_fields` are columns to add to the table (additive schema evolution); they
        are committed only after the Spark job succeeded, just before the data. `table_schema` is
        the schema the log records (the table's, with its NOT NULL columns; default: the frame's).

        A failure whose outcome is unknown (an exception after the log entry may have landed) is
        settled by reading the log: if this write's commit is there, the write succeeded and its
        files stay; if the log cannot be read, the files stay too (vacuum removes them if orphaned).
        """
        root = local_path(location)
        if read_version is None:
            read_version = self.version(location)
        write_id = f"{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}"
        staging = root / STAGING_DIR / write_id
        placed: list[Path] = []
        committed = False
        try:
            writer = frame.write.mode("overwrite").option("compression", "snappy")
            if partition_by:
                writer = writer.partitionBy(*partition_by)
            writer.parquet(str(staging))
            staged = self._staged_files(root, staging, partition_by)  # validated before anything moves
            if mode == "replace":
                written = sorted({str(values[partition_by[0]]) for _, _, values in staged})
                if replace_values is None:
                    replace_values = written
                self._check_partitions_within(written, partition_by[0], replace_values, location)
                if not replace_values and DeltaTable.is_deltatable(location):
                    return DeltaTable(location).version(), ()  # nothing to replace or add
            actions, placed = self._place_staged_files(root, staged, write_id, placed)
            if before_commit is not None:
                before_commit(actions)
            version = self._commit(
                location, table_schema or frame.schema, actions, mode, partition_by, replace_values, operation,
                read_version=read_version, write_id=write_id, add_fields=tuple(add_fields),
            )
            committed = True
            return version, tuple(replace_values or ())
        except _Committed as landed:
            # The commit landed but something after it failed: the files are the table's now.
            committed = True
            return landed.version, tuple(replace_values or ())
        except BaseException:
            if placed:
                try:
                    landed_version = self._find_commit(location, read_version, write_id)
                except Exception:  # noqa: BLE001 - unknown outcome: never delete what may be referenced
                    committed = True
                    raise
                if landed_version is not None:
                    committed = True  # the commit landed before the failure: the write succeeded
                    return landed_version, tuple(replace_values or ())
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            if not committed:
                for path in placed:
                    path.unlink(missing_ok=True)
                for directory in sorted({p.parent for p in placed}, key=lambda d: -len(d.parts)):
                    _remove_if_empty(directory)  # partition folders this write created, if now empty
            _remove_if_empty(root / STAGING_DIR)
            _remove_if_empty(root)  # a first write that failed leaves no empty table folder

    @staticmethod
    def _check_partitions_within(
        written: Sequence[str], column: str, allowed: Sequence[str], location: str
    ) -> None:
        outside = sorted(set(written) - set(allowed))
        if outside:
            raise WriteError(
                f"{location}: the DataFrame has rows for {column} = {', '.join(outside)}, outside the "
                f"partitions being replaced ({', '.join(allowed) or 'none'}); nothing was written"
            )

    @staticmethod
    def _staged_files(
        root: Path, staging: Path, partition_by: Sequence[str]
    ) -> list[tuple[Path, Path, dict[str, str | None]]]:
        """(staged file, its partition folder, partition values) for every file Spark wrote."""
        staged = []
        for path in sorted(staging.rglob("*.parquet")):
            relative_dir = path.parent.relative_to(staging)
            partition_values: dict[str, str | None] = {}
            for part in relative_dir.parts:
                key, _, raw = part.partition("=")
                value = unquote(raw)
                partition_values[key] = None if value == NULL_PARTITION else value
            if any(partition_values.get(c) is None for c in partition_by):
                raise WriteError(
                    f"{root}: rows with a null {', '.join(partition_by)} cannot be written; nothing was written"
                )
            staged.append((path, relative_dir, partition_values))
        return staged

    @staticmethod
    def _place_staged_files(
        root: Path,
        staged: list[tuple[Path, Path, dict[str, str | None]]],
        write_id: str,
        placed: list[Path],
    ) -> tuple[list[AddAction], list[Path]]:
        """Move the staged files into their partition folders; `placed` records each move at once,
        so a failure part-way still lets the caller remove what was moved."""
        actions: list[AddAction] = []
        now_ms = int(time.time() * 1000)
        for index, (path, relative_dir, partition_values) in enumerate(staged):
            target_dir = root / relative_dir
            target_dir.mkdir(parents=True, exist_ok=True)
            target = target_dir / f"part-{index:05d}-{write_id}.snappy.parquet"
            os.replace(path, target)
            placed.append(target)
            actions.append(
                AddAction(
                    path=str(target.relative_to(root)),
                    size=target.stat().st_size,
                    partition_values=partition_values,
                    modification_time=now_ms,
                    data_change=True,
                    stats=file_stats(target),
                )
            )
        return actions, placed

    def _commit(
        self,
        location: str,
        spark_schema: T.StructType,
        actions: list[AddAction],
        mode: str,
        partition_by: Sequence[str],
        replace_values: Sequence[str] | None,
        operation: str,
        read_version: int = -1,
        write_id: str = "",
        add_fields: Sequence[T.StructField] = (),
    ) -> int:
        """One Delta commit of `actions`, or WriteConflictError when a commit after `read_version`
        touched what this write replaces (optimistic concurrency, as Delta itself does)."""
        schema = Schema.from_json(spark_schema.json())
        metadata = {"cobuy.operation": operation, "cobuy.write_id": write_id}
        properties = CommitProperties(custom_metadata=metadata, max_commit_retries=0)
        if read_version < 0 and not DeltaTable.is_deltatable(location):
            try:
                create_table_with_add_actions(
                    location, schema, actions, mode="error", partition_by=list(partition_by),
                    commit_properties=properties,
                )
                return 0
            except Exception as error:  # noqa: BLE001 - a concurrent creator won: fall through
                if not DeltaTable.is_deltatable(location):
                    raise WriteError(f"{location}: could not create the table: {error}") from error
                if self._find_commit(location, -1, write_id) is not None:
                    raise _Committed(0) from error
        filters = None
        delta_mode = "append"
        if mode == "overwrite":
            delta_mode = "overwrite"
        elif mode == "replace":
            delta_mode = "overwrite"
            filters = [(partition_by[0], "in", list(replace_values or ()))]
        own_versions: set[int] = set()
        for _attempt in range(MAX_COMMIT_ATTEMPTS):
            table = DeltaTable(location)
            latest = table.version()
            clash = self._clashing_commits(
                location, read_version, latest, own_versions, spark_schema, mode, partition_by, replace_values
            )
            if clash:
                raise WriteConflictError(
                    f"{location}: a concurrent write committed version(s) {', '.join(map(str, clash))} after "
                    f"version {read_version}, which this write started from, touching the same data; "
                    "this write was not committed"
                )
            try:
                if add_fields and not own_versions:
                    from deltalake.schema import Field

                    table.alter.add_columns(
                        [Field.from_json(json.dumps(f.jsonValue())) for f in add_fields],
                        commit_properties=CommitProperties(
                            custom_metadata={**metadata, "cobuy.operation": f"{operation} (add columns)"},
                            max_commit_retries=0,
                        ),
                    )
                    own_versions.add(table.version())
                    continue
                table.create_write_transaction(
                    actions, mode=delta_mode, schema=schema, partition_by=list(partition_by),
                    partition_filters=filters, commit_properties=properties,
                )
            except CommitFailedError:
                continue  # someone committed since `latest`: look at what they did, then retry
            try:
                found = self._find_commit(location, latest, write_id)
            except Exception:  # noqa: BLE001 - the data is committed whatever happens here
                found = None
            return found if found is not None else latest + 1
        raise WriteConflictError(
            f"{location}: gave up after {MAX_COMMIT_ATTEMPTS} attempts to commit among concurrent writers; "
            "this write was not committed"
        )

    @staticmethod
    def _find_commit(location: str, after_version: int, write_id: str) -> int | None:
        """The version after `after_version` whose commitInfo carries `write_id`, if any."""
        log_dir = local_path(location) / "_delta_log"
        version = after_version + 1
        while (entry := log_dir / f"{version:020d}.json").exists():
            for line in entry.read_text().splitlines():
                info = json.loads(line).get("commitInfo")
                if info is not None and info.get("cobuy.write_id") == write_id:
                    return version
            version += 1
        return None

    @staticmethod
    def _clashing_commits(
        location: str,
        read_version: int,
        latest: int,
        own_versions: set[int],
        spark_schema: T.StructType,
        mode: str,
        partition_by: Sequence[str],
        replace_values: Sequence[str] | None,
    ) -> list[int]:
        """Versions in (read_version, latest], not ours, that touch what this write replaces or
        change the table's schema or partitioning away from what this write was checked against."""
        from lib.storage.schema_check import diff_schemas

        log_dir = local_path(location) / "_delta_log"
        clashing = []
        for version in range(read_version + 1, latest + 1):
            if version in own_versions:
                continue
            touched: set[str | None] = set()
            incompatible = False
            for line in (log_dir / f"{version:020d}.json").read_text().splitlines():
                action = json.loads(line)
                for kind in ("add", "remove"):
                    if kind in action:
                        values = action[kind].get("partitionValues") or {}
                        touched.add(values.get(partition_by[0]) if partition_by else None)
                if "metaData" in action:
                    meta = action["metaData"]
                    table_schema = T.StructType.fromJson(json.loads(meta["schemaString"]))
                    incompatible = incompatible or (
                        list(meta.get("partitionColumns") or []) != list(partition_by)
                        or not diff_schemas(table_schema, spark_schema).is_empty
                    )
                if "protocol" in action and version > 0:
                    incompatible = True
            if incompatible:
                clashing.append(version)
            elif mode == "append":
                pass  # blind appends never clash with other writers' files
            elif mode == "overwrite" or not partition_by:
                if touched:
                    clashing.append(version)
            elif touched & set(replace_values or ()):
                clashing.append(version)
        return clashing


class _Committed(Exception):  # noqa: N818 - control flow, never escapes this module
    """The commit landed (as `version`); nothing after this point may undo the write's files."""

    def __init__(self, version: int) -> None:
        super().__init__(version)
        self.version = version


def _remove_if_empty(directory: Path) -> None:
    """Remove the staging folder when no other write uses it; racing writers may refill it."""
    try:
        directory.rmdir()
    except OSError:
        pass  # not empty (another write is staging) or already gone


def _stat_value(value: object) -> object | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, int):
        return value
    if isinstance(value, dt.datetime):
        return None  # timestamp stats need careful truncation rules; leaving them out is safe
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value if len(value) <= STATS_STRING_LIMIT else None
    return None


def file_stats(path: Path) -> str:
    """Delta per-file statistics (numRecords, nullCount, minValues, maxValues) from the Parquet footer."""
    metadata = pq.read_metadata(path)
    stats: dict[str, object] = {"numRecords": metadata.num_rows, "nullCount": {}, "minValues": {}, "maxValues": {}}
    schema = metadata.schema
    for column_index in range(metadata.num_columns):
        column_path = schema.column(column_index).path
        if "." in column_path:
            continue  # nested leaves: Delta stats for nested types are optional
        nulls, lows, highs, complete = 0, [], [], True
        for group_index in range(metadata.num_row_groups):
            column_stats = metadata.row_group(group_index).column(column_index).statistics
            if column_stats is None:
                complete = False
                break
            nulls += column_stats.null_count or 0
            if column_stats.has_min_max:
                lows.append(_stat_value(column_stats.min))
                highs.append(_stat_value(column_stats.max))
            elif column_stats.null_count != metadata.row_group(group_index).num_rows:
                complete = False
        if not complete:
            continue
        stats["nullCount"][column_path] = nulls  # type: ignore[index]
        if lows and all(v is not None for v in lows + highs):
            stats["minValues"][column_path] = min(lows)  # type: ignore[index]
            stats["maxValues"][column_path] = max(highs)  # type: ignore[index]
    return json.dumps(stats)
