"""ALS from events to recommendations in three calls, shared by jobs/als.py and the evaluation.

    training = als_training_set(events, as_of, weights, half_life_days, min_user_items)
    fitted = train_als(training, params, existing_user_ids, existing_item_ids)
    recs = recommend_als_with_cold_start(fitted, events, items, users, as_of, k, exclude_bought, window_days)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from pyspark.ml.recommendation import ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.recs.als import AlsParams, fit_als, known_users, recommend_als, with_int_ids
from lib.recs.baselines import recommend_cold_start
from lib.recs.ids import assign_ids
from lib.recs.interactions import confidence_scores, purchases
from lib.schemas.recs import ID_MAP_ITEMS_SCHEMA, ID_MAP_USERS_SCHEMA, ITEM_IDX_COL, USER_IDX_COL


@dataclass(frozen=True)
class AlsFit:
    model: ALSModel
    user_ids: DataFrame  # the full (user_id, user_idx) map after this fit (old ids kept)
    item_ids: DataFrame  # the full (item_id, item_idx) map after this fit


def als_training_set(
    events: DataFrame,
    as_of: dt.date,
    weights: Mapping[str, float],
    half_life_days: float,
    min_user_items: int = 1,
) -> DataFrame:
    """Confidences (user_id, item_id, confidence) of users with >= `min_user_items` positive items.

    Users below the threshold are not fitted; they are served by the cold-start path.
    """
    confidence = confidence_scores(events, as_of, weights, half_life_days)
    if min_user_items <= 1:
        return confidence
    active = (
        confidence.groupBy("user_id")
        .agg(F.count(F.lit(1)).alias("n_items"))
        .where(F.col("n_items") >= F.lit(min_user_items))
        .select("user_id")
    )
    return confidence.join(active, on="user_id", how="left_semi")


def train_als(
    training: DataFrame,
    params: AlsParams,
    existing_user_ids: DataFrame | None = None,
    existing_item_ids: DataFrame | None = None,
) -> AlsFit:
    """Extend the id maps with the training set's new users/items, then fit ALS on integer ids."""
    spark = training.sparkSession
    old_users = existing_user_ids if existing_user_ids is not None else spark.createDataFrame([], ID_MAP_USERS_SCHEMA)
    old_items = existing_item_ids if existing_item_ids is not None else spark.createDataFrame([], ID_MAP_ITEMS_SCHEMA)
    user_ids = assign_ids(old_users, training.select("user_id"), "user_id", USER_IDX_COL).localCheckpoint()
    item_ids = assign_ids(old_items, training.select("item_id"), "item_id", ITEM_IDX_COL).localCheckpoint()
    model = fit_als(with_int_ids(training, user_ids, item_ids), params)
    return AlsFit(model=model, user_ids=user_ids, item_ids=item_ids)


def recommend_als_with_cold_start(
    fitted: AlsFit,
    events: DataFrame,
    items: DataFrame,
    users: DataFrame,
    as_of: dt.date,
    k: int,
    exclude_bought: bool,
    popularity_window_days: int,
    overfetch_cap: int = 200,
) -> DataFrame:
    """ALS top-K for users the model knows (source 'als'); others get `recommend_cold_start` rows."""
    bought = purchases(events.where(F.to_date(F.col("event_time")) <= F.lit(as_of)))
    known = known_users(fitted.model, users, fitted.user_ids).select("user_id")
    unknown = users.select("user_id").join(known, on="user_id", how="left_anti")
    cold = recommend_cold_start(events, items, unknown, as_of, popularity_window_days, k)
    return recommend_als(
        fitted.model, users, fitted.user_ids, fitted.item_ids, k, exclude_bought, bought,
        fallback=cold, overfetch_cap=overfetch_cap,
    )


def companions_from_rules(bought_together: DataFrame) -> DataFrame:
    """(item_id, companion_item_id, score) from the FPGrowth job's `bought_together` rows.

    Its `score` is whichever metric that job ranks by (possibly null = infinite conviction), so the
    rule's confidence P(companion | item) is used (BOUGHT_TOGETHER_SCHEMA in lib/schemas/rules.py).
    """
    return bought_together.select(
        F.col("item_id"), F.col("companion_id").alias("companion_item_id"), F.col("confidence").cast("double").alias("score")
    ).where(F.col("score").isNotNull())
