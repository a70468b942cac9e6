"""Ingest raw shop exports into the canonical tables: events, items, quarantine, ingest_audit.

    spark-submit jobs/ingest.py --env local --date 2024-03-01
    spark-submit jobs/ingest.py --env local --from 2010-12-01 --to 2011-12-09 \
        --set source=online_retail --input ../shared/datasets/online_retail

Every input row ends up accepted (events), removed as an exact duplicate, or in quarantine with a
reason; the job checks that per date before writing anything.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.config import JobConfig
from lib.ingest.audit import (
    audit_frame, check_quarantine_share, count_files, files_frame, quarantine_examples, reconcile, reconcile_files,
)
from lib.ingest.cleaning import filter_dates, with_dt
from lib.ingest.items import items_from_events, upsert_items
from lib.ingest.pipeline import (
    accepted_rows, classify, duplicates_by_date, to_event_sequences, to_events, to_quarantine, with_public_ids,
)
from lib.ingest.pseudonymise import key_frame, load_secret
from lib.ingest.read import IngestInputError, input_paths, split_existing
from lib.ingest.settings import (
    CleaningRules, GenericSource, OnlineRetailSource, RetailRocketSource, TaobaoSource, validate,
)
from lib.ingest.sources import source_for
from lib.jobkit import config_from_args, iso_date, job_parser, run_job
from lib.schemas.events import EVENTS, ITEMS, ITEMS_SCHEMA
from lib.schemas.ingest import EVENT_SEQUENCES, INGEST_AUDIT, INGEST_FILES, QUARANTINE
from lib.storage import TableStore

JOB = "ingest"
log = logging.getLogger("cobuy.ingest")


@dataclass(frozen=True)
class IngestParams:
    source: str = "generic"  # generic | online_retail | retailrocket | taobao
    input: str = ""  # file, folder or glob overriding the source's path_template (--input)
    date_from: Optional[dt.date] = None  # --from (default: --date)
    date_to: Optional[dt.date] = None  # --to (default: --date)
    pseudonymize: bool = True
    secret_env: str = "COBUY_PSEUDONYM_SECRET"  # environment variable holding the secret
    secret_file: str = ""  # or a file holding it (takes precedence)
    cleaning: CleaningRules = field(default_factory=CleaningRules)
    generic: GenericSource = field(default_factory=GenericSource)
    online_retail: OnlineRetailSource = field(default_factory=OnlineRetailSource)
    retailrocket: RetailRocketSource = field(default_factory=RetailRocketSource)
    taobao: TaobaoSource = field(default_factory=TaobaoSource)


def parse_args(argv: Sequence[str]) -> JobConfig[IngestParams]:
    # --date is optional here: --from/--to may replace it
    parser = job_parser(JOB, "Raw shop exports -> events, items, quarantine, ingest_audit", date_required=False)
    parser.add_argument("--from", dest="date_from", type=iso_date, help="first date of a range")
    parser.add_argument("--to", dest="date_to", type=iso_date, help="last date of a range")
    parser.add_argument("--input", default=None, help="file, folder or glob to read instead of the landing path")
    args = parser.parse_args(argv)
    if args.date and (args.date_from or args.date_to):
        parser.error("give either --date or --from/--to, not both")
    if not args.date and not (args.date_from and args.date_to):
        parser.error("give --date D, or --from D1 --to D2")
    if args.date_from and args.date_to and args.date_from > args.date_to:
        parser.error(f"--from {args.date_from} is after --to {args.date_to}")
    extra = []
    if args.date_from:
        extra += [f"date_from={args.date_from}", f"date_to={args.date_to}"]
        args.date = args.date_from
    if args.input is not None:
        extra.append(f"input={json.dumps(args.input)}")
    config = config_from_args(JOB, IngestParams, args, extra_overrides=extra)
    p = config.params
    validate(p.source, p.cleaning, p.generic, p.online_retail, config.sources[0])
    return config


def run_dates(config: JobConfig[IngestParams]) -> list[dt.date]:
    start = config.params.date_from or config.run_date
    end = config.params.date_to or config.run_date
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _by_date(frame: DataFrame, value: str = "n") -> dict[dt.date, int]:
    return {row["dt"]: int(row[value] or 0) for row in frame.collect()}  # one row per date


def run(spark: SparkSession, config: JobConfig[IngestParams]) -> dict:
    p = config.params
    dates = run_dates(config)
    source = source_for(p.source, getattr(p, p.source), config.storage.landing, dates)
    keys = key_frame(spark, load_secret(p.secret_env, p.secret_file)) if p.pseudonymize else None
    paths = input_paths(source.settings.path_template, config.storage.landing, dates, p.input)
    found, missing = split_existing(spark, paths)
    if missing and (p.input or not found or not source.settings.allow_missing_dates):
        raise IngestInputError(f"input path(s) not found: {', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
    if missing:
        log.warning("no input for %d date(s) (their partitions are emptied): %s", len(missing), ", ".join(missing[:5]))

    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    raw = source.read(spark, found)
    dated = with_dt(source.stage(raw.frame), p.cleaning, now, undated=dates[0]).persist(StorageLevel.MEMORY_AND_DISK)
    published = None
    started = time.monotonic()
    try:
        read_by_date = _by_date(dated.groupBy("dt").agg(F.count(F.lit(1)).alias("n")))
        input_rows = {d: n for d, n in read_by_date.items() if dates[0] <= d <= dates[-1]}
        outside = sum(read_by_date.values()) - sum(input_rows.values())
        if not read_by_date:
            raise IngestInputError(f"empty input: no rows in {', '.join(found[:5])}")
        if not input_rows:
            raise IngestInputError(f"no rows dated {dates[0]}..{dates[-1]} in {', '.join(found[:5])} ({outside} rows for other dates)")
        files = reconcile_files(count_files(spark, raw.files))  # raw lines = header + blank + parsed, per file

        classified = classify(
            filter_dates(dated, dates[0], dates[-1]), p.cleaning, now, source.excluded_items, source.excluded_item_pattern,
            sum_repeated=source.sum_repeated,
        )
        published = with_public_ids(classified, keys, p.source, source.user_column, raw.record_text, source.keyed_fields).persist(
            StorageLevel.MEMORY_AND_DISK
        )
        events = to_events(published, p.source)
        quarantine = to_quarantine(published, run_id, p.source)
        accepted = _by_date(events.groupBy("dt").agg(F.count(F.lit(1)).alias("n")))
        duplicates = _by_date(duplicates_by_date(published), "duplicates")
        quarantined = {
            (row["dt"], row["reason"]): int(row["n"])
            for row in quarantine.groupBy("dt", "reason").agg(F.count(F.lit(1)).alias("n")).collect()
        }  # bounded: dates x reasons
        counts = reconcile(dates, input_rows, accepted, duplicates, quarantined)
        check_quarantine_share(counts, p.cleaning.max_quarantine_share, lambda: quarantine_examples(quarantine))
        log.info("read, cleaned and reconciled %d rows in %.1fs", sum(input_rows.values()), time.monotonic() - started)

        store = TableStore(spark, config.storage.warehouse, config.storage.engine, config.storage.allow_schema_evolution)
        store.replace_partitions(QUARANTINE, quarantine.repartition("dt"), dates=dates)
        store.replace_partitions(EVENTS, events.repartition("dt"), dates=dates)
        existing_items = store.read(ITEMS, empty_schema=ITEMS_SCHEMA)
        store.overwrite(ITEMS, upsert_items(existing_items, items_from_events(accepted_rows(published))), partition_by=())
        input_path = dict(zip(dates, paths)) if len(paths) == len(dates) > 1 else paths[0]
        repeated = "kept" if not p.cleaning.drop_exact_duplicates else "sum" if source.sum_repeated else "collapse"
        audit = audit_frame(spark, counts, run_id, p.source, input_path, now, source.event_time_from, repeated)
        store.replace_partitions(INGEST_AUDIT, audit, dates=dates)
        store.replace_partitions(INGEST_FILES, files_frame(spark, files, dates, run_id, p.source), dates=dates)
        if source.has_sequence:
            store.replace_partitions(EVENT_SEQUENCES, to_event_sequences(published).repartition("dt"), dates=dates)
        log.info("wrote %s, %s, %s, %s in %.1fs", QUARANTINE, EVENTS, ITEMS, INGEST_AUDIT, time.monotonic() - started)
    finally:
        dated.unpersist()
        if published is not None:
            published.unpersist()

    by_reason: dict[str, int] = {}
    for c in counts:
        for reason, n in c.quarantined_by_reason.items():
            by_reason[reason] = by_reason.get(reason, 0) + n
    return {
        "run_id": run_id,
        "source": p.source,
        "dates": f"{dates[0]}..{dates[-1]}",
        "input_rows": sum(c.input_rows for c in counts),
        "accepted": sum(c.accepted for c in counts),
        "duplicates": sum(c.duplicates for c in counts),
        "quarantined": sum(c.quarantined for c in counts),
        "quarantined_by_reason": dict(sorted(by_reason.items())),
        "rows_for_other_dates": outside,
        "raw_lines": sum(f.raw_lines or 0 for f in files),
        "pseudonymized": p.pseudonymize,
    }


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
