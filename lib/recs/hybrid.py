"""A weighted blend of several recommenders' normalised scores."""

from __future__ import annotations

from collections.abc import Mapping

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from lib.recs.ranking import top_k_per_user
from lib.schemas.recs import SOURCE_HYBRID

NORMALISATIONS = ("minmax", "rank")


def normalised_scores(recommendations: DataFrame, method: str = "minmax") -> DataFrame:
    """(user_id, item_id, norm) in [0, 1] per user.

    minmax: (score - min) / (max - min) over the user's rows; 1.0 when all the user's scores are equal
    (including a single row). rank: 1 / rank.
    """
    if method == "rank":
        return recommendations.select("user_id", "item_id", (F.lit(1.0) / F.col("rank")).alias("norm"))
    if method != "minmax":
        raise ValueError(f"unknown normalisation '{method}' (known: {', '.join(NORMALISATIONS)})")
    per_user = Window.partitionBy("user_id").rowsBetween(Window.unboundedPreceding, Window.unboundedFollowing)
    low, high = F.min("score").over(per_user), F.max("score").over(per_user)
    norm = F.when(high > low, (F.col("score") - low) / (high - low)).otherwise(F.lit(1.0))
    return recommendations.select("user_id", "item_id", norm.alias("norm"))


def recommend_hybrid(
    candidates: Mapping[str, DataFrame],
    weights: Mapping[str, float],
    k: int,
    normalisation: str = "minmax",
) -> DataFrame:
    """score(user, item) = sum over models m of weights[m] * norm_m(user, item) (0 where m has no row).

    `candidates` maps a model name to its RECOMMENDATIONS_SCHEMA output; every model needs a weight
    (>= 0) and every weight a model. Models with weight 0 are skipped. Source 'hybrid'.
    """
    missing = sorted(set(candidates) - set(weights))
    extra = sorted(set(weights) - set(candidates))
    if missing or extra:
        raise ValueError(
            f"hybrid weights and candidates differ: no weight for {missing}, no candidates for {extra}"
        )
    negative = sorted(name for name, w in weights.items() if w < 0)
    if negative:
        raise ValueError(f"hybrid weight of '{negative[0]}' is {weights[negative[0]]}; weights are >= 0")
    used = [name for name in sorted(candidates) if weights[name] > 0]
    if not used:
        raise ValueError("hybrid: every weight is 0; nothing to blend")
    parts = [
        normalised_scores(candidates[name], normalisation).select(
            "user_id", "item_id", (F.col("norm") * F.lit(float(weights[name]))).alias("weighted")
        )
        for name in used
    ]
    blended = parts[0]
    for part in parts[1:]:
        blended = blended.unionByName(part)
    scored = blended.groupBy("user_id", "item_id").agg(F.sum("weighted").alias("score"))
    return top_k_per_user(scored, k, SOURCE_HYBRID)
