"""The pure middle of the ingest job: staged rows -> classified rows -> events / quarantine / counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lib.ingest.cleaning import COPIES, REASON, drop_exact_duplicates, with_reason, with_summed_quantity
from lib.ingest.pseudonymise import with_pseudonym
from lib.ingest.settings import CleaningRules
from lib.schemas.events import EVENTS_SCHEMA
from lib.schemas.ingest import EVENT_SEQUENCES_SCHEMA, CORRUPT, QUARANTINE_SCHEMA, RAW, RAW_RECORD, SOURCE_FILE

PUBLIC_RECORD = "_public_record"
EVENT_ID_LENGTH = 32


def classify(
    dated: DataFrame,
    rules: CleaningRules,
    now: dt.datetime,
    excluded_items: Sequence[str] = (),
    excluded_item_pattern: str = "",
    sum_repeated: bool = False,
) -> DataFrame:
    """Collapse exact duplicates (`_copies`; with `sum_repeated` their quantities add up), then name
    the first rule each row breaks (`reason`)."""
    collapsed = dated.transform(drop_exact_duplicates, enabled=rules.drop_exact_duplicates)
    if sum_repeated:
        collapsed = collapsed.transform(with_summed_quantity)
    return (
        collapsed
        .transform(with_reason, rules=rules, now=now, excluded_items=excluded_items,
                   excluded_item_pattern=excluded_item_pattern)
    )


def public_record(user_column: str | None, record_text: Callable[[Column], Column], pseudonymised: bool) -> Column:
    """The record as text with its user id replaced by the pseudonym; a malformed line stays verbatim."""
    if not (pseudonymised and user_column):
        return F.col(RAW_RECORD)
    rebuilt = record_text(F.col(RAW).withField(user_column, F.col("user_id")))
    return F.when(F.col(CORRUPT).isNotNull(), F.col(RAW_RECORD)).otherwise(rebuilt)


def with_public_ids(
    classified: DataFrame,
    keys: DataFrame | None,
    source: str,
    user_column: str | None,
    record_text: Callable[[Column], Column],
    keyed_fields: Sequence[str] = (),
) -> DataFrame:
    """Pseudonymise user ids (and `keyed_fields`: composite keys made with the user's id), then
    derive missing event ids from the source and the (public) record."""
    for name in keyed_fields if keys is not None else ():
        classified = with_pseudonym(classified, keys, column=name)
    derived_id = F.substring(
        F.sha2(F.concat_ws("\u0001", F.lit(source), F.col(PUBLIC_RECORD)), 256), 1, EVENT_ID_LENGTH
    )
    return (
        with_pseudonym(classified, keys)
        .withColumn(PUBLIC_RECORD, public_record(user_column, record_text, keys is not None))
        .withColumn("event_id", F.coalesce(F.col("event_id"), derived_id))
    )


def to_events(published: DataFrame, source: str) -> DataFrame:
    accepted = published.filter(F.col(REASON).isNull()).withColumn("source", F.lit(source))
    return accepted.select(*[F.col(f.name).cast(f.dataType) for f in EVENTS_SCHEMA.fields])


def to_quarantine(published: DataFrame, run_id: str, source: str) -> DataFrame:
    rejected = published.filter(F.col(REASON).isNotNull())
    return rejected.select(
        F.col("dt"),
        F.lit(run_id).alias("run_id"),
        F.lit(source).alias("source"),
        F.col(SOURCE_FILE).alias("source_file"),
        F.col(REASON).alias("reason"),
        F.col(PUBLIC_RECORD).alias("raw_record"),
    ).select(*[F.col(f.name).cast(f.dataType) for f in QUARANTINE_SCHEMA.fields])


def to_event_sequences(published: DataFrame) -> DataFrame:
    """Accepted events that carry a position in their basket (cart order)."""
    with_sequence = published.filter(F.col(REASON).isNull() & F.col("sequence").isNotNull())
    return with_sequence.select(
        *[F.col(f.name).cast(f.dataType) for f in EVENT_SEQUENCES_SCHEMA.fields]
    )


def accepted_rows(published: DataFrame) -> DataFrame:
    return published.filter(F.col(REASON).isNull())


def duplicates_by_date(published: DataFrame) -> DataFrame:
    return published.groupBy("dt").agg(F.sum(F.col(COPIES) - 1).alias("duplicates"))
