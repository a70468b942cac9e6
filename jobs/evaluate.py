"""Offline evaluation of what is served, on a time split; tunes ALS and the hybrid, writes the metrics.

    spark-submit jobs/evaluate.py --env local --date 2011-12-09 [--set horizon_days=70 ...]

Reads `events` and `items`; writes `evaluation_metrics` and `tuned_parameters` (dt = --date; the
ALS job serves the selected rows) and prints a models x metrics table of the final window.
Every model's list comes from the serving function jobs/als.py uses, with conf/recommender.toml.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lib.config import JobConfig
from lib.jobkit import config_from_args, job_parser, open_store, run_job
from lib.outputs import read_consistent, read_inputs, start_run, write_outputs
from lib.recs.evaluation import AlsGrid, HybridGrid, Search, run_evaluation
from lib.recs.evaluation_report import evaluation_outputs, evaluation_summary
from lib.recs.serving import RecommenderConfig, check_sources
from lib.recs.sources import sources_for
from lib.schemas.events import EVENTS, ITEMS

JOB = "evaluate"


@dataclass(frozen=True)
class EvaluateParams:
    horizon_days: int = 28  # test days: D - horizon_days + 1 .. D
    tuning_horizon_days: int = 28  # 0: no tuning window, the recommender config is reported as it is
    run_id: str = ""  # "" -> evaluate-<date>-<random>
    selection_metric: str = "ndcg"
    tuning_slices: tuple[str, ...] = ()
    recommender: RecommenderConfig = RecommenderConfig()  # conf/recommender.toml
    als_grid: AlsGrid = AlsGrid()
    hybrid_grid: HybridGrid = HybridGrid()

    def __post_init__(self) -> None:
        if self.horizon_days < 1 or self.tuning_horizon_days < 0:
            raise ValueError("key 'horizon_days' must be >= 1 and 'tuning_horizon_days' >= 0")
        check_sources(self.recommender, sources_for(self.recommender))
        self.hybrid_grid.points(sources_for(self.recommender))


def parse_args(argv: Sequence[str]) -> JobConfig[EvaluateParams]:
    parser = job_parser(JOB, "Time-split evaluation of every candidate source and the hybrid, as served")
    parser.add_argument("--k", type=int, default=None, help="cut-off K (overrides recommender.k)")
    args = parser.parse_args(argv)
    extra = [f"recommender.k={args.k}"] if args.k is not None else []
    return config_from_args(JOB, EvaluateParams, args, extra_overrides=extra, shared=("recommender",))


def run(spark: SparkSession, config: JobConfig[EvaluateParams]) -> dict:
    params, tables = config.params, config.catalog()
    job_run, store = start_run(JOB, config.run_date, params.run_id), open_store(spark, config)
    if config.storage.checkpoint_dir:
        spark.sparkContext.setCheckpointDir(config.storage.checkpoint_dir)
    events, _ = read_consistent(store, tables, EVENTS, end=config.run_date)
    search = Search(params.recommender, params.als_grid, params.hybrid_grid, params.selection_metric,
                    params.tuning_slices, sources_for(params.recommender))
    inputs = read_inputs(store, tables, {ITEMS, *[i for src in search.sources.values() for i in src.inputs]})
    result = run_evaluation(events, inputs, config.run_date, params.horizon_days, params.tuning_horizon_days, search)
    outputs = evaluation_outputs(spark, result, job_run.run_id, config.run_date)
    write_outputs(store, tables, outputs, job_run, details={"selection": result.selection})
    summary, text = evaluation_summary(result, job_run.run_id, params.recommender.k)
    print(text)
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
