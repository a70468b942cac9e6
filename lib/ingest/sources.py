"""Which reader and which adapter each `source` uses, and which raw column holds the user id."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession

from lib.ingest import adapters
from lib.ingest.read import CsvOptions, RawInput, check_columns, read_csv, read_json, read_parquet
from lib.ingest.settings import GenericSource, OnlineRetailSource, RetailRocketSource, TaobaoSource

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


def _read_checked(
    spark: SparkSession, paths: Sequence[str], options: CsvOptions, needed: Sequence[str]
) -> RawInput:
    raw = read_csv(spark, paths, options)
    check_columns(raw, needed)
    return raw


def _generic(settings: GenericSource) -> Source:
    needed = tuple(dict.fromkeys(settings.columns.values()))

    def read(spark: SparkSession, paths: Sequence[str]) -> RawInput:
        if settings.format == "json":
            return read_json(spark, paths, needed)
        if settings.format == "parquet":
            return read_parquet(spark, paths, needed)
        options = CsvOptions(
            header=settings.header, column_names=settings.column_names, delimiter=settings.delimiter,
            quote=settings.quote, escape=settings.escape, encoding=settings.encoding,
        )
        return _read_checked(spark, paths, options, needed)

    return Source(
        "generic", settings, read, lambda raw: adapters.stage_generic(raw, settings),
        settings.columns.get("user_id"), settings.excluded_items, settings.excluded_item_pattern,
    )


def source_for(name: str, settings: SourceSettings) -> Source:
    if isinstance(settings, GenericSource):
        return _generic(settings)
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
