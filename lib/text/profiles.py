"""A user's taste in text space: the decayed mean of the embeddings of what they bought."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.recs.interactions import decay
from lib.schemas.events import PURCHASE

PROFILES_SCHEMA = T.StructType(
    [
        T.StructField("user_id", T.StringType(), False),
        T.StructField("vector", T.ArrayType(T.FloatType(), False), False),  # unit length
        T.StructField("items", T.LongType(), False),  # distinct bought items with an embedding
    ]
)


def purchase_weights(events: DataFrame, as_of: dt.date, half_life_days: float) -> DataFrame:
    """(user_id, item_id, weight): sum over the user's purchase lines of 0.5 ** (age / half-life);
    purchases after `as_of` and purchases without a user are not counted."""
    if not half_life_days > 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")
    is_counted = (
        (F.col("event_type") == F.lit(PURCHASE)) & F.col("user_id").isNotNull()
        & (F.to_date("event_time") <= F.lit(as_of))
    )
    return (
        events.where(is_counted)
        .groupBy("user_id", "item_id")
        .agg(F.sum(decay(as_of, half_life_days)).alias("weight"))
    )


def user_text_profiles(events: DataFrame, embeddings: DataFrame, as_of: dt.date, half_life_days: float) -> DataFrame:
    """PROFILES_SCHEMA: per user, normalise(sum_i weight_i * vector_i) over the bought items that have
    an embedding. Users whose bought items have none get no profile."""

    def mean_vector(frame: pd.DataFrame) -> pd.DataFrame:
        # summed in item order and in float64: the shuffle's row order varies, the profile must not
        frame = frame.sort_values("item_id", kind="stable")
        matrix = np.stack([np.asarray(v, dtype=np.float64) for v in frame["vector"]])
        total = (matrix * frame["weight"].to_numpy(dtype=np.float64)[:, None]).sum(axis=0)
        norm = float(np.linalg.norm(total))
        if norm == 0.0:
            return pd.DataFrame({"user_id": [], "vector": [], "items": []})
        return pd.DataFrame({"user_id": [frame["user_id"].iloc[0]], "vector": [(total / norm).astype(np.float32)],
                             "items": [len(frame)]})

    return (
        purchase_weights(events, as_of, half_life_days)
        .join(embeddings.select("item_id", "vector"), on="item_id", how="inner")
        .groupBy("user_id")
        .applyInPandas(mean_vector, PROFILES_SCHEMA)
    )
