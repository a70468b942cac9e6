"""The report people look at: rule trends (D against D - compare_days) as the `rule_trends` table, and
one self-contained HTML page of charts and compact tables per run date under <warehouse>/_reports/.

    spark-submit jobs/report.py --env local --date 2024-03-31
"""

from __future__ import annotations

import datetime as dt
import logging
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.config import JobConfig, join_path, require
from lib.catalog import Catalog
from lib.jobkit import config_from_args, job_parser, open_store, run_job
from lib.outputs import read_consistent, start_run, write_outputs
from lib.progress import Progress
from lib.report.build import Limits, ReportInputs, build_report
from lib.report.extract import trend_counts
from lib.report.publish import write_text
from lib.recs.metrics import ALL_METRICS
from lib.rules.trends import rule_trends
from lib.schemas.evaluation import EVALUATION_METRICS, SLICES
from lib.schemas.events import ITEMS
from lib.schemas.ingest import INGEST_AUDIT
from lib.schemas.report import REPORTS_DIR, RULE_TRENDS
from lib.schemas.rules import ASSOCIATION_RULES, BOUGHT_TOGETHER, BUNDLES, CATEGORY_RULES
from lib.storage import TableStore

JOB = "report"
log = logging.getLogger("cobuy")

DEFAULT_OPTIONAL = types.MappingProxyType({
    "similar_items_text": "Similar products by text",
    "purchase_paths": "Purchase paths",
    "next_items": "Bought next",
    "item_communities": "Product graph: communities",
    "cross_category_bridges": "Product graph: cross-category bridges",
})


@dataclass(frozen=True)
class ReportParams:
    compare_days: int = 7
    alpha: float = 0.05
    selection_metric: str = "ndcg"
    selection_slice: str = "all"
    output_dir: str = ""  # "" -> <warehouse>/_reports
    limits: Limits = field(default_factory=Limits)
    optional_tables: Mapping[str, str] = field(default_factory=lambda: DEFAULT_OPTIONAL)


def validate(params: ReportParams, source: str) -> ReportParams:
    checks = [
        ("compare_days", params.compare_days >= 1, "at least 1", params.compare_days),
        ("alpha", 0.0 < params.alpha < 1.0, "in (0, 1)", params.alpha),
        ("selection_metric", params.selection_metric in ALL_METRICS, f"one of {', '.join(ALL_METRICS)}",
         params.selection_metric),
        ("selection_slice", params.selection_slice in SLICES, f"one of {', '.join(SLICES)}", params.selection_slice),
    ]
    checks += [(f"limits.{name}", value >= 1, "at least 1", value) for name, value in vars(params.limits).items()]
    require(checks, source)
    return params


def parse_args(argv: Sequence[str]) -> JobConfig[ReportParams]:
    parser = job_parser(JOB, "Write rule_trends and the HTML report of --date.")
    return config_from_args(JOB, ReportParams, parser.parse_args(argv), validate=validate)


def report_location(config: JobConfig[ReportParams]) -> str:
    folder = config.params.output_dir or join_path(config.storage.warehouse, REPORTS_DIR)
    return join_path(folder, f"report-{config.run_date}.html")


def read_day(store: TableStore, tables: Catalog, name: str, day: dt.date) -> DataFrame | None:
    """The run date's rows as the producer's latest complete run left them (all rows when the table has
    no dt); None when the table is not catalogued or does not exist yet."""
    if name not in tables.tables or not store.exists(tables.physical(name)):
        return None
    bounds = {"start": day, "end": day} if "dt" in tables.table(name).partition_by else {}
    return read_consistent(store, tables, name, **bounds)[0]


def read_optional(store: TableStore, tables: Catalog, name: str, day: dt.date) -> DataFrame | None:
    """An optional section's table: catalogued ones as their latest complete run left them; a table the
    catalogue does not know (a shop's own, named in [optional_tables]) at its newest version."""
    if name in tables.tables:
        return read_day(store, tables, name, day)
    if not store.exists(name):
        return None
    frame = store.read(name)
    return frame.where(F.col("dt") == F.lit(day)) if "dt" in frame.columns else frame


def rule_trend_outputs(
    store: TableStore, tables: Catalog, day: dt.date, previous: dt.date, alpha: float
) -> dict[str, DataFrame]:
    """{rule_trends: trends of `day` against `previous`}; empty when `day` has no rules to compare."""
    current = read_day(store, tables, ASSOCIATION_RULES, day)
    if current is None or not current.limit(1).count():
        log.warning("no %s on %s: %s is not written (run fpgrowth for that date first)", ASSOCIATION_RULES, day,
                    RULE_TRENDS)
        return {}
    return {RULE_TRENDS: rule_trends(current, read_day(store, tables, ASSOCIATION_RULES, previous), day, previous,
                                     alpha)}


def run(spark: SparkSession, config: JobConfig[ReportParams]) -> str:
    params, day, tables = config.params, config.run_date, config.catalog()
    previous = day - dt.timedelta(days=params.compare_days)
    job_run, store, progress = start_run(JOB, day), open_store(spark, config), Progress(JOB, log)
    with progress.stage(f"{RULE_TRENDS} {day} vs {previous}") as stage:
        write_outputs(store, tables, rule_trend_outputs(store, tables, day, previous, params.alpha), job_run)
        trends = read_day(store, tables, RULE_TRENDS, day)
        counts = {r["change"]: r["rules"] for r in trend_counts(trends).collect()} if trends is not None else {}
        stage.rows = sum(counts.values())  # trend_counts: at most 5 rows
    first_audit_day = day - dt.timedelta(days=params.limits.audit_days - 1)
    audit = (read_consistent(store, tables, INGEST_AUDIT, start=first_audit_day, end=day)[0]
             if store.exists(tables.physical(INGEST_AUDIT)) else None)
    named = {n: read_day(store, tables, n, day) for n in (ASSOCIATION_RULES, BOUGHT_TOGETHER, BUNDLES,
                                                           CATEGORY_RULES, RULE_TRENDS, EVALUATION_METRICS, ITEMS)}
    optional = {n: frame for n in params.optional_tables if (frame := read_optional(store, tables, n, day)) is not None}
    inputs = ReportInputs(ingest_audit=audit, optional=optional, **named)
    report = build_report(inputs, day, previous, params.limits, params.optional_tables, params.selection_metric,
                          params.selection_slice, dt.datetime.now(dt.timezone.utc), progress)
    location = report_location(config)
    with progress.stage("write html") as stage:
        size = write_text(spark, location, report.html)
        stage.rows = len(report.sections)
    trend_text = ", ".join(f"{k} {v}" for k, v in counts.items()) or "no rules"
    return (f"report {location} ({size / 1024:.0f} KiB, {len(report.sections)} sections, {report.charts} charts); "
            f"rule trends: {trend_text}")


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
