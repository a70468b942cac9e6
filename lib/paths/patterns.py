"""Frequent purchase paths with MLlib PrefixSpan, with the rules' discipline: exact counts, support,
confidence of the next step, lift against the next step's base rate, Fisher p-value, BH adjustment
and a `status` (privacy before significance, as in lib.rules.pruning).

A path <S1, ..., Sk> (k >= 2 steps, each a set of items bought together) is contained in a sequence
when its steps occur in order in distinct baskets of one episode (lib.paths.sequences). Counts are
episode counts; its prefix <S1..Sk-1> and next step <Sk> are themselves frequent (every subsequence
of a frequent sequence is), so their counts come exactly from the same mining run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from pyspark.ml.fpm import PrefixSpan
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.rules.metrics import confidence, lift, support
from lib.rules.mining import mllib_min_support
from lib.rules.pruning import PruningParams, rule_status
from lib.rules.significance import fisher_p_value, with_bh_adjusted


@dataclass(frozen=True)
class PathPruningParams:
    """The rules' pruning steps that apply to paths and next items (no redundancy step)."""

    privacy: bool = True
    privacy_min_count: int = 5  # status privacy: fewer sequences (paths) or users (next items)
    fdr: bool = True
    fdr_alpha: float = 0.05

    def as_rules_pruning(self) -> PruningParams:
        return PruningParams(fdr=self.fdr, fdr_alpha=self.fdr_alpha, redundant=False, privacy=self.privacy,
                             privacy_min_count=self.privacy_min_count)


@dataclass(frozen=True)
class PatternParams:
    min_count: int = 10  # sequences (episodes) that must contain a path
    max_pattern_length: int = 3  # items in a path, summed over its steps (MLlib maxPatternLength)
    max_local_proj_db_size: int = 32_000_000  # MLlib: items in a projected DB before it goes distributed
    fdr_buckets: int = 16


def mine_sequential_patterns(
    sequences: DataFrame, n_sequences: int, min_count: int, max_pattern_length: int, max_local_proj_db_size: int
) -> DataFrame:
    """(path array<array<string>> with sorted steps, n_path long): every pattern (one step or more)
    contained in at least `min_count` of the `steps` sequences."""
    if min_count < 1 or max_pattern_length < 2:
        raise ValueError(f"min_count must be >= 1 and max_pattern_length >= 2, got {min_count}, {max_pattern_length}")
    miner = PrefixSpan(
        minSupport=mllib_min_support(min_count, n_sequences),
        maxPatternLength=max_pattern_length,
        maxLocalProjDBSize=max_local_proj_db_size,
        sequenceCol="steps",
    )
    found = miner.findFrequentSequentialPatterns(sequences.select("steps"))
    return found.where(F.col("freq") >= F.lit(min_count)).select(
        F.transform("sequence", lambda step: F.array_sort(step)).alias("path"),
        F.col("freq").cast("long").alias("n_path"),
    )


def path_candidates(patterns: DataFrame, n_sequences: int) -> DataFrame:
    """Paths of two steps or more with n_ab (path), n_a (prefix), n_b (next step), n, and metrics."""
    paths = patterns.where(F.size("path") >= 2).select(
        "path",
        F.size("path").cast("int").alias("path_length"),
        F.slice("path", 1, F.size("path") - 1).alias("prefix"),
        F.element_at("path", -1).alias("next_step"),
        F.col("n_path").alias("n_ab"),
    )
    prefixes = patterns.select(F.col("path").alias("prefix"), F.col("n_path").alias("n_a"))
    nexts = patterns.where(F.size("path") == 1).select(
        F.col("path")[0].alias("next_step"), F.col("n_path").alias("n_b")
    )
    counted = (
        paths.join(prefixes, on="prefix", how="inner")
        .join(nexts, on="next_step", how="inner")
        .withColumn("n", F.lit(n_sequences).cast("long"))
    )
    return counted.select(
        "*", support().alias("support"), confidence().alias("confidence"), lift().alias("lift"),
        fisher_p_value().alias("p_value"),
    )


def purchase_paths(
    sequences: DataFrame, n_sequences: int, params: PatternParams, pruning: PruningParams
) -> DataFrame:
    """PURCHASE_PATHS_SCHEMA without dt. Persist the result: BH runs three small actions on it."""
    patterns = mine_sequential_patterns(
        sequences, n_sequences, params.min_count, params.max_pattern_length, params.max_local_proj_db_size
    ).persist()
    candidates = path_candidates(patterns, n_sequences).persist()
    adjusted = with_bh_adjusted(candidates, buckets=params.fdr_buckets)
    return adjusted.select(
        "path", "path_length", "prefix", "next_step",
        F.col("n_ab").alias("n_path"), F.col("n_a").alias("n_prefix"), F.col("n_b").alias("n_next"),
        F.col("n").alias("n_sequences"), "support", "confidence", "lift", "p_value", "p_adjusted",
        rule_status(dataclasses.replace(pruning, redundant=False)).alias("status"),
    )
