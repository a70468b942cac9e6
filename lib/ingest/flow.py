"""The ingest job's flow: raw files of a date range in, events / quarantine / items / ingest_audit out.

Every input row ends up accepted (events), removed as an exact duplicate, or in quarantine with a
reason; `reconcile` checks that per date before anything is returned for writing.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.ingest.audit import (
    audit_frame, check_quarantine_share, count_files, files_frame, quarantine_examples, reconcile, reconcile_files,
)
from lib.ingest.cleaning import filter_dates, with_dt
from lib.ingest.items import items_from_events, upsert_items
from lib.ingest.pipeline import (
    accepted_rows, classify, duplicates_by_date, to_event_sequences, to_events, to_quarantine, with_public_ids,
)
from lib.ingest.read import IngestInputError
from lib.ingest.settings import CleaningRules
from lib.schemas.events import EVENTS, ITEMS
from lib.schemas.ingest import EVENT_SEQUENCES, INGEST_AUDIT, INGEST_FILES, QUARANTINE

log = logging.getLogger(__name__)


def date_range(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]


def _by_date(frame: DataFrame, value: str = "n") -> dict[dt.date, int]:
    return {row["dt"]: int(row[value] or 0) for row in frame.collect()}  # one row per date


def repeated_lines(drop_exact_duplicates: bool, sum_repeated: bool) -> str:
    """How identical lines were treated, for the audit: kept, summed into quantity, or collapsed."""
    return "kept" if not drop_exact_duplicates else "sum" if sum_repeated else "collapse"


@dataclass
class IngestRun:
    outputs: dict[str, DataFrame] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    persisted: list[Callable[[], object]] = field(default_factory=list)

    def release(self) -> None:
        for unpersist in self.persisted:
            unpersist()


def ingest_outputs(
    spark: SparkSession,
    source: Any,  # lib.ingest.sources.Source
    source_name: str,
    found: Sequence[str],
    input_path: str | Mapping[dt.date, str],
    dates: Sequence[dt.date],
    cleaning: CleaningRules,
    keys: DataFrame | None,
    existing_items: DataFrame,
    run_id: str,
    now: dt.datetime,
) -> IngestRun:
    """Read, clean, classify, pseudonymise and reconcile; the outputs are ready to write (dates = `dates`)."""
    raw = source.read(spark, found)
    dated = with_dt(source.stage(raw.frame), cleaning, now, undated=dates[0]).persist(StorageLevel.MEMORY_AND_DISK)
    run = IngestRun(persisted=[dated.unpersist])
    started = time.monotonic()
    read_by_date = _by_date(dated.groupBy("dt").agg(F.count(F.lit(1)).alias("n")))
    input_rows = {d: n for d, n in read_by_date.items() if dates[0] <= d <= dates[-1]}
    outside = sum(read_by_date.values()) - sum(input_rows.values())
    if not read_by_date:
        run.release()
        raise IngestInputError(f"empty input: no rows in {', '.join(found[:5])}")
    if not input_rows:
        run.release()
        raise IngestInputError(
            f"no rows dated {dates[0]}..{dates[-1]} in {', '.join(found[:5])} ({outside} rows for other dates)"
        )
    files = reconcile_files(count_files(spark, raw.files))  # raw lines = header + blank + parsed, per file
    classified = classify(
        filter_dates(dated, dates[0], dates[-1]), cleaning, now, source.excluded_items, source.excluded_item_pattern,
        sum_repeated=source.sum_repeated,
    )
    published = with_public_ids(
        classified, keys, source_name, source.user_column, raw.record_text, source.keyed_fields
    ).persist(StorageLevel.MEMORY_AND_DISK)
    run.persisted.append(published.unpersist)
    events = to_events(published, source_name)
    quarantine = to_quarantine(published, run_id, source_name)
    accepted = _by_date(events.groupBy("dt").agg(F.count(F.lit(1)).alias("n")))
    duplicates = _by_date(duplicates_by_date(published), "duplicates")
    quarantined = {
        (row["dt"], row["reason"]): int(row["n"])
        for row in quarantine.groupBy("dt", "reason").agg(F.count(F.lit(1)).alias("n")).collect()
    }  # bounded: dates x reasons
    counts = reconcile(list(dates), input_rows, accepted, duplicates, quarantined)
    check_quarantine_share(counts, cleaning.max_quarantine_share, lambda: quarantine_examples(quarantine))
    log.info("read, cleaned and reconciled %d rows in %.1fs", sum(input_rows.values()), time.monotonic() - started)
    run.outputs = {
        QUARANTINE: quarantine.repartition("dt"),
        EVENTS: events.repartition("dt"),
        ITEMS: upsert_items(existing_items, items_from_events(accepted_rows(published))),
        INGEST_AUDIT: audit_frame(spark, counts, run_id, source_name, input_path, now, source.event_time_from,
                                  repeated_lines(cleaning.drop_exact_duplicates, source.sum_repeated)),
        INGEST_FILES: files_frame(spark, files, dates, run_id, source_name),
    }
    if source.has_sequence:
        run.outputs[EVENT_SEQUENCES] = to_event_sequences(published).repartition("dt")
    by_reason: dict[str, int] = {}
    for c in counts:
        for reason, n in c.quarantined_by_reason.items():
            by_reason[reason] = by_reason.get(reason, 0) + n
    run.summary = {
        "run_id": run_id,
        "source": source_name,
        "dates": f"{dates[0]}..{dates[-1]}",
        "input_rows": sum(c.input_rows for c in counts),
        "accepted": sum(c.accepted for c in counts),
        "duplicates": sum(c.duplicates for c in counts),
        "quarantined": sum(c.quarantined for c in counts),
        "quarantined_by_reason": dict(sorted(by_reason.items())),
        "rows_for_other_dates": outside,
        "raw_lines": sum(f.raw_lines or 0 for f in files),
    }
    return run
