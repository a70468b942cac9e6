"""Offline evaluation of the recommenders on a time split; tunes ALS and the hybrid, writes the metrics.

    spark-submit jobs/evaluate.py --env local --date 2011-12-09 [--set horizon_days=70 ...]

Reads `events` (and `items`, for the cold-start categories, when it exists), writes the
`evaluation_metrics` partition dt = --date, writes the chosen parameters as TOML for jobs/als.py, and
prints a models x metrics comparison table of the final window.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import sys
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession

from lib.config import JobConfig, join_path, resolve_location
from lib.jobkit import config_from_args, job_parser, run_job
from lib.recs.evaluation import (
    MODELS,
    AlsGrid,
    EvaluationResult,
    HybridChoice,
    HybridGrid,
    RecommenderSettings,
    Selection,
    comparison_table,
    run_evaluation,
    split_windows,
    tuned_config_toml,
)
from lib.recs.metrics import ALL_METRICS
from lib.schemas.evaluation import EVALUATION_METRICS_SCHEMA, WINDOW_FINAL
from lib.schemas.events import EVENTS, ITEMS, ITEMS_SCHEMA
from lib.storage import TableStore

JOB = "evaluate"
log = logging.getLogger("cobuy.evaluate")


@dataclass(frozen=True)
class EvaluateParams:
    k: int = 10
    horizon_days: int = 28  # test days: D - horizon_days + 1 .. D
    tuning_horizon_days: int = 28  # 0: no tuning window, the configured als/hybrid are reported as they are
    train_days: int = 0  # 0: all history before the split
    events_table: str = EVENTS
    items_table: str = ITEMS
    output_table: str = "evaluation_metrics"
    tuned_config_path: str = ""  # "" -> <warehouse>/_tuned/als.toml; "-" -> not written
    run_id: str = ""  # "" -> evaluate-<date>-<random>
    tuning_slices: tuple[str, ...] = ("all",)
    selection: Selection = Selection()
    recommenders: RecommenderSettings = RecommenderSettings()
    als_grid: AlsGrid = AlsGrid()
    hybrid_grid: HybridGrid = HybridGrid()
    hybrid: HybridChoice = field(
        default_factory=lambda: HybridChoice(
            weights={"popularity": 0.0, "buy_again": 1.0, "co_occurrence": 0.5, "als": 0.5},
            normalisation="rank",
        )
    )


def parse_args(argv: Sequence[str]) -> JobConfig[EvaluateParams]:
    parser = job_parser(JOB, "Time-split evaluation of popularity, buy-again, co-occurrence, ALS and hybrid")
    parser.add_argument("--k", type=int, default=None, help="cut-off K (overrides config k)")
    args = parser.parse_args(argv)
    extra = [f"k={args.k}"] if args.k is not None else []
    return config_from_args(JOB, EvaluateParams, args, extra_overrides=extra)


def tuned_config_location(config: JobConfig[EvaluateParams]) -> str | None:
    path = config.params.tuned_config_path
    if path == "-":
        return None
    if not path:
        return join_path(config.storage.warehouse, "_tuned", "als.toml")
    return resolve_location(path)


def metrics_frame(spark: SparkSession, result: EvaluationResult, run_id: str, run_date: dt.date) -> DataFrame:
    """The result's rows (bounded: grid size x models x slices x metrics) as EVALUATION_METRICS_SCHEMA."""
    rows = [{**row, "run_id": run_id, "dt": run_date} for row in result.rows]
    ordered = [tuple(row[f.name] for f in EVALUATION_METRICS_SCHEMA.fields) for row in rows]
    return spark.createDataFrame(ordered, EVALUATION_METRICS_SCHEMA)


def write_text(location: str, text: str) -> None:
    if "://" in location and not location.startswith("file://"):
        raise ValueError(f"tuned_config_path must be a local path, got '{location}'")
    path = Path(location.removeprefix("file://"))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def run(spark: SparkSession, config: JobConfig[EvaluateParams]) -> dict:
    params = config.params
    if config.storage.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(config.storage.checkpoint_dir)
    store = TableStore(spark, config.storage.warehouse, config.storage.engine, config.storage.allow_schema_evolution)
    windows = split_windows(config.run_date, params.horizon_days, params.train_days, params.tuning_horizon_days)
    first_day = windows[0].train_start  # None: all history
    events = store.read(params.events_table, start=first_day, end=config.run_date)
    items = store.read(params.items_table, empty_schema=ITEMS_SCHEMA)
    run_id = params.run_id or f"evaluate-{config.run_date.isoformat()}-{uuid.uuid4().hex[:8]}"

    result = run_evaluation(
        events, items, config.run_date, params.horizon_days, params.train_days, params.tuning_horizon_days,
        params.k, params.recommenders, params.als_grid, params.hybrid_grid, params.hybrid, params.selection,
        params.tuning_slices,
    )
    frame = metrics_frame(spark, result, run_id, config.run_date)
    store.replace_partitions(params.output_table, frame, dates=[config.run_date])

    tuned_at = tuned_config_location(config)
    if tuned_at:
        write_text(tuned_at, tuned_config_toml(result.chosen, result.windows, run_id))

    print(f"\nEvaluation {run_id}")
    for window in result.windows:
        print(f"  {window.describe()}; split counts: {result.counts[window.name]}")
    print(f"  chosen ALS {dataclasses.asdict(result.chosen.als)}")
    print(f"  chosen hybrid {result.chosen.hybrid.as_dict()} (tuned: {result.chosen.tuned})")
    print(f"\nFinal window, K = {params.k} (selected parameters):")
    print(comparison_table(result.rows, WINDOW_FINAL, ALL_METRICS))
    if tuned_at:
        print(f"\nChosen parameters written to {tuned_at}")
    final = {(r["model"], r["slice"], r["metric"]): r["value"] for r in result.rows
             if r["window"] == WINDOW_FINAL and r["selected"]}
    return {
        "run_id": run_id,
        "rows": len(result.rows),
        "tuned_config": tuned_at,
        "ndcg_all": {m: final.get((m, "all", "ndcg")) for m in MODELS},
        "recall_new_items": {m: final.get((m, "new_items", "recall")) for m in MODELS},
    }


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
