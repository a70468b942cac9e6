"""Print what the pipeline wrote: every Delta table in the warehouse with its row counts, then the
highlights (strongest rules, sample recommendations, evaluation) where those tables exist.

    spark-submit jobs/summary.py --env local --date 2024-03-31
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.config import JobConfig, resolve_location
from lib.jobkit import config_from_args, job_parser, run_job
from lib.recs.evaluation import comparison_table
from lib.recs.metrics import ALL_METRICS
from lib.rules.report import format_rule_lines, top_rules
from lib.schemas.evaluation import EVALUATION_METRICS, WINDOW_FINAL
from lib.schemas.events import ITEMS
from lib.schemas.recs import USER_RECOMMENDATIONS
from lib.schemas.rules import ASSOCIATION_RULES
from lib.storage import TableStore
from lib.summary import TableOverview, render_overview

JOB = "summary"


@dataclass(frozen=True)
class SummaryParams:
    top_n: int = 10
    report_file: str = ""  # also write the report here (relative to the project root)


def parse_args(argv: Sequence[str]) -> JobConfig[SummaryParams]:
    parser = job_parser(JOB, "Print the tables a run wrote and its highlights.")
    return config_from_args(JOB, SummaryParams, parser.parse_args(argv))


def warehouse_tables(warehouse: str) -> list[str]:
    root = Path(warehouse)
    return sorted(p.name for p in root.iterdir() if (p / "_delta_log").is_dir()) if root.is_dir() else []


def overview(store: TableStore, table: str, config: JobConfig[SummaryParams]) -> TableOverview:
    frame = store.read(table)
    version = store.history(table, 1)[0].get("version", 0)
    on_date = None
    if "dt" in frame.columns:
        counts = frame.agg(F.count("*"), F.sum(F.when(F.col("dt") == config.run_date, 1).otherwise(0))).first()
        total, on_date = counts[0], counts[1] or 0
    else:
        total = frame.count()
    return TableOverview(table, int(version), int(total), on_date)


def highlights(store: TableStore, config: JobConfig[SummaryParams]) -> list[str]:
    """The run's headline results, for each output table that exists."""
    day, top_n = config.run_date, config.params.top_n
    sections = []
    if store.exists(ASSOCIATION_RULES):
        rules = store.read(ASSOCIATION_RULES, start=day, end=day)
        lines = format_rule_lines(top_rules(rules, top_n).collect())  # at most top_n rows
        sections.append(f"=== the {len(lines)} strongest kept rules (dt={day}) ===\n" + "\n".join(lines))
    if store.exists(USER_RECOMMENDATIONS):
        sections.append(recommendation_sample(store, config))
    if store.exists(EVALUATION_METRICS):
        rows = [r.asDict() for r in selected_final_metrics(store.read(EVALUATION_METRICS, start=day, end=day)).collect()]
        sections.append(
            f"=== evaluation (dt={day}, final window, selected parameters) ===\n"
            + comparison_table(rows, WINDOW_FINAL, ALL_METRICS)
        )
    return sections


def selected_final_metrics(metrics: DataFrame) -> DataFrame:
    """The chosen grid point of the final window: models x slices x metrics rows (a few dozen)."""
    return metrics.where((F.col("window") == WINDOW_FINAL) & F.col("selected"))


def recommendation_sample(store: TableStore, config: JobConfig[SummaryParams]) -> str:
    """Top-5 lists of three users, with item titles, and how many users got lists from which source."""
    day = config.run_date
    recs = store.read(USER_RECOMMENDATIONS, start=day, end=day)
    by_source = recs.groupBy("source").agg(F.countDistinct("user_id").alias("users")).orderBy("source")
    titles = store.read(ITEMS).select("item_id", "title")
    users = recs.select("user_id").distinct().orderBy("user_id").limit(3)
    sample = (
        recs.where(F.col("rank") <= 5)
        .join(users, on="user_id", how="inner")
        .join(titles, on="item_id", how="left")
        .orderBy("user_id", "rank")
        .collect()  # 3 users x 5 ranks
    )
    lines = [f"=== user recommendations (dt={day}) ==="]
    lines.append("users per source: " + ", ".join(f"{r['source']} {r['users']:,}" for r in by_source.collect()))
    for row in sample:
        lines.append(f"{row['user_id'][:12]}…  #{row['rank']}  {row['title'] or row['item_id']}  ({row['source']}, {row['score']:.3f})")
    return "\n".join(lines)


def run(spark: SparkSession, config: JobConfig[SummaryParams]) -> str:
    store = TableStore(spark, config.storage.warehouse, config.storage.engine)
    tables = warehouse_tables(config.storage.warehouse)
    sections = [
        f"=== cobuy: tables in {config.storage.warehouse} ({store.engine_name} Delta engine) ===\n"
        + render_overview([overview(store, t, config) for t in tables], str(config.run_date)),
    ]
    sections.extend(highlights(store, config))
    report = "\n\n".join(sections) + "\n"
    print(report)
    if config.params.report_file:
        target = Path(resolve_location(config.params.report_file))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(report)
    return f"{len(tables)} tables summarised"


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
