"""Planted complementary bundles: when an order holds the anchor, the companions join it with a
known probability. Their ground truth lets tests check that the rule miner finds them.

A bundle may run on some days only (`first_day` <= day < `stop_day`, days counted from the first
generated day): ShopSpec's `appearing_bundle_day` starts the last bundle mid-window and
`vanishing_bundle_day` stops the second-to-last, so rule trends have a rule to see appear and vanish."""

from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from lib.synth.catalog import leaf_count
from lib.synth.spec import ShopSpec

GROUND_TRUTH_SCHEMA = T.StructType(
    [
        T.StructField("bundle_id", T.IntegerType(), False),
        T.StructField("anchor_item_id", T.StringType(), False),
        T.StructField("companion_item_id", T.StringType(), False),
        T.StructField("bundle_size", T.IntegerType(), False),
        T.StructField("strength", T.DoubleType(), False),
    ]
)
MEMBERS_SCHEMA = T.StructType(
    [
        T.StructField("bundle_id", T.IntegerType(), False),
        T.StructField("anchor_number", T.LongType(), False),
        T.StructField("companion_number", T.LongType(), False),
        T.StructField("first_day", T.IntegerType(), False),
        T.StructField("stop_day", T.IntegerType(), True),  # null: runs to the end
    ]
)


@dataclass(frozen=True)
class PlantedBundle:
    bundle_id: int
    anchor: int
    companions: tuple[int, ...]
    first_day: int = 0  # first day it runs (0 = the first generated day)
    stop_day: int | None = None  # first day it no longer runs; None: to the end


def top_index_of(item_number: int, spec: ShopSpec) -> int:
    per_top = spec.subcategories_per_top * spec.leaves_per_subcategory
    return (item_number % leaf_count(spec)) // per_top


def plan_bundles(spec: ShopSpec) -> list[PlantedBundle]:
    """Anchors among the popular items, companions from the long tail of another top category.

    Tail companions are rarely bought otherwise, so the planted rules stand out with a high lift.
    Every second bundle has two companions, so planted triples exist too. Derived from the spec
    alone (a few dozen numbers), not from data.
    """
    used: set[int] = set()
    bundles = []
    next_tail = spec.items - 1
    for bundle_id in range(spec.bundles):
        anchor = 3 + bundle_id * 5
        if anchor >= spec.items // 2:
            raise ValueError(f"{spec.bundles} bundles need more items than {spec.items}")
        used.add(anchor)
        companions: list[int] = []
        wanted = 1 if bundle_id % 2 == 0 else 2
        while len(companions) < wanted:
            candidate = next_tail
            next_tail -= 1
            if candidate in used or top_index_of(candidate, spec) == top_index_of(anchor, spec):
                continue
            used.add(candidate)
            companions.append(candidate)
        bundles.append(PlantedBundle(bundle_id, anchor, tuple(companions), *_schedule(bundle_id, spec)))
    return bundles


def _schedule(bundle_id: int, spec: ShopSpec) -> tuple[int, int | None]:
    """(first_day, stop_day) of a bundle: the last may start late, the second-to-last stop early.

    A day past the shop's last day is allowed: that bundle then never starts, or never stops.
    """
    for day, name in ((spec.appearing_bundle_day, "appearing"), (spec.vanishing_bundle_day, "vanishing")):
        if day < 0:
            raise ValueError(f"{name}_bundle_day must be >= 0 (0 = off), got {day}")
    if spec.appearing_bundle_day and bundle_id == spec.bundles - 1:
        return spec.appearing_bundle_day, None
    if spec.vanishing_bundle_day and bundle_id == spec.bundles - 2:
        return 0, spec.vanishing_bundle_day
    return 0, None


def bundle_members(spark: SparkSession, bundles: list[PlantedBundle]) -> DataFrame:
    rows = [(b.bundle_id, b.anchor, c, b.first_day, b.stop_day) for b in bundles for c in b.companions]
    return spark.createDataFrame(rows, MEMBERS_SCHEMA)


def ground_truth(spark: SparkSession, bundles: list[PlantedBundle], strength: float) -> DataFrame:
    rows = [
        (b.bundle_id, f"i{b.anchor:05d}", f"i{c:05d}", len(b.companions) + 1, float(strength))
        for b in bundles
        for c in b.companions
    ]
    return spark.createDataFrame(rows, GROUND_TRUTH_SCHEMA)
