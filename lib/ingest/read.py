"""The read edge of ingest: find the input files and read them, broken lines included.

Every file is read in Spark's PERMISSIVE mode with a corrupt-record column, so a malformed line
becomes a row flagged as malformed instead of aborting the job. All data columns are read as
strings; the adapters parse them. Besides the raw columns each row carries its source file, the date
in that file's path (if any), the raw columns as one struct and the record as text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.errors import AnalysisException
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.schemas.ingest import CORRUPT, FILE_DT, ORDER_FOUND, RAW, RAW_RECORD, SOURCE_FILE

# The last YYYY-MM-DD in a path is the file's date (".../date=2024-03-01/part-0.csv", ".../2011-01-04.csv").
PATH_DATE_REGEX = r"(\d{4}-\d{2}-\d{2})(?!.*\d{4}-\d{2}-\d{2})"


class IngestInputError(ValueError):
    """The input cannot be ingested (missing path, no rows, a mapped column absent); nothing was written."""


@dataclass(frozen=True)
class CsvOptions:
    header: bool = True
    column_names: tuple[str, ...] = ()  # positional names; empty: take them from the header line
    check_header: bool = False  # with header and column_names: every file's header must have these names
    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    encoding: str = "UTF-8"


EVENTS_ROLE, ORDERS_ROLE = "events", "orders"


@dataclass(frozen=True)
class FileSet:
    """Files read by one parser, for the audit: the parsed rows per file are counted from `parsed`."""

    role: str  # events | orders
    paths: tuple[str, ...]
    header: bool  # each non-empty file's first line is a header
    lines: bool  # a line format (CSV, JSON lines); False for Parquet
    parsed: DataFrame  # one row per parsed row, with SOURCE_FILE
    orders_without_lines: DataFrame | None = None  # orders file: rows whose key no line has (SOURCE_FILE)


@dataclass(frozen=True)
class RawInput:
    frame: DataFrame  # the raw string columns + the reader's `_` columns
    columns: tuple[str, ...]  # the raw columns' names
    paths: tuple[str, ...]
    record_text: Callable[[Column], Column]  # struct of raw columns -> the record as text (CSV or JSON)
    files: tuple[FileSet, ...] = ()


# -- finding the input ---------------------------------------------------------------------------


def input_paths(path_template: str, landing: str, dates: Sequence[dt.date], override: str) -> list[str]:
    """The paths to read: `--input` as given, else the template once per date (or once, without {date})."""
    if override:
        return [override]
    template = path_template.replace("{landing}", landing.rstrip("/"))
    if "{date}" not in template:
        return [template]
    return [template.replace("{date}", day.isoformat()) for day in dates]


def split_existing(spark: SparkSession, paths: Sequence[str]) -> tuple[list[str], list[str]]:
    """(paths that exist or whose glob matches something, paths that do not), via Hadoop's file system."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Hadoop's FileSystem is only reachable through py4j
    hadoop_conf = spark.sparkContext._jsc.hadoopConfiguration()  # noqa: SLF001
    found, missing = [], []
    for path in paths:
        hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
        statuses = hadoop_path.getFileSystem(hadoop_conf).globStatus(hadoop_path)
        (found if statuses is not None and len(statuses) > 0 else missing).append(path)
    return found, missing


# -- reading -------------------------------------------------------------------------------------


def _permissive(spark: SparkSession, schema: T.StructType):  # noqa: ANN202 - a DataFrameReader
    return (
        spark.read.schema(schema)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", CORRUPT)
        .option("recursiveFileLookup", "true")
    )


def _string_schema(columns: Sequence[str]) -> T.StructType:
    return T.StructType(
        [T.StructField(c, T.StringType(), True) for c in columns] + [T.StructField(CORRUPT, T.StringType(), True)]
    )


def _csv_reader(spark: SparkSession, options: CsvOptions, schema: T.StructType | None):  # noqa: ANN202
    reader = spark.read if schema is None else _permissive(spark, schema)
    return (
        reader.option("header", options.header)
        .option("sep", options.delimiter)
        .option("quote", options.quote)
        .option("escape", options.escape)
        .option("encoding", options.encoding)
        .option("recursiveFileLookup", "true")
    )


def _wrap_missing(paths: Sequence[str], action):  # noqa: ANN001, ANN202
    try:
        return action()
    except AnalysisException as error:
        if "PATH_NOT_FOUND" in str(error) or "Path does not exist" in str(error):
            raise IngestInputError(f"input path not found: {str(error).splitlines()[0]}") from None
        raise


def read_csv(spark: SparkSession, paths: Sequence[str], options: CsvOptions) -> RawInput:
    columns = options.column_names
    if not columns:
        header = _wrap_missing(paths, lambda: _csv_reader(spark, options, None).csv(list(paths)).columns)
        if not header:
            raise IngestInputError(f"no header line (empty input) in {', '.join(paths)}")
        columns = tuple(header)
    # With the names from the header, Spark checks every other file's header against them.
    enforce = not options.header or (bool(options.column_names) and not options.check_header)
    frame = _wrap_missing(
        paths,
        lambda: _csv_reader(spark, options, _string_schema(columns)).option("enforceSchema", enforce).csv(list(paths)),
    )
    def as_csv(record: Column) -> Column:
        return F.to_csv(record, {"sep": options.delimiter})

    framed = with_reader_columns(frame, columns, as_csv)
    files = (FileSet(EVENTS_ROLE, tuple(paths), options.header, True, framed.select(SOURCE_FILE)),)
    return RawInput(framed, tuple(columns), tuple(paths), as_csv, files)


def read_json(spark: SparkSession, paths: Sequence[str], columns: Sequence[str]) -> RawInput:
    """JSON lines; every top-level field is read (any JSON value arrives as its text), so the raw
    record - the dedup key - is the whole record, mapped fields or not.

    One pass finds the fields (JSON has no header); a mapped field that no record has is an error.
    """
    found = _wrap_missing(paths, lambda: spark.read.option("recursiveFileLookup", "true").json(list(paths)).columns)
    absent = [c for c in columns if c not in found]
    if absent and [c for c in found if c != CORRUPT]:
        raise IngestInputError(
            f"field(s) {', '.join(repr(c) for c in absent)} mapped in config occur in no record of {', '.join(paths)}"
        )
    every = list(dict.fromkeys([*columns, *sorted(c for c in found if c != CORRUPT)]))
    frame = _wrap_missing(paths, lambda: _permissive(spark, _string_schema(every)).json(list(paths)))
    framed = with_reader_columns(frame, every, F.to_json)
    files = (FileSet(EVENTS_ROLE, tuple(paths), False, True, framed.select(SOURCE_FILE)),)
    return RawInput(framed, tuple(every), tuple(paths), F.to_json, files)


def read_parquet(spark: SparkSession, paths: Sequence[str], columns: Sequence[str]) -> RawInput:
    frame = _wrap_missing(paths, lambda: spark.read.option("recursiveFileLookup", "true").parquet(list(paths)))
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise IngestInputError(
            f"column(s) {', '.join(absent)} mapped in config are not in {', '.join(paths)} "
            f"(columns there: {', '.join(frame.columns)})"
        )
    every = list(dict.fromkeys([*columns, *frame.columns]))  # the whole record is the dedup key
    strings = frame.select(
        *[F.col(f"`{c}`").cast("string").alias(c) for c in every], F.lit(None).cast("string").alias(CORRUPT)
    )
    framed = with_reader_columns(strings, every, F.to_json)
    files = (FileSet(EVENTS_ROLE, tuple(paths), False, False, framed.select(SOURCE_FILE)),)
    return RawInput(framed, tuple(every), tuple(paths), F.to_json, files)


def with_reader_columns(
    frame: DataFrame, columns: Sequence[str], record_text: Callable[[Column], Column]
) -> DataFrame:
    """Add the source file, its path's date, the raw columns as a struct and the record as text."""
    source_file = F.input_file_name()
    record = F.struct(*[F.col(f"`{c}`") for c in columns])
    path_date = F.nullif(F.regexp_extract(source_file, PATH_DATE_REGEX, 1), F.lit(""))
    return frame.select(
        *[F.col(f"`{c}`") for c in columns],
        F.col(CORRUPT),
        source_file.alias(SOURCE_FILE),
        F.try_to_timestamp(path_date, F.lit("yyyy-MM-dd")).cast("date").alias(FILE_DT),
        record.alias(RAW),
        F.coalesce(F.col(CORRUPT), record_text(record)).alias(RAW_RECORD),
        F.lit(None).cast("boolean").alias(ORDER_FOUND),
    )


def join_orders(lines: RawInput, orders: RawInput, key: str) -> RawInput:
    """Each line with its order's columns (a left join: one row per line; `_order_found` false when
    the orders file has no such key). Identical order rows count once; two different orders under
    one key are an error naming the key, since either could be the line's."""
    clash = sorted((set(orders.columns) & set(lines.columns)) - {key})
    if clash:
        raise IngestInputError(f"column(s) {', '.join(clash)} are in both the lines and the orders file: rename one")
    for raw, role in ((lines, "lines"), (orders, "orders")):
        if key not in raw.columns:
            raise IngestInputError(f"join key '{key}' is not a column of the {role} file(s) {', '.join(raw.paths)}")
    order_columns = [c for c in orders.columns if c != key]
    clean = orders.frame.filter(F.col(CORRUPT).isNull() & F.col(key).isNotNull())
    unique = clean.select(key, *order_columns).distinct()
    repeated = unique.groupBy(key).count().filter(F.col("count") > 1).limit(5).collect()  # at most 5 rows
    if repeated:
        keys = ", ".join(repr(r[key]) for r in repeated)
        raise IngestInputError(f"orders file {', '.join(orders.paths)} has different rows for key(s) {keys}")
    found = unique.withColumn("_matched", F.lit(True))
    joined = lines.frame.drop(ORDER_FOUND).join(found, on=key, how="left")
    frame = joined.select(
        *[F.col(f"`{c}`") for c in lines.columns], *[F.col(f"`{c}`") for c in order_columns],
        *[c for c in lines.frame.columns if c.startswith("_") and c != ORDER_FOUND],
        F.coalesce(F.col("_matched"), F.lit(False)).alias(ORDER_FOUND),
    )
    line_keys = lines.frame.select(key).distinct()
    without_lines = orders.frame.filter(F.col(CORRUPT).isNull()).join(line_keys, on=key, how="left_anti")
    orders_files = tuple(
        FileSet("orders", f.paths, f.header, f.lines, f.parsed, without_lines.select(SOURCE_FILE)) for f in orders.files
    )
    columns = (*lines.columns, *order_columns)  # the line's record (dedup key) stays the line's own columns
    return RawInput(frame, columns, lines.paths, lines.record_text, (*lines.files, *orders_files))


def check_columns(raw: RawInput, needed: Sequence[str]) -> None:
    """A column the config maps that the input does not have is an error naming it."""
    absent = [c for c in needed if c not in raw.columns]
    if absent:
        raise IngestInputError(
            f"column(s) {', '.join(absent)} mapped in config are not in the input {', '.join(raw.paths)} "
            f"(its columns: {', '.join(raw.columns)})"
        )
