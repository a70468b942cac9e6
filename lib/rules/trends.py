"""Rule trends: the association rules of run date D against those of an earlier date (D - 7 by default).

A rule kept on at least one of the two dates gets one row: `appeared` (kept now, not then), `vanished`
(kept then, not now), or, kept on both, `strengthened` / `weakened` when its support moved
significantly and `stable` otherwise. The check is a two-proportion z-test on support (baskets holding
the whole rule over baskets of the window): a rule the miner did not write on a date counts as 0
baskets there (it was below the miner's thresholds, so this overstates the change a little) and as
lift 1 (no association). The two windows overlap when the mining window is longer than the gap, so
the test treats dependent samples as independent: read p-values as a ranking aid, not as exact.
"""

from __future__ import annotations

import datetime as dt
import math

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lib.schemas.report import APPEARED, RULE_TRENDS_SCHEMA, STABLE, STRENGTHENED, VANISHED, WEAKENED
from lib.schemas.rules import KEPT

KEYS = ["antecedent", "consequent"]
SIDE_COLUMNS = ("status", "n_ab", "n", "support", "confidence", "lift")

# Abramowitz & Stegun 7.1.26: erfc(x) for x >= 0 with absolute error below 1.5e-7.
_AS_P = 0.3275911
_AS_A = (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)


def erfc_nonnegative(x: Column) -> Column:
    """erfc(x) for x >= 0 from built-in functions (A&S 7.1.26; absolute error < 1.5e-7)."""
    t = F.lit(1.0) / (F.lit(1.0) + F.lit(_AS_P) * x)
    poly = F.lit(0.0)
    for coefficient in reversed(_AS_A):
        poly = (poly + F.lit(coefficient)) * t
    return poly * F.exp(-(x * x))


def two_proportion_z(x1: Column, n1: Column, x0: Column, n0: Column) -> Column:
    """Pooled two-proportion z of x1/n1 against x0/n0; null when a count is null or the pool is 0 or 1."""
    pooled = (x1 + x0) / (n1 + n0)
    se = F.sqrt(pooled * (F.lit(1.0) - pooled) * (F.lit(1.0) / n1 + F.lit(1.0) / n0))
    return F.when(se > 0, (x1 / n1 - x0 / n0) / se)


def two_sided_p(z: Column) -> Column:
    return erfc_nonnegative(F.abs(z) / F.lit(math.sqrt(2.0)))


def _side(rules: DataFrame, prefix: str) -> DataFrame:
    """One date's rules: keys, titles and the compared columns, prefixed."""
    return rules.select(
        *KEYS,
        F.col("antecedent_titles").alias(f"{prefix}antecedent_titles"),
        F.col("consequent_title").alias(f"{prefix}consequent_title"),
        *[F.col(c).alias(f"{prefix}{c}") for c in SIDE_COLUMNS],
    )


def rule_trends(
    current: DataFrame, previous: DataFrame, run_date: dt.date, previous_date: dt.date, alpha: float
) -> DataFrame:
    """`rule_trends` rows for the rules kept on `run_date` (`current`) or `previous_date` (`previous`).

    Both inputs are `association_rules` rows of one date each (every status).
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    # Every rule row of a date carries that date's basket count n; a rule absent on a date still gets
    # it from the others (null when the date has no rules at all). One row, broadcast.
    baskets = current.agg(F.max("n").alias("n_all")).crossJoin(previous.agg(F.max("n").alias("previous_n_all")))
    joined = _side(current, "").join(_side(previous, "previous_"), on=KEYS, how="full")
    kept_now = F.coalesce(F.col("status") == KEPT, F.lit(False))
    kept_then = F.coalesce(F.col("previous_status") == KEPT, F.lit(False))
    with_n = joined.where(kept_now | kept_then).crossJoin(F.broadcast(baskets))
    z = two_proportion_z(
        F.coalesce(F.col("n_ab"), F.lit(0)).cast("double"), F.col("n_all").cast("double"),
        F.coalesce(F.col("previous_n_ab"), F.lit(0)).cast("double"), F.col("previous_n_all").cast("double"),
    )
    tested = with_n.select("*", z.alias("z")).select("*", two_sided_p(F.col("z")).alias("p_value"))
    significant = F.coalesce(F.col("p_value") < alpha, F.lit(False))
    delta_support = F.coalesce(F.col("support"), F.lit(0.0)) - F.coalesce(F.col("previous_support"), F.lit(0.0))
    delta_lift = F.coalesce(F.col("lift"), F.lit(1.0)) - F.coalesce(F.col("previous_lift"), F.lit(1.0))
    change = (
        F.when(kept_now & ~kept_then, F.lit(APPEARED))
        .when(~kept_now & kept_then, F.lit(VANISHED))
        .when(significant & (delta_support > 0), F.lit(STRENGTHENED))
        .when(significant & (delta_support < 0), F.lit(WEAKENED))
        .otherwise(F.lit(STABLE))
    )
    classified = tested.select(
        "*", change.alias("change"), significant.alias("significant"),
        delta_support.alias("delta_support"), delta_lift.alias("delta_lift"),
    )
    order = Window.partitionBy("change").orderBy(
        F.col("significant").desc(), F.abs(F.col("delta_lift")).desc(), F.abs(F.col("delta_support")).desc(),
        F.col("consequent"), F.array_join("antecedent", "\u0001"),
    ).rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return classified.select(
        *KEYS,
        F.coalesce("antecedent_titles", "previous_antecedent_titles").alias("antecedent_titles"),
        F.coalesce("consequent_title", "previous_consequent_title").alias("consequent_title"),
        "change",
        F.row_number().over(order).alias("rank"),
        "status", "previous_status", "n_ab", "previous_n_ab",
        F.col("n_all").alias("n"), F.col("previous_n_all").alias("previous_n"),
        "support", "previous_support", "delta_support", "confidence", "previous_confidence",
        "lift", "previous_lift", "delta_lift", "z", "p_value", "significant",
        F.lit(previous_date).alias("previous_dt"), F.lit(run_date).alias("dt"),
    ).select(*[F.col(f.name).cast(f.dataType) for f in RULE_TRENDS_SCHEMA.fields])
