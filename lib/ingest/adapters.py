"""Source adapters: pure transforms from a raw frame (string columns) to the staged schema.

Each adapter returns one row per input row - it never filters - with exactly the columns of
`STAGED_SCHEMA` followed by the reader's `_` columns. Parsing failures become nulls next to the raw
text (`event_time_raw`, `quantity_raw`, ...), so the cleaning rules can name what was wrong.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lib.ingest.settings import RUN_DATE, GenericSource, OnlineRetailSource
from lib.schemas.events import CART, EVENT_TYPES, FAV, PURCHASE, RETURN, VIEW
from lib.schemas.ingest import READER_COLUMNS, STAGED_SCHEMA

ONLINE_RETAIL_COLUMNS = (
    "InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice", "CustomerID", "Country",
)
RETAILROCKET_COLUMNS = ("timestamp", "visitorid", "event", "itemid", "transactionid")
RETAILROCKET_EVENTS = {"view": VIEW, "addtocart": CART, "transaction": PURCHASE}
TAOBAO_COLUMNS = ("user_id", "item_id", "category_id", "behavior_type", "timestamp")
TAOBAO_EVENTS = {"pv": VIEW, "cart": CART, "fav": FAV, "buy": PURCHASE}


# -- column functions ----------------------------------------------------------------------------


def text(column: Column) -> Column:
    """Trimmed text; an empty string becomes null."""
    return F.nullif(F.trim(column), F.lit(""))


def parse_timestamp(raw: Column, timestamp_format: str, timezone: str = "UTC") -> Column:
    """A UTC timestamp from text in `timestamp_format` (a Spark pattern, unix_seconds or unix_millis)."""
    if timestamp_format in ("unix_seconds", "unix_millis"):
        number = raw.try_cast("long")
        limit = 10**11 if timestamp_format == "unix_seconds" else 10**14  # beyond: year 5138, unparseable
        in_range = F.abs(number) < F.lit(limit)
        convert = F.timestamp_seconds if timestamp_format == "unix_seconds" else F.timestamp_millis
        return F.when(in_range, convert(number))
    parsed = F.try_to_timestamp(raw, F.lit(timestamp_format))
    return parsed if timezone.upper() == "UTC" else F.to_utc_timestamp(parsed, timezone)


def map_values(raw: Column, mapping: Mapping[str, str]) -> Column:
    """The mapped value, or null for a value the mapping does not know."""
    if not mapping:
        return F.when(raw.isin(*EVENT_TYPES), raw)
    result = F.lit(None).cast("string")
    for source_value, canonical in mapping.items():
        result = F.when(raw == F.lit(source_value), F.lit(canonical)).otherwise(result)
    return result


def last_segment(path: Column, separator: str) -> Column:
    return F.element_at(F.split(path, f"\\Q{separator}\\E"), -1)


def _staged(frame: DataFrame, **columns: Column) -> DataFrame:
    """Select the staged schema in order (absent fields null) plus the reader's columns."""
    return frame.select(
        *[
            (columns[f.name] if f.name in columns else F.lit(None)).cast(f.dataType).alias(f.name)
            for f in STAGED_SCHEMA.fields
        ],
        *[F.col(c) for c in READER_COLUMNS],
    )


COMPOSITE_SEPARATOR = "|"


def composite_key(parts: list[Column]) -> Column:
    """The parts joined with '|' ("m17|2024-03-01"); null when any part is missing (no half keys)."""
    complete = F.lit(True)
    for part in parts:
        complete = complete & part.isNotNull()
    return F.when(complete, F.concat_ws(COMPOSITE_SEPARATOR, *parts))


def event_date_text(source: GenericSource, run_date: dt.date | None) -> str:
    """The date of every event of an undated export (`event_date`: run_date or a constant)."""
    if source.event_date == RUN_DATE:
        if run_date is None:
            raise ValueError("an export dated by the run date needs the run date")
        return run_date.isoformat()
    return source.event_date


def event_time_from(source: GenericSource, run_date: dt.date | None) -> str:
    """Where events' times come from, in words, for the audit."""
    mapped = source.columns.get("event_time")
    if isinstance(mapped, tuple):
        return f"columns {mapped[0]} ({source.date_format}) + {mapped[1]} ({source.time_format})"
    if mapped:
        return f"column {mapped} ({source.timestamp_format})"
    word = "run date" if source.event_date == RUN_DATE else "constant"
    return f"{word} {event_date_text(source, run_date)} (no timestamps in the export)"


def _col(name: str) -> Column:
    return text(F.col(f"`{name}`"))


# -- adapters ------------------------------------------------------------------------------------


def stage_generic(raw: DataFrame, source: GenericSource, run_date: dt.date | None = None) -> DataFrame:
    """Any export described by `source.columns` (canonical field -> source column or columns).

    A list of columns makes a composite key (`composite_key`); event_time = [date, time] is parsed
    with date_format + " " + time_format; an undated export (`event_date`) gets 00:00 UTC that day.
    """
    mapped = source.columns

    def field(name: str) -> Column:
        if name not in mapped:
            return F.lit(None).cast("string")
        value = mapped[name]
        return composite_key([_col(c) for c in value]) if isinstance(value, tuple) else _col(value)

    when = mapped.get("event_time")
    timestamp_format = source.timestamp_format
    if isinstance(when, tuple):
        event_time_raw = F.concat(_col(when[0]), F.lit(" "), _col(when[1]))
        timestamp_format = f"{source.date_format} {source.time_format}"
    elif when:
        event_time_raw = field("event_time")
    else:
        event_time_raw = F.lit(event_date_text(source, run_date))
        timestamp_format = "yyyy-MM-dd"
    sequence_raw = field("sequence")
    event_type_raw = field("event_type") if "event_type" in mapped else F.lit(source.default_event_type)
    quantity_raw, price_raw, category_path = field("quantity"), field("unit_price"), field("category_path")
    return _staged(
        raw,
        event_id=field("event_id"),
        event_time=parse_timestamp(event_time_raw, timestamp_format, source.timezone if when else "UTC"),
        event_time_raw=event_time_raw,
        user_id=field("user_id"),
        session_id=field("session_id"),
        order_id=field("order_id"),
        item_id=field("item_id"),
        event_type=map_values(event_type_raw, source.event_types),
        event_type_raw=event_type_raw,
        quantity=quantity_raw.try_cast("int"),
        quantity_raw=quantity_raw,
        unit_price=price_raw.try_cast("double"),
        unit_price_raw=price_raw,
        title=field("title"),
        category=F.coalesce(field("category"), last_segment(category_path, source.category_separator)),
        category_path=category_path,
        sequence=sequence_raw.try_cast("int"),
        sequence_raw=sequence_raw,
    )


def online_retail_user(raw: Column) -> Column:
    """CustomerID is written as a float ('17850.0'); the id is its integer text ('17850')."""
    return F.regexp_replace(text(raw), r"\.0+$", "")


def stage_online_retail(raw: DataFrame, source: OnlineRetailSource) -> DataFrame:
    """An invoice is an order; an invoice starting with `return_prefix` is a return (quantity made positive)."""
    invoice = _col("InvoiceNo")
    is_return = invoice.startswith(source.return_prefix)
    quantity_raw, price_raw, event_time_raw = _col("Quantity"), _col("UnitPrice"), _col("InvoiceDate")
    quantity = quantity_raw.try_cast("int")
    return _staged(
        raw,
        event_time=parse_timestamp(event_time_raw, source.timestamp_format, source.timezone),
        event_time_raw=event_time_raw,
        user_id=online_retail_user(F.col("CustomerID")),
        order_id=invoice,
        item_id=_col("StockCode"),
        event_type=F.when(is_return, F.lit(RETURN)).when(invoice.isNotNull(), F.lit(PURCHASE)),
        event_type_raw=invoice,
        quantity=F.when(is_return, F.try_subtract(F.lit(0), quantity)).otherwise(quantity),
        quantity_raw=quantity_raw,
        unit_price=price_raw.try_cast("double"),
        unit_price_raw=price_raw,
        title=_col("Description"),
    )


def stage_retailrocket(raw: DataFrame) -> DataFrame:
    """Each transaction row is one item bought once (the export has no quantity or price)."""
    event_type_raw, event_time_raw = _col("event"), _col("timestamp")
    event_type = map_values(event_type_raw, RETAILROCKET_EVENTS)
    return _staged(
        raw,
        event_time=parse_timestamp(event_time_raw, "unix_millis"),
        event_time_raw=event_time_raw,
        user_id=_col("visitorid"),
        order_id=_col("transactionid"),
        item_id=_col("itemid"),
        event_type=event_type,
        event_type_raw=event_type_raw,
        quantity=F.when(event_type == F.lit(PURCHASE), F.lit(1)),
    )


def stage_taobao(raw: DataFrame) -> DataFrame:
    """Tianchi UserBehavior: pv/cart/fav/buy; a buy is one unit; the category is an id."""
    event_type_raw, event_time_raw = _col("behavior_type"), _col("timestamp")
    event_type = map_values(event_type_raw, TAOBAO_EVENTS)
    return _staged(
        raw,
        event_time=parse_timestamp(event_time_raw, "unix_seconds"),
        event_time_raw=event_time_raw,
        user_id=_col("user_id"),
        item_id=_col("item_id"),
        event_type=event_type,
        event_type_raw=event_type_raw,
        quantity=F.when(event_type == F.lit(PURCHASE), F.lit(1)),
        category=_col("category_id"),
    )
