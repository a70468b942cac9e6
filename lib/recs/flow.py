"""The ALS job's flow: a window's events in, factors, served recommendations and similar items out.

    result = als_outputs(events, items, companions, user_ids, item_ids, run_date, settings, similar)
    write_outputs(store, tables, result.outputs, run, details=result.details)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.dates import window_first_day
from lib.recs.als import item_factors, user_factors
from lib.recs.pipeline import AlsFit, als_training_set, companions_from_rules, train_als
from lib.recs.serving import (
    ALS_FIT, COMPANIONS_INPUT, DEFAULT_SOURCES, CandidateSource, RecommenderConfig, SourceContext, serve,
)
from lib.recs.similar import SimilarItemsParams, similar_items
from lib.schemas.recs import (
    ID_MAP_ITEMS, ID_MAP_USERS, ITEM_FACTORS, SIMILAR_ITEMS, USER_FACTORS, USER_RECOMMENDATIONS,
)


def with_dt(frame: DataFrame, run_date: dt.date) -> DataFrame:
    return frame.withColumn("dt", F.lit(run_date).cast("date"))


def active_users(events: DataFrame, as_of: dt.date, active_days: int) -> DataFrame:
    """Users with at least one event in the `active_days` days ending at `as_of`."""
    first_day = window_first_day(as_of, active_days)
    event_date = F.to_date(F.col("event_time"))
    return (
        events.where(F.col("user_id").isNotNull() & (event_date >= F.lit(first_day)) & (event_date <= F.lit(as_of)))
        .select("user_id")
        .distinct()
    )


def latest_companions(bought_together: DataFrame, before: dt.date) -> DataFrame | None:
    """Companions from the newest `bought_together` partition dated before `before`; None if none.

    Before, not up to: fpgrowth writes the run date in parallel with the ALS job (the Airflow DAG),
    and the result must not depend on which of the two finishes first.
    """
    earlier = bought_together.where(F.col("dt") < F.lit(before))
    latest = earlier.agg(F.max("dt").alias("latest")).collect()[0]["latest"]
    return None if latest is None else companions_from_rules(earlier.where(F.col("dt") == F.lit(latest)))


@dataclass
class AlsRun:
    outputs: Mapping[str, DataFrame]
    fit: AlsFit
    summary: dict[str, Any]


def als_outputs(
    events: DataFrame,
    inputs: Mapping[str, DataFrame],
    user_ids: DataFrame,
    item_ids: DataFrame,
    run_date: dt.date,
    settings: RecommenderConfig,
    similar: SimilarItemsParams,
    sources: Mapping[str, CandidateSource] = DEFAULT_SOURCES,
) -> AlsRun:
    """Fit ALS on the window's events and serve the active users with `lib.recs.serving.serve`.

    `inputs` are the sources' declared inputs (`items`; `companions` when fpgrowth's are known).
    """
    first_day = window_first_day(run_date, settings.window_days)
    training = als_training_set(
        events, run_date, settings.event_weights, settings.confidence_half_life_days, settings.min_user_items
    ).cache()
    n_training = training.count()
    if n_training == 0:
        raise ValueError(f"table 'events': no positive interactions between {first_day} and {run_date}")
    fit = train_als(training, settings.als, user_ids, item_ids)
    ctx = SourceContext(events, active_users(events, run_date, settings.active_days), run_date, settings,
                        inputs, {ALS_FIT: fit})
    items_with_factors = item_factors(fit.model, fit.item_ids).cache()
    outputs = {
        ID_MAP_USERS: fit.user_ids,
        ID_MAP_ITEMS: fit.item_ids,
        USER_RECOMMENDATIONS: with_dt(serve(ctx, sources), run_date),
        USER_FACTORS: with_dt(user_factors(fit.model, fit.user_ids), run_date),
        ITEM_FACTORS: with_dt(items_with_factors, run_date),
        SIMILAR_ITEMS: with_dt(similar_items(items_with_factors, **dataclasses.asdict(similar)), run_date),
    }
    summary = {"window": f"{first_day}..{run_date}", "interactions": n_training,
               "users_fitted": fit.model.userFactors.count(), "items_fitted": fit.model.itemFactors.count(),
               "companions": "bought_together" if COMPANIONS_INPUT in inputs else "baskets"}
    return AlsRun(outputs, fit, summary)


def served_counts(recommendations: DataFrame) -> dict[str, Any]:
    """Users served and rows per source of a user_recommendations partition (a few rows)."""
    by_source = recommendations.groupBy("source").agg(F.count(F.lit(1)).alias("n")).collect()
    return {"users_recommended": recommendations.select("user_id").distinct().count(),
            "recommendation_rows_by_source": {r["source"]: r["n"] for r in by_source}}
