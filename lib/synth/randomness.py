"""Deterministic randomness from hashes: the same seed and keys give the same draw on any cluster.

`F.rand(seed)` depends on partitioning; hashing the row's own keys does not.
"""

from __future__ import annotations

import math

from pyspark.sql import Column
from pyspark.sql import functions as F

_TWO_POW_53 = float(2**53)


def uniform(seed: int, tag: str, *keys: Column) -> Column:
    """A uniform draw in [0, 1) determined by (seed, tag, keys)."""
    hashed = F.xxhash64(F.lit(seed), F.lit(tag), *keys)
    return F.pmod(hashed, F.lit(2**53)).cast("double") / F.lit(_TWO_POW_53)


def zipf_rank(u: Column, n: Column | int, exponent: float) -> Column:
    """Rank in [0, n) of a (continuous) Zipf draw by inverting its CDF; rank 0 is the most popular."""
    n_col = n if isinstance(n, Column) else F.lit(n)
    if math.isclose(exponent, 1.0):
        rank = F.floor(F.pow(n_col, u)) - 1
    else:
        power = 1.0 - exponent
        rank = F.floor(F.pow((F.pow(n_col, power) - 1) * u + 1, 1.0 / power)) - 1
    clamped = F.least(F.greatest(rank, F.lit(0)), n_col - 1).cast("long")
    return F.when(u.isNotNull(), clamped)  # greatest() skips nulls; a null draw stays null


def standard_normal(u1: Column, u2: Column) -> Column:
    """Box-Muller: a standard normal draw from two uniforms."""
    return F.sqrt(-2.0 * F.log(F.greatest(u1, F.lit(1e-12)))) * F.cos(2 * math.pi * u2)


def geometric_count(u: Column, mean: float, cap: int) -> Column:
    """A count >= 1 with the given mean (1 + exponential), capped."""
    extra = F.floor(-F.log(F.greatest(F.lit(1.0) - u, F.lit(1e-12))) * max(mean - 1.0, 0.0))
    return F.least(F.lit(1) + extra, F.lit(cap)).cast("int")
