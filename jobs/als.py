"""Implicit-feedback ALS: factors, served top-K recommendations per active user, similar items.

    spark-submit jobs/als.py --env local --date 2024-03-31 [--set recommender.serve=hybrid ...]

Reads `events` of the recommender's window ending at --date, `items` (cold start), the
`bought_together` of the latest fpgrowth run dated before --date, the id maps, and the parameters
jobs/evaluate.py selected last (`tuned_parameters`, dated <= --date); writes the id maps,
`user_factors`, `item_factors`, `user_recommendations` and `similar_items` (dt = --date) and records
the parameters it served in `job_runs`. The model is saved under <warehouse>/_models/als/dt=<date>/.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import SparkSession

from lib.config import JobConfig, join_path
from lib.dates import window_first_day
from lib.jobkit import config_from_args, job_parser, open_store, run_job
from lib.outputs import plain, read_consistent, read_inputs, start_run, write_outputs
from lib.recs.flow import als_outputs, latest_companions, served_counts
from lib.recs.serving import COMPANIONS_INPUT, RecommenderConfig, check_sources
from lib.recs.sources import sources_for
from lib.recs.similar import SimilarItemsParams
from lib.recs.tuned import apply_tuned, latest_selected
from lib.schemas.events import EVENTS, ITEMS
from lib.schemas.recs import ID_MAP_ITEMS, ID_MAP_USERS, USER_RECOMMENDATIONS
from lib.schemas.rules import BOUGHT_TOGETHER
from lib.schemas.runs import TUNED_PARAMETERS

JOB = "als"


@dataclass(frozen=True)
class AlsJobParams:
    recommender: RecommenderConfig = RecommenderConfig()  # conf/recommender.toml
    similar: SimilarItemsParams = SimilarItemsParams()
    save_model: bool = True
    use_tuned: bool = True  # serve the latest selected tuned_parameters dated <= --date

    def __post_init__(self) -> None:
        check_sources(self.recommender, sources_for(self.recommender))


def parse_args(argv: Sequence[str]) -> JobConfig[AlsJobParams]:
    parser = job_parser(JOB, "Implicit-feedback ALS: factors, recommendations, similar items")
    return config_from_args(JOB, AlsJobParams, parser.parse_args(argv), shared=("recommender",))


def run(spark: SparkSession, config: JobConfig[AlsJobParams]) -> dict:
    params, run_date, tables = config.params, config.run_date, config.catalog()
    job_run, store = start_run(JOB, run_date), open_store(spark, config)
    spark.sparkContext.setCheckpointDir(join_path(config.storage.checkpoint_dir or store.path("_checkpoints"), "als"))
    tuned = latest_selected(read_consistent(store, tables, TUNED_PARAMETERS, empty_if_missing=True)[0], run_date)
    settings = apply_tuned(params.recommender, tuned) if params.use_tuned else params.recommender
    first_day = window_first_day(run_date, settings.window_days)
    events = read_consistent(store, tables, EVENTS, start=first_day, end=run_date)[0].cache()
    sources = sources_for(settings)
    inputs = read_inputs(store, tables, {ITEMS, *[i for src in sources.values() for i in src.inputs]}, run_date)
    companions = latest_companions(
        read_consistent(store, tables, BOUGHT_TOGETHER, run_before=run_date, empty_if_missing=True)[0], run_date)
    result = als_outputs(
        events, {**inputs, **({COMPANIONS_INPUT: companions} if companions is not None else {})},
        read_consistent(store, tables, ID_MAP_USERS, empty_if_missing=True)[0],
        read_consistent(store, tables, ID_MAP_ITEMS, empty_if_missing=True)[0], run_date, settings, params.similar,
        sources,
    )
    model_path = join_path(config.storage.warehouse, "_models", "als", f"dt={run_date.isoformat()}")
    used = {"recommender": plain(settings), "tuned_from": {m: t["run_id"] for m, t in tuned.items()},
            "model": model_path if params.save_model else None}
    record = write_outputs(store, tables, result.outputs, job_run, details=used)
    if params.save_model:
        result.fit.model.write().overwrite().save(model_path)
    physical = tables.physical(USER_RECOMMENDATIONS)
    written = store.read(physical, start=run_date, end=run_date, version=record.table_versions[physical])
    return {**result.summary, **served_counts(written), "serve": settings.serve, "als": plain(settings.als),
            "tuned_from": used["tuned_from"], "model": used["model"], "run_id": record.run_id}


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
