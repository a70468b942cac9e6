"""Cleaning rules: date each staged row, drop exact duplicates, name the first rule a row breaks.

Rules never drop a row: a row either passes (`reason` null) or carries the name of the rule it broke,
and the job writes it to `quarantine`. Exact duplicates are collapsed into one row with `_copies`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lib.ingest.settings import ALWAYS_REQUIRED, CleaningRules
from lib.schemas import ingest as S
from lib.schemas.ingest import CORRUPT, FILE_DT, ORDER_FOUND, RAW_RECORD, SOURCE_FILE

COPIES = "_copies"
REASON = "reason"
REPLACEMENT_CHAR = "\ufffd"  # what an undecodable byte sequence is read as
# For these fields "missing" means the raw text is missing (a present but unparseable value has its own reason).
RAW_OF = {"event_time": "event_time_raw", "event_type": "event_type_raw", "quantity": "quantity_raw",
          "unit_price": "unit_price_raw", "sequence": "sequence_raw"}


def utc_midnight(day: dt.date) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)


def valid_event_time(rules: CleaningRules, now: dt.datetime) -> Column:
    latest = now + dt.timedelta(minutes=rules.future_tolerance_minutes)
    return F.col("event_time").between(F.lit(utc_midnight(rules.min_event_time)), F.lit(latest))


def with_dt(staged: DataFrame, rules: CleaningRules, now: dt.datetime, undated: dt.date) -> DataFrame:
    """`dt`: the date in the file's path; else the event's date if its time is valid; else `undated`."""
    event_date = F.when(valid_event_time(rules, now), F.to_date("event_time"))
    return staged.withColumn("dt", F.coalesce(F.col(FILE_DT), event_date, F.lit(undated)))


def filter_dates(frame: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    return frame.filter(F.col("dt").between(F.lit(start), F.lit(end)))


def drop_exact_duplicates(frame: DataFrame, enabled: bool = True) -> DataFrame:
    """One row per (dt, identical raw record), with the number of copies read; malformed lines are kept as read."""
    if not enabled:
        return frame.withColumn(COPIES, F.lit(1))
    malformed = frame.filter(F.col(CORRUPT).isNotNull()).withColumn(COPIES, F.lit(1))
    keys = ["dt", RAW_RECORD]
    others = [c for c in frame.columns if c not in keys]
    unique = (
        frame.filter(F.col(CORRUPT).isNull())
        .groupBy(*keys)
        # Every column but the file is a function of the raw record, so any copy's value will do.
        .agg(
            *[(F.min(c) if c == SOURCE_FILE else F.first(c)).alias(c) for c in others],
            F.count(F.lit(1)).alias(COPIES),
        )
    )
    return malformed.unionByName(unique)


def with_summed_quantity(frame: DataFrame) -> DataFrame:
    """Identical lines as one row whose quantity is the sum of theirs (no quantity column: 1 each)."""
    summed = F.try_multiply(F.coalesce(F.col("quantity"), F.lit(1)), F.col(COPIES).cast("int"))
    return frame.withColumn("quantity", summed.cast("int"))


def _missing(field: str) -> Column:
    return F.col(RAW_OF.get(field, field)).isNull()


def reason(
    rules: CleaningRules,
    now: dt.datetime,
    excluded_items: Sequence[str] = (),
    excluded_item_pattern: str = "",
) -> Column:
    """The first rule the row breaks, as a quarantine reason; null when it breaks none."""
    time = F.col("event_time")
    quantity, price, event_type = F.col("quantity"), F.col("unit_price"), F.col("event_type")
    checks: list[tuple[Column, str]] = [
        (F.col(CORRUPT).isNotNull(), S.MALFORMED_LINE),
        (~F.col(ORDER_FOUND), S.ORDER_NOT_FOUND),  # null (single-file exports) never matches
    ]
    if rules.quarantine_undecodable:
        checks.append((F.col(RAW_RECORD).contains(REPLACEMENT_CHAR), S.UNDECODABLE_TEXT))
    for field in dict.fromkeys((*ALWAYS_REQUIRED, *rules.extra_required)):
        checks.append((_missing(field), f"{S.MISSING_PREFIX}{field}"))
    checks += [
        (time.isNull(), S.BAD_TIMESTAMP),
        (time < F.lit(utc_midnight(rules.min_event_time)), S.TIMESTAMP_BEFORE_FLOOR),
        (time > F.lit(now + dt.timedelta(minutes=rules.future_tolerance_minutes)), S.FUTURE_TIMESTAMP),
    ]
    if rules.check_file_date:
        checks.append((F.col(FILE_DT).isNotNull() & (F.to_date(time) != F.col(FILE_DT)), S.DATE_MISMATCH))
    checks += [
        (event_type.isNull(), S.UNKNOWN_EVENT_TYPE),
        (
            (F.col("quantity_raw").isNotNull() & quantity.isNull())
            | (F.col("unit_price_raw").isNotNull() & price.isNull())
            | (F.col("sequence_raw").isNotNull() & F.col("sequence").isNull()),
            S.BAD_NUMBER,
        ),
    ]
    is_excluded = F.col("item_id").isin(*excluded_items) if excluded_items else F.lit(False)
    if excluded_item_pattern:
        is_excluded = is_excluded | F.col("item_id").rlike(excluded_item_pattern)
    checks.append((is_excluded, S.NON_PRODUCT_ITEM))
    if rules.positive_quantity_for:
        checks.append((event_type.isin(*rules.positive_quantity_for) & (quantity <= 0), S.NON_POSITIVE_QUANTITY))
    if rules.positive_price_for:
        checks.append((event_type.isin(*rules.positive_price_for) & (price <= 0), S.NON_POSITIVE_PRICE))
    if rules.max_quantity > 0:
        checks.append((quantity > F.lit(rules.max_quantity), S.QUANTITY_OUTLIER))
    result = F.lit(None).cast("string")
    for condition, name in reversed(checks):  # built inside out: the first check wins
        result = F.when(F.coalesce(condition, F.lit(False)), F.lit(name)).otherwise(result)
    return result


def with_reason(
    frame: DataFrame,
    rules: CleaningRules,
    now: dt.datetime,
    excluded_items: Sequence[str] = (),
    excluded_item_pattern: str = "",
) -> DataFrame:
    return frame.withColumn(REASON, reason(rules, now, excluded_items, excluded_item_pattern))


__all__ = [
    "COPIES", "REASON", "SOURCE_FILE", "drop_exact_duplicates", "filter_dates", "reason", "with_dt", "with_reason",
    "with_summed_quantity",
]
