"""Chaining the steps: baskets -> itemsets -> candidate rules -> metrics, p-values, pruning.

Used by jobs/fpgrowth.py (for items and for categories) and by the benchmarks.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from lib.rules.metrics import candidate_rules, with_n, with_rule_metrics
from lib.rules.mining import mine_itemsets_with, with_support
from lib.rules.one_task import score_rules_in_one_task
from lib.rules.pfp import PfpParams, report_itemsets
from lib.rules.pruning import PruningParams, filter_thresholds, with_max_sub_confidence, with_status
from lib.rules.significance import with_bh_adjusted, with_p_value


@dataclass(frozen=True)
class MiningParams:
    min_count: int  # absolute, already resolved from min_support / min_count
    min_confidence: float
    min_lift: float
    max_rule_length: int
    num_partitions: int
    fdr_buckets: int = 16
    engine: str = "mllib"  # mllib | pfp (lib.rules.mining.ENGINES)
    pfp: PfpParams = field(default_factory=PfpParams)
    # Rules are scored in one Python task (lib/rules/one_task.py) up to this many itemsets, else
    # distributed; 0 = always distributed. Same numbers either way.
    one_task_max_itemsets: int = 100_000


@dataclass
class MiningResult:
    """Persisted frames; call `unpersist()` when the outputs are written."""

    n_baskets: int
    itemsets: DataFrame  # items, size, count, support (all, or closed/maximal with pfp.itemsets)
    candidates: DataFrame  # every candidate rule with metrics and p-values (the BH population)
    rules: DataFrame  # rules above the thresholds, with max_sub_confidence and status

    all_itemsets: DataFrame | None = None  # every frequent itemset (the rules' input), when it differs

    def unpersist(self) -> None:
        self.candidates.unpersist()
        self.itemsets.unpersist()
        if self.all_itemsets is not None:
            self.all_itemsets.unpersist()


def score_candidates(itemsets: DataFrame, n_baskets: int, max_rule_length: int) -> DataFrame:
    """Every candidate rule with counts, metrics and its Fisher p-value (not persisted)."""
    return with_p_value(with_rule_metrics(with_n(candidate_rules(itemsets, max_rule_length), n_baskets)))


def rules_from_itemsets(
    itemsets: DataFrame, n_baskets: int, params: MiningParams, pruning: PruningParams, n_itemsets: int | None = None
) -> tuple[DataFrame, DataFrame]:
    """(candidates, rules): BH over all candidates, redundancy against all candidates, then the
    confidence/lift thresholds and the pruning status. `candidates` is persisted. `n_itemsets` (the
    number of rows of `itemsets`, counted here when not given; persist `itemsets`) chooses between
    one task and the distributed stages."""
    if params.one_task_max_itemsets > 0:
        if n_itemsets is None:
            n_itemsets = itemsets.count()
        if n_itemsets <= params.one_task_max_itemsets:
            scored = score_rules_in_one_task(itemsets, n_baskets, params.max_rule_length).persist(
                StorageLevel.MEMORY_AND_DISK
            )
            return scored, with_status(filter_thresholds(scored, params.min_confidence, params.min_lift), pruning)
    candidates = score_candidates(itemsets, n_baskets, params.max_rule_length).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    adjusted = with_bh_adjusted(candidates, buckets=params.fdr_buckets)
    with_subs = with_max_sub_confidence(adjusted)
    rules = with_status(filter_thresholds(with_subs, params.min_confidence, params.min_lift), pruning)
    return candidates, rules


def mine_rules(baskets: DataFrame, n_baskets: int, params: MiningParams, pruning: PruningParams) -> MiningResult:
    """Mine `baskets` (basket_id, items) of which there are `n_baskets` (> 0)."""
    if n_baskets <= 0:
        raise ValueError("mine_rules needs at least one basket")
    mined = mine_itemsets_with(params.engine, baskets, params.min_count, n_baskets, params.num_partitions,
                               params.pfp)
    itemsets = with_support(mined, n_baskets).persist(
        StorageLevel.MEMORY_AND_DISK
    )  # MLlib recomputes freqItemsets on every action otherwise
    n_itemsets = itemsets.count()  # the action that mines; its count chooses how the rules are scored
    candidates, rules = rules_from_itemsets(itemsets, n_baskets, params, pruning, n_itemsets)
    kind = params.pfp.itemsets if params.engine == "pfp" else "all"
    if kind == "all":
        return MiningResult(n_baskets, itemsets, candidates, rules)
    reported = report_itemsets(itemsets, kind).persist(StorageLevel.MEMORY_AND_DISK)
    return MiningResult(n_baskets, reported, candidates, rules, all_itemsets=itemsets)
