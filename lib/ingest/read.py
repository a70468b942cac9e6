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

from lib.schemas.ingest import CORRUPT, FILE_DT, RAW, RAW_RECORD, SOURCE_FILE

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


@dataclass(frozen=True)
class RawInput:
    frame: DataFrame  # the raw string columns + the reader's `_` columns
    columns: tuple[str, ...]  # the raw columns' names
    paths: tuple[str, ...]
    record_text: Callable[[Column], Column]  # struct of raw columns -> the record as text (CSV or JSON)


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

    return RawInput(with_reader_columns(frame, columns, as_csv), tuple(columns), tuple(paths), as_csv)


def read_json(spark: SparkSession, paths: Sequence[str], columns: Sequence[str]) -> RawInput:
    """JSON lines; only the named columns are read (any JSON value arrives as its text).

    JSON has no header, so a mapped field that no record has is found by one counting pass.
    """
    frame = _wrap_missing(paths, lambda: _permissive(spark, _string_schema(columns)).json(list(paths)))
    present = frame.agg(*[F.count(F.col(f"`{c}`")).alias(c) for c in columns]).collect()[0].asDict()  # one row
    absent = [c for c in columns if present[c] == 0]
    if absent and sum(present.values()) > 0:
        raise IngestInputError(
            f"field(s) {', '.join(repr(c) for c in absent)} mapped in config occur in no record of {', '.join(paths)}"
        )
    return RawInput(with_reader_columns(frame, columns, F.to_json), tuple(columns), tuple(paths), F.to_json)


def read_parquet(spark: SparkSession, paths: Sequence[str], columns: Sequence[str]) -> RawInput:
    frame = _wrap_missing(paths, lambda: spark.read.option("recursiveFileLookup", "true").parquet(list(paths)))
    absent = [c for c in columns if c not in frame.columns]
    if absent:
        raise IngestInputError(
            f"column(s) {', '.join(absent)} mapped in config are not in {', '.join(paths)} "
            f"(columns there: {', '.join(frame.columns)})"
        )
    strings = frame.select(
        *[F.col(f"`{c}`").cast("string").alias(c) for c in columns], F.lit(None).cast("string").alias(CORRUPT)
    )
    return RawInput(with_reader_columns(strings, columns, F.to_json), tuple(columns), tuple(paths), F.to_json)


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
    )


def check_columns(raw: RawInput, needed: Sequence[str]) -> None:
    """A column the config maps that the input does not have is an error naming it."""
    absent = [c for c in needed if c not in raw.columns]
    if absent:
        raise IngestInputError(
            f"column(s) {', '.join(absent)} mapped in config are not in the input {', '.join(raw.paths)} "
            f"(its columns: {', '.join(raw.columns)})"
        )
