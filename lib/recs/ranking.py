"""Shared steps of every recommender: keep the top K per user, filter already-bought items."""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

RECOMMENDATION_COLUMNS = ("user_id", "rank", "item_id", "score", "source")


def top_k_per_user(scored: DataFrame, k: int, source: str | None = None) -> DataFrame:
    """Top `k` rows per user of (user_id, item_id, score[, source]) as RECOMMENDATIONS_SCHEMA.

    Ties are broken by item_id ascending so results are deterministic; `source` (when given)
    replaces any source column of the input.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    by_score = Window.partitionBy("user_id").orderBy(F.col("score").desc(), F.col("item_id").asc())
    source_col = F.lit(source) if source is not None else F.col("source")
    return (
        scored.withColumn("rank", F.row_number().over(by_score))
        .where(F.col("rank") <= F.lit(k))
        .select(
            F.col("user_id").cast("string"),
            F.col("rank").cast("int"),
            F.col("item_id").cast("string"),
            F.col("score").cast("double"),
            source_col.cast("string").alias("source"),
        )
    )


def filter_bought(scored: DataFrame, purchases: DataFrame) -> DataFrame:
    """Drop (user, item) rows the user has already bought (a left anti join on purchases)."""
    bought = purchases.select("user_id", "item_id").distinct()
    return scored.join(bought, on=["user_id", "item_id"], how="left_anti")


def rerank(recommendations: DataFrame, k: int) -> DataFrame:
    """Renumber ranks 1..k per user after rows were removed (order by the old rank)."""
    by_rank = Window.partitionBy("user_id").orderBy(F.col("rank").asc(), F.col("item_id").asc())
    return (
        recommendations.withColumn("rank", F.row_number().over(by_rank))
        .where(F.col("rank") <= F.lit(k))
        .select(*RECOMMENDATION_COLUMNS)
    )
