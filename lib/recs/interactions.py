"""From canonical events to implicit-feedback inputs: confidence per (user, item) and purchases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lib.schemas.events import EVENT_TYPES, PURCHASE, RETURN


def validate_weights(weights: Mapping[str, float], half_life_days: float) -> None:
    """Weights are keyed by canonical event type and non-negative; `return` is subtracted."""
    unknown = sorted(set(weights) - set(EVENT_TYPES))
    if unknown:
        raise ValueError(
            f"event weights: unknown event type '{unknown[0]}' (known: {', '.join(EVENT_TYPES)})"
        )
    negative = sorted(k for k, v in weights.items() if v < 0)
    if negative:
        raise ValueError(
            f"event weights: weight of '{negative[0]}' is {weights[negative[0]]}; weights are >= 0 "
            "(a return's weight is subtracted)"
        )
    if not half_life_days > 0:
        raise ValueError(f"half_life_days must be > 0, got {half_life_days}")


def age_days(as_of: dt.date, time_col: str = "event_time") -> Column:
    """Whole days between the event's (UTC) date and `as_of`: 0 for events on `as_of` itself."""
    return F.datediff(F.lit(as_of), F.to_date(F.col(time_col)))


def decay(as_of: dt.date, half_life_days: float, time_col: str = "event_time") -> Column:
    """0.5 ** (age_days / half_life_days): 1 on `as_of`, 0.5 one half-life earlier."""
    return F.pow(F.lit(0.5), age_days(as_of, time_col) / F.lit(float(half_life_days)))


def signed_weight(weights: Mapping[str, float]) -> Column:
    """The weight of each event's type; returns count negative; types without a weight count 0."""
    weight = F.lit(0.0)
    for event_type, value in weights.items():
        signed = -abs(float(value)) if event_type == RETURN else float(value)
        weight = F.when(F.col("event_type") == event_type, F.lit(signed)).otherwise(weight)
    return weight


def confidence_scores(
    events: DataFrame, as_of: dt.date, weights: Mapping[str, float], half_life_days: float
) -> DataFrame:
    """Confidence per (user, item): sum of weight(event_type) * 0.5 ** (age_days / half_life).

    Events dated after `as_of` have not happened yet as of that date and are not counted; events
    without a user cannot be attributed; pairs whose confidence nets to <= 0 (e.g. bought and
    returned) carry no positive preference and are left out. Returns CONFIDENCE_SCHEMA.
    """
    validate_weights(weights, half_life_days)
    is_attributed = F.col("user_id").isNotNull()
    is_not_future = F.to_date(F.col("event_time")) <= F.lit(as_of)
    return (
        events.where(is_attributed & is_not_future)
        .groupBy("user_id", "item_id")
        .agg(F.sum(signed_weight(weights) * decay(as_of, half_life_days)).alias("confidence"))
        .where(F.col("confidence") > F.lit(1e-12))
        .select(F.col("user_id"), F.col("item_id"), F.col("confidence").cast("double"))
    )


def purchases(events: DataFrame) -> DataFrame:
    """Purchase events of known users: PURCHASES_SCHEMA (user_id, item_id, event_time, quantity)."""
    return events.where((F.col("event_type") == PURCHASE) & F.col("user_id").isNotNull()).select(
        "user_id", "item_id", "event_time", F.col("quantity").cast("int")
    )
