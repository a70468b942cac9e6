"""The fpgrowth job's flow: events and items of a window in, its five output tables out.

    result = rules_outputs(events, items, run_date, params)   # {table name: DataFrame}, summary
    write_outputs(store, tables, result.outputs, run); result.release()
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame

from lib.config import require
from lib.rules.baskets import (
    BASKET_KINDS, KEY_COLUMN, build_baskets, count_uncategorised, count_unbasketed, window_start, with_category_items,
)
from lib.rules.mining import ENGINES, effective_min_count
from lib.rules.pfp import PfpParams, pfp_checks
from lib.rules.outputs import (
    RANKING_METRICS, association_rules_table, bought_together_table, bundles_table, category_rules_table,
    frequent_itemsets_table,
)
from lib.rules.pipeline import MiningParams, mine_rules
from lib.rules.pruning import PruningParams
from lib.schemas.events import EVENT_TYPES
from lib.schemas.rules import (
    ASSOCIATION_RULES, ASSOCIATION_RULES_SCHEMA, BOUGHT_TOGETHER, BOUGHT_TOGETHER_SCHEMA, BUNDLES,
    BUNDLES_SCHEMA, CATEGORY_RULES, CATEGORY_RULES_SCHEMA, FREQUENT_ITEMSETS, FREQUENT_ITEMSETS_SCHEMA, KEPT,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CategoryParams:
    enabled: bool = True
    min_support: float = 0.0
    min_count: int = 0
    min_confidence: float = 0.0
    min_lift: float = 1.0
    max_rule_length: int = 3


@dataclass(frozen=True)
class BoughtTogetherParams:
    top_k: int = 10
    metric: str = "lift"


@dataclass(frozen=True)
class BundleParams:
    min_size: int = 3
    min_all_confidence: float = 0.3


@dataclass(frozen=True)
class FPGrowthParams:
    """conf/fpgrowth.toml; the values are checked here, once (a bad one is a ConfigError naming it)."""

    window_days: int = 90
    basket: str = "order"  # order | session | user_day | user_window
    user_window_days: int = 7  # user_window: a user's purchases within this many days make one basket
    session_event_types: tuple[str, ...] = ("view", "cart", "fav", "purchase")
    min_support: float = 0.0  # fraction of baskets; 0 = unset
    min_count: int = 0  # number of baskets; 0 = unset; the stricter of the two applies
    min_confidence: float = 0.1
    min_lift: float = 1.0
    max_rule_length: int = 3
    num_partitions: int = 2
    fdr_buckets: int = 16
    one_task_max_itemsets: int = 100_000  # rules scored in one Python task up to this many itemsets; 0 = never
    engine: str = "mllib"  # mllib | pfp
    pfp: PfpParams = field(default_factory=PfpParams)
    pruning: PruningParams = field(default_factory=PruningParams)
    bought_together: BoughtTogetherParams = field(default_factory=BoughtTogetherParams)
    category: CategoryParams = field(default_factory=CategoryParams)
    bundles: BundleParams = field(default_factory=BundleParams)

    def __post_init__(self) -> None:
        checks = [
            ("window_days", self.window_days >= 1, "at least 1", self.window_days),
            ("basket", self.basket in BASKET_KINDS, " or ".join(BASKET_KINDS), self.basket),
            ("user_window_days", self.user_window_days >= 1, "at least 1", self.user_window_days),
            ("session_event_types", bool(self.session_event_types)
             and set(self.session_event_types) <= set(EVENT_TYPES), f"a non-empty subset of {EVENT_TYPES}",
             self.session_event_types),
            ("min_support", 0.0 <= self.min_support <= 1.0, "a fraction in [0, 1]", self.min_support),
            ("min_count", self.min_count >= 0, ">= 0", self.min_count),
            ("min_count", self.min_support > 0 or self.min_count > 0,
             "> 0 when min_support is 0 (set one of them)", self.min_count),
            ("max_rule_length", 2 <= self.max_rule_length <= 8, "between 2 and 8", self.max_rule_length),
            ("num_partitions", self.num_partitions >= 1, "at least 1", self.num_partitions),
            ("fdr_buckets", self.fdr_buckets >= 1, "at least 1", self.fdr_buckets),
            ("one_task_max_itemsets", self.one_task_max_itemsets >= 0, ">= 0 (0 = never one task)",
             self.one_task_max_itemsets),
            ("engine", self.engine in ENGINES, " or ".join(ENGINES), self.engine), *pfp_checks(self.pfp),
            ("pruning.fdr_alpha", 0.0 < self.pruning.fdr_alpha < 1.0, "in (0, 1)", self.pruning.fdr_alpha),
            ("pruning.privacy_min_count", self.pruning.privacy_min_count >= 1,
             "at least 1 (switch privacy off with pruning.privacy = false)", self.pruning.privacy_min_count),
            ("bought_together.top_k", self.bought_together.top_k >= 1, "at least 1", self.bought_together.top_k),
            ("bought_together.metric", self.bought_together.metric in RANKING_METRICS,
             f"one of {', '.join(RANKING_METRICS)}", self.bought_together.metric),
            ("bundles.min_size", self.bundles.min_size >= 2, "at least 2", self.bundles.min_size),
            ("category.max_rule_length", 2 <= self.category.max_rule_length <= 8, "between 2 and 8",
             self.category.max_rule_length),
            ("category.min_count", not self.category.enabled or self.category.min_support > 0
             or self.category.min_count > 0, "> 0 when category.min_support is 0", self.category.min_count),
        ]
        require(checks)


def mining_params(params: FPGrowthParams, n_baskets: int) -> MiningParams:
    return MiningParams(
        min_count=effective_min_count(n_baskets, params.min_support, params.min_count),
        min_confidence=params.min_confidence,
        min_lift=params.min_lift,
        max_rule_length=params.max_rule_length,
        num_partitions=params.num_partitions,
        fdr_buckets=params.fdr_buckets, one_task_max_itemsets=params.one_task_max_itemsets,
        engine=params.engine, pfp=params.pfp,
    )


def category_mining_params(params: FPGrowthParams, n_baskets: int) -> MiningParams:
    cat = params.category
    return dataclasses.replace(
        mining_params(params, n_baskets),
        min_count=effective_min_count(n_baskets, cat.min_support, cat.min_count),
        min_confidence=cat.min_confidence,
        min_lift=cat.min_lift,
        max_rule_length=cat.max_rule_length,
    )


def status_counts(frame: DataFrame) -> dict[str, int]:
    """Rows per `status` of a rules, itemsets or bundles frame (at most 4 statuses, so 4 rows)."""
    return {row["status"]: row["count"] for row in frame.groupBy("status").count().collect()}


@dataclass
class RulesRun:
    outputs: Mapping[str, DataFrame]  # table name -> frame, dt = the run date
    summary: dict[str, object]
    persisted: list[Callable[[], object]] = field(default_factory=list)

    def release(self) -> None:
        """Unpersist the cached frames (after the outputs are written)."""
        for unpersist in self.persisted:
            unpersist()


EMPTY_SCHEMAS = {
    FREQUENT_ITEMSETS: FREQUENT_ITEMSETS_SCHEMA, ASSOCIATION_RULES: ASSOCIATION_RULES_SCHEMA,
    BOUGHT_TOGETHER: BOUGHT_TOGETHER_SCHEMA, BUNDLES: BUNDLES_SCHEMA, CATEGORY_RULES: CATEGORY_RULES_SCHEMA,
}


class NoBasketsError(RuntimeError):
    """The window has no baskets of the configured kind (the job fails: exit 1)."""


def rules_outputs(events: DataFrame, items: DataFrame, run_date: dt.date, params: FPGrowthParams) -> RulesRun:
    """Item rules, itemsets, bought-together lists, bundles and category rules of the window.

    No baskets is an error (`NoBasketsError`) naming the basket kind and the events without a key.
    """
    start = window_start(run_date, params.window_days)
    unbasketed, basket_events = count_unbasketed(events, params.basket, params.session_event_types).first()
    key = KEY_COLUMN[params.basket]
    if unbasketed:
        log.warning("%d basket events between %s and %s have no %s and are in no basket",
                    unbasketed, start, run_date, key)
    baskets = build_baskets(events, params.basket, params.session_event_types, params.user_window_days,
                            run_date).persist(StorageLevel.MEMORY_AND_DISK)
    n_baskets = baskets.count()
    summary: dict[str, object] = {"window": f"{start}..{run_date}", "basket": params.basket,
                                  "baskets": n_baskets, "unbasketed_events": unbasketed}
    run = RulesRun({}, summary, [baskets.unpersist])
    if n_baskets == 0:
        baskets.unpersist()
        raise NoBasketsError(
            f"no baskets of kind '{params.basket}' between {start} and {run_date}: {basket_events} basket events, "
            f"{unbasketed} of them without a basket key ({key}); nothing was written"
            + (f" (a shop without {key} can set basket = user_day or user_window)" if key != "user_id" else "")
        )

    item_params = mining_params(params, n_baskets)
    result = mine_rules(baskets, n_baskets, item_params, params.pruning)
    rules = association_rules_table(result.rules, items, run_date).persist(StorageLevel.MEMORY_AND_DISK)
    itemsets = frequent_itemsets_table(result.itemsets, params.pruning, run_date)
    statuses, itemset_statuses = status_counts(rules), status_counts(itemsets)
    summary.update(min_count=item_params.min_count, itemsets=sum(itemset_statuses.values()),
                   itemset_statuses=itemset_statuses, candidate_rules=result.candidates.count(),
                   rules=sum(statuses.values()), kept_rules=statuses.get(KEPT, 0), rule_statuses=statuses)
    run.persisted += [rules.unpersist, result.unpersist]
    outputs = {
        FREQUENT_ITEMSETS: itemsets,
        ASSOCIATION_RULES: rules,
        BOUGHT_TOGETHER: bought_together_table(
            rules, params.bought_together.top_k, params.bought_together.metric, run_date
        ),
        BUNDLES: bundles_table(result.itemsets, items, params.bundles.min_size,
                               params.bundles.min_all_confidence, params.pruning, run_date),
        CATEGORY_RULES: category_outputs(baskets, items, n_baskets, run_date, params, run),
    }
    run.outputs = outputs
    return run


def category_outputs(
    baskets: DataFrame, items: DataFrame, n_baskets: int, run_date: dt.date, params: FPGrowthParams, run: RulesRun
) -> DataFrame:
    """category_rules: the baskets' items rolled up to categories, mined with the [category] thresholds."""
    if not params.category.enabled:
        return baskets.sparkSession.createDataFrame([], CATEGORY_RULES_SCHEMA)
    uncategorised = count_uncategorised(baskets, items).first()[0]
    if uncategorised:
        log.warning("%d basket items have no category and are left out of category_rules", uncategorised)
    category_params = category_mining_params(params, n_baskets)
    categories = mine_rules(with_category_items(baskets, items), n_baskets, category_params, params.pruning)
    category_rules = category_rules_table(categories.rules, run_date).persist(StorageLevel.MEMORY_AND_DISK)
    run.summary.update(category_min_count=category_params.min_count, uncategorised_items=uncategorised,
                       category_rules=status_counts(category_rules))
    run.persisted += [category_rules.unpersist, categories.unpersist]
    return category_rules
