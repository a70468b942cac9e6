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
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Optional

from pyspark.sql import SparkSession

from lib.config import JobConfig
from lib.ingest.flow import date_range, ingest_outputs
from lib.ingest.pseudonymise import key_frame, load_secret
from lib.ingest.read import IngestInputError, input_paths, split_existing
from lib.ingest.settings import (
    CleaningRules, GenericSource, OnlineRetailSource, RetailRocketSource, TaobaoSource, validate,
)
from lib.ingest.sources import source_for
from lib.jobkit import config_from_args, iso_date, job_parser, open_store, run_job
from lib.outputs import read_consistent, start_run, write_outputs
from lib.schemas.events import ITEMS

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
    return date_range(config.params.date_from or config.run_date, config.params.date_to or config.run_date)


def run(spark: SparkSession, config: JobConfig[IngestParams]) -> dict:
    p, tables = config.params, config.catalog()
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
    job_run, store = start_run(JOB, dates[0], f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"), open_store(spark, config)
    existing_items, _ = read_consistent(store, tables, ITEMS, empty_if_missing=True)
    input_path = dict(zip(dates, paths)) if len(paths) == len(dates) > 1 else paths[0]
    result = ingest_outputs(spark, source, p.source, found, input_path, dates, p.cleaning, keys, existing_items,
                            job_run.run_id, now)
    try:
        write_outputs(store, tables, result.outputs, job_run, dates=dates, details={"dates": [str(d) for d in dates]})
    finally:
        result.release()
    return {**result.summary, "pseudonymized": p.pseudonymize}


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
