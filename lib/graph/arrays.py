"""Column helpers for dense vectors stored as array<float|double> columns, and lineage cutting."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def dot(left: Column, right: Column) -> Column:
    """Sum of the element-wise products (arrays of equal length)."""
    return F.aggregate(F.zip_with(left, right, lambda a, b: a * b), F.lit(0.0).cast("double"), lambda acc, x: acc + x)


def norm(vector: Column) -> Column:
    return F.sqrt(F.aggregate(vector, F.lit(0.0).cast("double"), lambda acc, x: acc + x * x))


def scaled(vector: Column, factor: Column) -> Column:
    return F.transform(vector, lambda x: x.cast("double") * factor)


def unit(vector: Column) -> Column:
    """vector / |vector|; null for a zero vector (it has no direction).

    The squared length is the aggregate's accumulator, bound once in its finish function: a length
    column used inside the element lambda would be re-evaluated for every element (Spark does not
    hoist it out of the lambda), d^2 work per vector - minutes for 384-d text vectors on Online Retail.
    """
    return F.aggregate(
        vector, F.lit(0.0).cast("double"), lambda acc, x: acc + x * x,
        lambda squared: F.when(squared > F.lit(0.0), F.transform(vector, lambda x: x.cast("double") / F.sqrt(squared))),
    )


def sum_arrays(collected: Column) -> Column:
    """Element-wise sum of a collected list of equal-length arrays (null for an empty list)."""
    return F.aggregate(
        F.slice(collected, 2, F.greatest(F.size(collected) - 1, F.lit(0))),
        F.element_at(collected, 1),
        lambda acc, x: F.zip_with(acc, x, lambda a, b: a + b),
    )


def cut_lineage(frame: DataFrame) -> DataFrame:
    """Materialise and drop the plan: iterative joins otherwise grow the plan every step."""
    return frame.localCheckpoint(eager=True)
