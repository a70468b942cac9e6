"""Association rules: which products are bought together, how strongly, and which findings to trust.

    spark-submit jobs/fpgrowth.py --env local --date 2024-03-31 [--set min_count=20 ...]

Reads `events` over the `window_days` ending at --date and `items`; writes frequent_itemsets,
association_rules, bought_together, category_rules and bundles with dt = --date (re-runs replace).
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession

from lib.config import ConfigError, JobConfig
from lib.jobkit import config_from_args, job_parser, run_job
from lib.rules.baskets import (
    BASKET_KINDS, build_baskets, count_uncategorised, count_unbasketed, window_start, with_category_items,
)
from lib.rules.mining import ENGINES, effective_min_count
from lib.rules.pfp import PfpParams, pfp_checks
from lib.rules.outputs import (
    RANKING_METRICS, association_rules_table, bought_together_table, bundles_table, category_rules_table,
    frequent_itemsets_table,
)
from lib.rules.pipeline import MiningParams, mine_rules
from lib.rules.pruning import PruningParams
from lib.schemas.events import EVENT_TYPES, EVENTS, EVENTS_SCHEMA, ITEMS, ITEMS_SCHEMA
from lib.schemas.rules import (
    ASSOCIATION_RULES, ASSOCIATION_RULES_SCHEMA, BOUGHT_TOGETHER, BOUGHT_TOGETHER_SCHEMA, BUNDLES,
    BUNDLES_SCHEMA, CATEGORY_RULES, CATEGORY_RULES_SCHEMA, FREQUENT_ITEMSETS, FREQUENT_ITEMSETS_SCHEMA, KEPT,
)
from lib.storage import TableStore

JOB = "fpgrowth"
log = logging.getLogger(f"cobuy.{JOB}")


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
    window_days: int = 90
    basket: str = "order"  # order | session
    session_event_types: tuple[str, ...] = ("view", "cart", "fav", "purchase")
    min_support: float = 0.0  # fraction of baskets; 0 = unset
    min_count: int = 0  # number of baskets; 0 = unset; the stricter of the two applies
    min_confidence: float = 0.1
    min_lift: float = 1.0
    max_rule_length: int = 3
    num_partitions: int = 2
    fdr_buckets: int = 16
    engine: str = "mllib"  # mllib | pfp
    pfp: PfpParams = field(default_factory=PfpParams)
    pruning: PruningParams = field(default_factory=PruningParams)
    bought_together: BoughtTogetherParams = field(default_factory=BoughtTogetherParams)
    category: CategoryParams = field(default_factory=CategoryParams)
    bundles: BundleParams = field(default_factory=BundleParams)


def validate(params: FPGrowthParams, source: str) -> FPGrowthParams:
    """Value checks the type checks cannot do; each error names the key and the file."""

    def fail(key: str, must: str, value: object) -> ConfigError:
        return ConfigError(f"{source}: key '{key}' must be {must}, got {value!r}")

    checks = [
        ("window_days", params.window_days >= 1, "at least 1", params.window_days),
        ("basket", params.basket in BASKET_KINDS, " or ".join(BASKET_KINDS), params.basket),
        ("session_event_types", bool(params.session_event_types)
         and set(params.session_event_types) <= set(EVENT_TYPES), f"a non-empty subset of {EVENT_TYPES}",
         params.session_event_types),
        ("min_support", 0.0 <= params.min_support <= 1.0, "a fraction in [0, 1]", params.min_support),
        ("min_count", params.min_count >= 0, ">= 0", params.min_count),
        ("min_count", params.min_support > 0 or params.min_count > 0,
         "> 0 when min_support is 0 (set one of them)", params.min_count),
        ("max_rule_length", 2 <= params.max_rule_length <= 8, "between 2 and 8", params.max_rule_length),
        ("num_partitions", params.num_partitions >= 1, "at least 1", params.num_partitions),
        ("fdr_buckets", params.fdr_buckets >= 1, "at least 1", params.fdr_buckets),
        ("engine", params.engine in ENGINES, " or ".join(ENGINES), params.engine), *pfp_checks(params.pfp),
        ("pruning.fdr_alpha", 0.0 < params.pruning.fdr_alpha < 1.0, "in (0, 1)", params.pruning.fdr_alpha),
        ("pruning.privacy_min_count", params.pruning.privacy_min_count >= 1,
         "at least 1 (switch privacy off with pruning.privacy = false)", params.pruning.privacy_min_count),
        ("bought_together.top_k", params.bought_together.top_k >= 1, "at least 1", params.bought_together.top_k),
        ("bought_together.metric", params.bought_together.metric in RANKING_METRICS,
         f"one of {', '.join(RANKING_METRICS)}", params.bought_together.metric),
        ("bundles.min_size", params.bundles.min_size >= 2, "at least 2", params.bundles.min_size),
        ("category.max_rule_length", 2 <= params.category.max_rule_length <= 8, "between 2 and 8",
         params.category.max_rule_length),
        ("category.min_count", not params.category.enabled or params.category.min_support > 0
         or params.category.min_count > 0, "> 0 when category.min_support is 0", params.category.min_count),
    ]
    for key, ok, must, value in checks:
        if not ok:
            raise fail(key, must, value)
    return params


def parse_args(argv: Sequence[str]) -> JobConfig[FPGrowthParams]:
    parser = job_parser(JOB, "Mine association rules from the baskets of the window ending at --date.")
    args = parser.parse_args(argv)
    config = config_from_args(JOB, FPGrowthParams, args)
    validate(config.params, config.sources[0] if config.sources else JOB)
    return config


def mining_params(params: FPGrowthParams, n_baskets: int) -> MiningParams:
    return MiningParams(
        min_count=effective_min_count(n_baskets, params.min_support, params.min_count),
        min_confidence=params.min_confidence,
        min_lift=params.min_lift,
        max_rule_length=params.max_rule_length,
        num_partitions=params.num_partitions,
        fdr_buckets=params.fdr_buckets,
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


def write_empty(spark: SparkSession, store: TableStore, config: JobConfig[FPGrowthParams]) -> None:
    """No baskets in the window: the run date's partitions are emptied (a re-run must not keep old rules)."""
    tables = [
        (FREQUENT_ITEMSETS, FREQUENT_ITEMSETS_SCHEMA), (ASSOCIATION_RULES, ASSOCIATION_RULES_SCHEMA),
        (BOUGHT_TOGETHER, BOUGHT_TOGETHER_SCHEMA), (BUNDLES, BUNDLES_SCHEMA),
        (CATEGORY_RULES, CATEGORY_RULES_SCHEMA),
    ]
    for table, schema in tables:
        store.replace_partitions(table, spark.createDataFrame([], schema), dates=[config.run_date])


def run(spark: SparkSession, config: JobConfig[FPGrowthParams]) -> dict[str, object]:
    params, run_date = config.params, config.run_date
    storage = config.storage
    store = TableStore(spark, storage.warehouse, storage.engine, storage.allow_schema_evolution)
    start = window_start(run_date, params.window_days)

    # -- extract ---------------------------------------------------------------------------------
    events = store.read(EVENTS, start=start, end=run_date, empty_schema=EVENTS_SCHEMA)
    items = store.read(ITEMS, empty_schema=ITEMS_SCHEMA)
    unbasketed = count_unbasketed(events, params.basket, params.session_event_types).first()[0]
    if unbasketed:
        key = "order_id" if params.basket == "order" else "session_id"
        log.warning("%d basket events between %s and %s have no %s and are in no basket",
                    unbasketed, start, run_date, key)
    baskets = build_baskets(events, params.basket, params.session_event_types).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    n_baskets = baskets.count()
    summary: dict[str, object] = {"window": f"{start}..{run_date}", "baskets": n_baskets,
                                  "unbasketed_events": unbasketed}
    if n_baskets == 0:
        log.warning("no baskets between %s and %s: the outputs for %s are emptied", start, run_date, run_date)
        write_empty(spark, store, config)
        baskets.unpersist()
        return summary

    # -- item rules ------------------------------------------------------------------------------
    item_params = mining_params(params, n_baskets)
    result = mine_rules(baskets, n_baskets, item_params, params.pruning)
    rules = association_rules_table(result.rules, items, run_date).persist(StorageLevel.MEMORY_AND_DISK)
    itemsets = frequent_itemsets_table(result.itemsets, params.pruning, run_date)
    store.replace_partitions(FREQUENT_ITEMSETS, itemsets, dates=[run_date])
    store.replace_partitions(ASSOCIATION_RULES, rules, dates=[run_date])
    together = bought_together_table(rules, params.bought_together.top_k, params.bought_together.metric, run_date)
    store.replace_partitions(BOUGHT_TOGETHER, together, dates=[run_date])
    bundles = bundles_table(result.itemsets, items, params.bundles.min_size,
                            params.bundles.min_all_confidence, params.pruning, run_date)
    store.replace_partitions(BUNDLES, bundles, dates=[run_date])
    statuses = status_counts(rules)
    itemset_statuses = status_counts(itemsets)
    summary.update(min_count=item_params.min_count, itemsets=sum(itemset_statuses.values()),
                   itemset_statuses=itemset_statuses,
                   candidate_rules=result.candidates.count(), rules=sum(statuses.values()),
                   kept_rules=statuses.get(KEPT, 0), rule_statuses=statuses)
    rules.unpersist()
    result.unpersist()

    # -- category rules --------------------------------------------------------------------------
    if params.category.enabled:
        uncategorised = count_uncategorised(baskets, items).first()[0]
        if uncategorised:
            log.warning("%d basket items have no category in '%s' and are left out of category_rules",
                        uncategorised, ITEMS)
        category_params = category_mining_params(params, n_baskets)
        category_baskets = with_category_items(baskets, items)
        categories = mine_rules(category_baskets, n_baskets, category_params, params.pruning)
        category_rules = category_rules_table(categories.rules, run_date).persist(StorageLevel.MEMORY_AND_DISK)
        store.replace_partitions(CATEGORY_RULES, category_rules, dates=[run_date])
        summary.update(category_min_count=category_params.min_count, uncategorised_items=uncategorised,
                       category_rules=status_counts(category_rules))
        category_rules.unpersist()
        categories.unpersist()
    else:
        store.replace_partitions(CATEGORY_RULES, spark.createDataFrame([], CATEGORY_RULES_SCHEMA), dates=[run_date])
    baskets.unpersist()
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
