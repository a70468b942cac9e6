"""Typed settings of the ingest job's sources and cleaning rules (the `[cleaning]` and per-source
tables of conf/ingest.toml), and their checks beyond types."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from lib.config import ConfigError
from lib.schemas.events import EVENT_TYPES
from lib.schemas.ingest import SOURCES, STAGED_COLUMNS

# Fields a generic mapping may name (the staged fields that come from a source column).
MAPPABLE_FIELDS = (
    "event_id", "event_time", "user_id", "session_id", "order_id", "item_id", "event_type",
    "quantity", "unit_price", "title", "category", "category_path", "sequence",
)
# Fields that may be several source columns: a composite key, or event_time = [date column, time column].
COMPOSITE_FIELDS = ("event_id", "user_id", "session_id", "order_id", "event_time")
REPEATED_LINES = ("collapse", "sum")  # and "" = sum when no quantity column is mapped, else collapse
RUN_DATE = "run_date"
ALWAYS_REQUIRED = ("event_time", "item_id", "event_type")
TIMESTAMP_UNIX = ("unix_seconds", "unix_millis")
FORMATS = ("csv", "json", "parquet")


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True)
class CleaningRules:
    extra_required: tuple[str, ...] = ()  # canonical fields required besides ALWAYS_REQUIRED
    min_event_time: dt.date = dt.date(2000, 1, 1)  # earlier events: timestamp_before_floor
    future_tolerance_minutes: int = 60  # later than now + this: future_timestamp
    positive_quantity_for: tuple[str, ...] = ("cart", "purchase", "return")
    positive_price_for: tuple[str, ...] = ("purchase", "return")
    max_quantity: int = 10_000  # 0 disables quantity_outlier
    drop_exact_duplicates: bool = True
    check_file_date: bool = True  # date_mismatch when the path's date differs from the event's
    quarantine_undecodable: bool = True
    max_quarantine_share: float = 0.5  # a date quarantining more of its rows fails the run, nothing written


@dataclass(frozen=True)
class OrdersFile:
    """The orders file of a two-file export (orders + order lines), joined to the lines by `key`."""

    path_template: str = ""  # empty: a single-file export; {landing} and {date} as for the lines
    key: str = ""  # the column both files share (one output row per line)


@dataclass(frozen=True)
class GenericSource:
    """Any shop export, described by config only."""

    path_template: str = "{landing}/shop/date={date}"
    allow_missing_dates: bool = False
    format: str = "csv"  # csv | json | parquet
    header: bool = True
    column_names: tuple[str, ...] = ()  # for headerless CSV (or to rename a header's columns)
    delimiter: str = ","
    quote: str = '"'
    escape: str = '"'
    encoding: str = "UTF-8"
    # canonical field -> source column, or a list of columns (COMPOSITE_FIELDS): a composite key,
    # or event_time = [date column, time column] parsed with date_format + " " + time_format
    columns: Mapping[str, str | tuple[str, ...]] = field(default_factory=_empty)
    timestamp_format: str = "yyyy-MM-dd HH:mm:ss"  # Spark pattern, or unix_seconds | unix_millis
    date_format: str = "yyyy-MM-dd"  # the date column's pattern when event_time is [date, time]
    time_format: str = "HH:mm:ss"  # the time column's pattern when event_time is [date, time]
    event_date: str = ""  # undated exports: "run_date" or an ISO date; events at 00:00 UTC that day
    repeated_lines: str = ""  # collapse | sum (into quantity) | "" = sum without a quantity column
    orders: OrdersFile = field(default_factory=OrdersFile)
    timezone: str = "UTC"  # zone of timestamps written without an offset
    event_types: Mapping[str, str] = field(default_factory=_empty)  # source value -> canonical
    default_event_type: str = ""  # when no event_type column is mapped (e.g. an orders-only export)
    category_separator: str = "/"
    excluded_items: tuple[str, ...] = ()
    excluded_item_pattern: str = ""


@dataclass(frozen=True)
class OnlineRetailSource:
    """UCI Online Retail: InvoiceNo, StockCode, Description, Quantity, InvoiceDate, UnitPrice, CustomerID, Country."""

    path_template: str = "{landing}/online_retail/{date}.csv"
    allow_missing_dates: bool = True  # the shop does not trade every day
    timestamp_format: str = "yyyy-MM-dd HH:mm:ss"
    timezone: str = "Europe/London"
    encoding: str = "UTF-8"
    return_prefix: str = "C"
    excluded_items: tuple[str, ...] = ()
    excluded_item_pattern: str = ""


@dataclass(frozen=True)
class RetailRocketSource:
    """Retailrocket events.csv: timestamp (ms), visitorid, event, itemid, transactionid."""

    path_template: str = "{landing}/retailrocket"
    allow_missing_dates: bool = True


@dataclass(frozen=True)
class TaobaoSource:
    """Tianchi UserBehavior: headerless user_id, item_id, category_id, behavior_type, timestamp (s)."""

    path_template: str = "{landing}/taobao"
    allow_missing_dates: bool = True


def sums_repeated_lines(source: GenericSource) -> bool:
    """Identical lines add up to a quantity (an order listing an item twice) rather than collapse."""
    if source.repeated_lines:
        return source.repeated_lines == "sum"
    return "quantity" not in source.columns


def source_columns(value: str | tuple[str, ...]) -> tuple[str, ...]:
    return value if isinstance(value, tuple) else (value,)


def validate(
    source: str,
    cleaning: CleaningRules,
    generic: GenericSource,
    online_retail: OnlineRetailSource,
    config_file: str,
) -> None:
    """Checks the types cannot express; each error names the key and the file."""

    def fail(key: str, message: str) -> None:
        raise ConfigError(f"{config_file}: key '{key}' {message}")

    if source not in SOURCES:
        fail("source", f"must be one of {', '.join(SOURCES)}, got '{source}'")
    for name in cleaning.extra_required:
        if name not in STAGED_COLUMNS or name.endswith("_raw"):
            fail("cleaning.extra_required", f"names an unknown field '{name}' (fields: {', '.join(MAPPABLE_FIELDS)})")
    for key in ("positive_quantity_for", "positive_price_for"):
        for value in getattr(cleaning, key):
            if value not in EVENT_TYPES:
                fail(f"cleaning.{key}", f"names an unknown event type '{value}' ({', '.join(EVENT_TYPES)})")
    if cleaning.max_quantity < 0 or cleaning.future_tolerance_minutes < 0:
        fail("cleaning.max_quantity", "and cleaning.future_tolerance_minutes must not be negative")
    if not 0.0 < cleaning.max_quarantine_share <= 1.0:
        fail("cleaning.max_quarantine_share", f"must be in (0, 1], got {cleaning.max_quarantine_share}")
    if source != "generic":
        _check_pattern(online_retail.excluded_item_pattern, "online_retail.excluded_item_pattern", fail)
        return
    if generic.format not in FORMATS:
        fail("generic.format", f"must be one of {', '.join(FORMATS)}, got '{generic.format}'")
    for name in generic.columns:
        if name not in MAPPABLE_FIELDS:
            fail(f"generic.columns.{name}", f"is not a canonical field ({', '.join(MAPPABLE_FIELDS)})")
    for name, value in generic.columns.items():
        if isinstance(value, tuple) and (name not in COMPOSITE_FIELDS or not value):
            fail(f"generic.columns.{name}", f"may be a list of columns only for {', '.join(COMPOSITE_FIELDS)}")
    event_time = generic.columns.get("event_time")
    if isinstance(event_time, tuple) and len(event_time) != 2:
        fail("generic.columns.event_time", "as a list must be [date column, time column]")
    if generic.event_date:
        if event_time is not None:
            fail("generic.event_date", "and generic.columns.event_time exclude each other: map one of them")
        if generic.event_date != RUN_DATE:
            try:
                dt.date.fromisoformat(generic.event_date)
            except ValueError:
                fail("generic.event_date", f"must be '{RUN_DATE}' or a date YYYY-MM-DD, got '{generic.event_date}'")
    elif event_time is None:
        fail("generic.columns.event_time", "is required (or set generic.event_date for an undated export)")
    if "item_id" not in generic.columns:
        fail("generic.columns.item_id", "is required: map it to the source's column")
    if generic.repeated_lines not in ("", *REPEATED_LINES):
        fail("generic.repeated_lines", f"must be one of {', '.join(REPEATED_LINES)} or empty, got '{generic.repeated_lines}'")
    if bool(generic.orders.path_template) != bool(generic.orders.key):
        fail("generic.orders.key", "and generic.orders.path_template must be set together")
    if generic.orders.path_template and generic.format != "csv":
        fail("generic.orders.path_template", "needs generic.format = 'csv'")
    if "event_type" not in generic.columns and generic.default_event_type not in EVENT_TYPES:
        fail("generic.columns.event_type", "is required unless generic.default_event_type names an event type")
    for raw, canonical in generic.event_types.items():
        if canonical not in EVENT_TYPES:
            fail(f"generic.event_types.{raw}", f"maps onto '{canonical}', not one of {', '.join(EVENT_TYPES)}")
    if not generic.timestamp_format:
        fail("generic.timestamp_format", "must not be empty")
    _check_pattern(generic.excluded_item_pattern, "generic.excluded_item_pattern", fail)


def _check_pattern(pattern: str, key: str, fail) -> None:  # noqa: ANN001 - local callback
    try:
        re.compile(pattern)
    except re.error as error:
        fail(key, f"is not a valid regular expression: {error}")
