"""Implicit-feedback ALS (Spark MLlib): fit on confidences with integer ids, recommend top-K."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.recs.baselines import distinct_users
from lib.recs.ranking import RECOMMENDATION_COLUMNS, filter_bought, top_k_per_user
from lib.schemas.recs import ITEM_IDX_COL, SOURCE_ALS, USER_IDX_COL


@dataclass(frozen=True)
class AlsParams:
    """MLlib ALS settings (implicitPrefs is always on: the inputs are confidences, not ratings)."""

    rank: int = 32
    reg_param: float = 0.1
    alpha: float = 10.0
    max_iter: int = 10
    num_user_blocks: int = 2
    num_item_blocks: int = 2
    checkpoint_interval: int = 5
    seed: int = 42
    nonnegative: bool = False

    def validate(self) -> None:
        checks = {
            "rank": self.rank >= 1,
            "reg_param": self.reg_param >= 0,
            "alpha": self.alpha >= 0,
            "max_iter": self.max_iter >= 1,
            "num_user_blocks": self.num_user_blocks >= 1,
            "num_item_blocks": self.num_item_blocks >= 1,
            "checkpoint_interval": self.checkpoint_interval == -1 or self.checkpoint_interval >= 1,
        }
        bad = [name for name, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"ALS parameter '{bad[0]}' is out of range: {getattr(self, bad[0])!r}")


def build_als(params: AlsParams) -> ALS:
    params.validate()
    return ALS(
        userCol=USER_IDX_COL,
        itemCol=ITEM_IDX_COL,
        ratingCol="confidence",
        implicitPrefs=True,
        rank=params.rank,
        regParam=params.reg_param,
        alpha=params.alpha,
        maxIter=params.max_iter,
        numUserBlocks=params.num_user_blocks,
        numItemBlocks=params.num_item_blocks,
        checkpointInterval=params.checkpoint_interval,
        seed=params.seed,
        nonnegative=params.nonnegative,
        coldStartStrategy="drop",
    )


def with_int_ids(confidence: DataFrame, user_ids: DataFrame, item_ids: DataFrame) -> DataFrame:
    """(user_idx, item_idx, confidence) from (user_id, item_id, confidence) and the two id maps.

    Every user and item must be in its map: a missing id fails whatever consumes the frame (ALS's fit)
    with an error naming the user and item, never a silent drop. The check is part of the one pass
    that reads the rows: a separate check action would compute both joins a second time.
    """
    joined = confidence.join(user_ids, on="user_id", how="left").join(item_ids, on="item_id", how="left")
    unmapped = F.col(USER_IDX_COL).isNull() | F.col(ITEM_IDX_COL).isNull()
    error = F.raise_error(F.format_string(
        "no integer id for user '%s' / item '%s' in the id maps", F.col("user_id"), F.col("item_id")
    ))
    return joined.select(
        F.when(unmapped, error).otherwise(F.col(USER_IDX_COL)).cast("int").alias(USER_IDX_COL),
        F.col(ITEM_IDX_COL).cast("int"),
        F.col("confidence").cast("float"),
    )


def fit_als(confidence: DataFrame, params: AlsParams) -> ALSModel:
    """Fit ALS on (user_idx int, item_idx int, confidence). Set a checkpoint dir on the SparkContext
    first when checkpoint_interval > 0 (long lineages otherwise end in StackOverflowError)."""
    return build_als(params).fit(confidence)


def known_users(model: ALSModel, users: DataFrame, user_ids: DataFrame) -> DataFrame:
    """(user_id, user_idx) of the `users` the model has factors for."""
    in_model = model.userFactors.select(F.col("id").alias(USER_IDX_COL))
    return distinct_users(users).join(user_ids, on="user_id", how="inner").join(
        in_model, on=USER_IDX_COL, how="left_semi"
    )


def overfetch(known: DataFrame, purchases: DataFrame, cap: int) -> int:
    """How many extra items to score per user so that K remain after removing bought ones."""
    counts = (
        purchases.join(known.select("user_id"), on="user_id", how="left_semi")
        .groupBy("user_id")
        .agg(F.countDistinct("item_id").alias("n"))
        .agg(F.max("n").alias("max_n"))
        .collect()
    )
    most = counts[0]["max_n"] or 0
    return int(min(most, cap))


def recommend_als(
    model: ALSModel,
    users: DataFrame,
    user_ids: DataFrame,
    item_ids: DataFrame,
    k: int,
    exclude_bought: bool,
    purchases: DataFrame,
    fallback: DataFrame | None = None,
    overfetch_cap: int = 200,
) -> DataFrame:
    """Top-K per user from the model's scores (source 'als'); users the model does not know get
    their rows from `fallback` (e.g. `recommend_cold_start`, which sets its own source).

    With `exclude_bought`, items in `purchases` (user_id, item_id) are removed by a join after
    scoring; the model scores K + min(most items any of these users bought, `overfetch_cap`) per
    user, so a user who bought more than `overfetch_cap` items may get fewer than K.
    """
    known = known_users(model, users, user_ids)
    extra = overfetch(known, purchases, overfetch_cap) if exclude_bought else 0
    subset = known.select(F.col(USER_IDX_COL))
    raw = model.recommendForUserSubset(subset, k + extra)
    scored = (
        raw.select(F.col(USER_IDX_COL), F.explode("recommendations").alias("rec"))
        .select(
            F.col(USER_IDX_COL),
            F.col(f"rec.{ITEM_IDX_COL}").alias(ITEM_IDX_COL),
            F.col("rec.rating").cast("double").alias("score"),
        )
        .join(known, on=USER_IDX_COL, how="inner")
        .join(item_ids, on=ITEM_IDX_COL, how="inner")
        .select("user_id", "item_id", "score")
    )
    if exclude_bought:
        scored = filter_bought(scored, purchases)
    recommendations = top_k_per_user(scored, k, SOURCE_ALS)
    if fallback is None:
        return recommendations
    cold = fallback.join(known.select("user_id"), on="user_id", how="left_anti").join(
        distinct_users(users), on="user_id", how="left_semi"
    )
    return recommendations.unionByName(cold.select(*RECOMMENDATION_COLUMNS))


def user_factors(model: ALSModel, user_ids: DataFrame) -> DataFrame:
    """(user_id, user_idx, features array<float>) of every user the model has factors for."""
    factors = model.userFactors.select(F.col("id").alias(USER_IDX_COL), F.col("features"))
    return factors.join(user_ids, on=USER_IDX_COL, how="inner").select("user_id", USER_IDX_COL, "features")


def item_factors(model: ALSModel, item_ids: DataFrame) -> DataFrame:
    """(item_id, item_idx, features array<float>) of every item the model has factors for."""
    factors = model.itemFactors.select(F.col("id").alias(ITEM_IDX_COL), F.col("features"))
    return factors.join(item_ids, on=ITEM_IDX_COL, how="inner").select("item_id", ITEM_IDX_COL, "features")
