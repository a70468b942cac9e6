"""Which reader and which adapter each `source` uses, and which raw column holds the user id."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from lib.ingest import adapters
from lib.ingest.read import (
    CsvOptions, RawInput, check_columns, input_paths, join_orders, read_csv, read_json, read_parquet, split_existing,
)
from lib.ingest.read import IngestInputError
from lib.ingest.settings import (
    GenericSource, OnlineRetailSource, RetailRocketSource, TaobaoSource, source_columns, sums_repeated_lines,
)

SourceSettings = GenericSource | OnlineRetailSource | RetailRocketSource | TaobaoSource


@dataclass(frozen=True)
class Source:
    name: str
    settings: SourceSettings
    read: Callable[[SparkSession, Sequence[str]], RawInput]
    stage: Callable[[DataFrame], DataFrame]
    user_column: str | None  # the raw column pseudonymised in quarantined records
    excluded_items: tuple[str, ...] = ()
    excluded_item_pattern: str = ""
    keyed_fields: tuple[str, ...] = ()  # composite keys that contain the user id: pseudonymised too
    sum_repeated: bool = False  # identical lines add up into quantity instead of collapsing
    event_time_from: str | None = None  # for the audit
    has_sequence: bool = False  # the export has a position-in-basket column: event_sequences is written


def _read_checked(
    spark: SparkSession, paths: Sequence[str], options: CsvOptions, needed: Sequence[str]
) -> RawInput:
    raw = read_csv(spark, paths, options)
    check_columns(raw, needed)
    return raw


def _generic(settings: GenericSource, landing: str, dates: Sequence[dt.date]) -> Source:
    needed = tuple(dict.fromkeys(c for value in settings.columns.values() for c in source_columns(value)))
    run_date = min(dates) if dates else None
    options = CsvOptions(
        header=settings.header, column_names=settings.column_names, delimiter=settings.delimiter,
        quote=settings.quote, escape=settings.escape, encoding=settings.encoding,
    )

    def read(spark: SparkSession, paths: Sequence[str]) -> RawInput:
        if settings.format == "json":
            return read_json(spark, paths, needed)
        if settings.format == "parquet":
            return read_parquet(spark, paths, needed)
        if not settings.orders.path_template:
            return _read_checked(spark, paths, options, needed)
        lines = read_csv(spark, paths, options)
        orders_paths = input_paths(settings.orders.path_template, landing, dates, "")
        found, missing = split_existing(spark, orders_paths)
        if missing:
            raise IngestInputError(f"orders file(s) not found: {', '.join(missing[:5])}")
        joined = join_orders(lines, read_csv(spark, found, options), settings.orders.key)
        check_columns(joined, needed)
        return joined

    user = settings.columns.get("user_id")
    user_column = user if isinstance(user, str) else None
    user_parts = set(source_columns(user)) if user else set()
    keyed = tuple(
        name for name, value in settings.columns.items()
        if isinstance(value, tuple) and name not in ("event_time", "user_id") and user_parts & set(value)
    )
    return Source(
        "generic", settings, read, lambda raw: adapters.stage_generic(raw, settings, run_date),
        user_column, settings.excluded_items, settings.excluded_item_pattern,
        keyed_fields=keyed, sum_repeated=sums_repeated_lines(settings),
        event_time_from=adapters.event_time_from(settings, run_date), has_sequence="sequence" in settings.columns,
    )


def source_for(name: str, settings: SourceSettings, landing: str = "", dates: Sequence[dt.date] = ()) -> Source:
    """`landing` and `dates` find a two-file export's orders file and date an undated export."""
    if isinstance(settings, GenericSource):
        return _generic(settings, landing, dates)
    if isinstance(settings, OnlineRetailSource):
        # Known names (no header-inference pass); Spark still checks each file's header against them.
        options = CsvOptions(encoding=settings.encoding, column_names=adapters.ONLINE_RETAIL_COLUMNS, check_header=True)
        return Source(
            name, settings,
            lambda spark, paths: _read_checked(spark, paths, options, adapters.ONLINE_RETAIL_COLUMNS),
            lambda raw: adapters.stage_online_retail(raw, settings),
            "CustomerID", settings.excluded_items, settings.excluded_item_pattern,
        )
    if isinstance(settings, RetailRocketSource):
        return Source(
            name, settings,
            lambda spark, paths: read_csv(
                spark, paths, CsvOptions(column_names=adapters.RETAILROCKET_COLUMNS, check_header=True)
            ),
            adapters.stage_retailrocket, "visitorid",
        )
    options = CsvOptions(header=False, column_names=adapters.TAOBAO_COLUMNS)
    return Source(
        name, settings, lambda spark, paths: read_csv(spark, paths, options), adapters.stage_taobao, "user_id"
    )
