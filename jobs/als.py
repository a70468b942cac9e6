"""Implicit-feedback ALS: factors, top-K recommendations per active user, similar items.

    spark-submit jobs/als.py --env local --date 2024-03-31 [--tuned-config warehouse/_tuned/als.toml]

Reads `events` of the window ending at --date (and `items` for cold-start categories), keeps the
integer id maps `id_map_users` / `id_map_items`, fits ALS and writes `user_factors`, `item_factors`,
`user_recommendations` and `similar_items` (dt = --date, replaced on rerun). The model is saved under
<warehouse>/_models/als/dt=<date>/ with cobuy_run.json (parameters and data window).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.config import JobConfig, join_path, load_job_config
from lib.jobkit import job_parser, run_job
from lib.recs.als import AlsParams, item_factors, user_factors
from lib.recs.baselines import bought_together_from_baskets
from lib.recs.pipeline import (
    AlsFit,
    als_training_set,
    companions_from_rules,
    recommend_als_with_cold_start,
    recommend_served_hybrid,
    train_als,
)
from lib.recs.similar import SimilarItemsParams, similar_items
from lib.recs.tuned import tuned_overrides
from lib.schemas.events import EVENTS, ITEMS, ITEMS_SCHEMA
from lib.schemas.recs import (
    BOUGHT_TOGETHER,
    ID_MAP_ITEMS,
    ID_MAP_ITEMS_SCHEMA,
    ID_MAP_USERS,
    ID_MAP_USERS_SCHEMA,
    ITEM_FACTORS,
    SIMILAR_ITEMS,
    USER_FACTORS,
    USER_RECOMMENDATIONS,
)
from lib.storage import TableStore

JOB = "als"
SERVE_MODES = ("als", "hybrid")
log = logging.getLogger("cobuy.als")


@dataclass(frozen=True)
class HybridParams:
    normalisation: str = "rank"
    weights: Mapping[str, float] = field(
        default_factory=lambda: {"popularity": 0.0, "buy_again": 1.0, "co_occurrence": 0.5, "als": 0.5}
    )


@dataclass(frozen=True)
class AlsJobParams:
    window_days: int = 180
    active_days: int = 30
    k: int = 10
    exclude_bought: bool = True
    serve: str = "als"
    candidate_depth: int = 50
    overfetch_cap: int = 200
    confidence_half_life_days: float = 90.0
    min_user_items: int = 2
    popularity_window_days: int = 90
    buy_again_half_life_days: float = 60.0
    co_occurrence_recent_items: int = 20
    co_occurrence_top_n: int = 50
    co_occurrence_max_basket_items: int = 100
    events_table: str = EVENTS
    items_table: str = ITEMS
    bought_together_table: str = BOUGHT_TOGETHER
    save_model: bool = True
    event_weights: Mapping[str, float] = field(
        default_factory=lambda: {"view": 1.0, "cart": 3.0, "fav": 2.0, "purchase": 5.0, "return": 5.0}
    )
    als: AlsParams = AlsParams()
    similar: SimilarItemsParams = SimilarItemsParams()
    hybrid: HybridParams = HybridParams()


def parse_args(argv: Sequence[str]) -> JobConfig[AlsJobParams]:
    parser = job_parser(JOB, "Implicit-feedback ALS: factors, recommendations, similar items")
    parser.add_argument(
        "--tuned-config", type=Path, default=None,
        help="TOML with [als]/[hybrid] chosen by jobs/evaluate.py (applied before --set)",
    )
    args = parser.parse_args(argv)
    tuned = tuned_overrides(args.tuned_config) if args.tuned_config else []
    config = load_job_config(
        JOB, AlsJobParams, env=args.env, run_date=args.date,
        overrides=[*tuned, *args.overrides], config_dir=args.conf_dir,
    )
    check_params(config.params)
    return config


def check_params(params: AlsJobParams) -> None:
    from lib.config import ConfigError

    if params.serve not in SERVE_MODES:
        raise ConfigError(f"key 'serve' must be one of {', '.join(SERVE_MODES)}, got '{params.serve}'")
    for name in ("window_days", "active_days", "k", "candidate_depth", "popularity_window_days"):
        if getattr(params, name) < 1:
            raise ConfigError(f"key '{name}' must be >= 1, got {getattr(params, name)}")
    try:
        params.als.validate()
    except ValueError as error:
        raise ConfigError(f"[als]: {error}") from None


def active_users(events: DataFrame, as_of: dt.date, active_days: int) -> DataFrame:
    """Users with at least one event in the `active_days` days ending at `as_of`."""
    first_day = as_of - dt.timedelta(days=active_days - 1)
    event_date = F.to_date(F.col("event_time"))
    return (
        events.where(F.col("user_id").isNotNull() & (event_date >= F.lit(first_day)) & (event_date <= F.lit(as_of)))
        .select("user_id")
        .distinct()
    )


def companions(store: TableStore, events: DataFrame, params: AlsJobParams, as_of: dt.date) -> DataFrame:
    """The latest `bought_together` partition before `as_of`, else co-occurrence counts of baskets.

    Before, not up to: fpgrowth writes `as_of` in parallel with this job (the Airflow DAG), and the
    result must not depend on which of the two finishes first.
    """
    if store.exists(params.bought_together_table):
        table = store.read(params.bought_together_table, end=as_of - dt.timedelta(days=1))
        latest = table.agg(F.max("dt").alias("latest")).collect()[0]["latest"]
        if latest is not None:
            log.info("co_occurrence companions from %s dt=%s", params.bought_together_table, latest)
            return companions_from_rules(table.where(F.col("dt") == F.lit(latest)))
    log.info("no %s before %s: co_occurrence companions from purchase baskets", params.bought_together_table, as_of)
    return bought_together_from_baskets(
        events, params.co_occurrence_top_n, params.co_occurrence_max_basket_items
    )


def recommendations(
    store: TableStore, fitted: AlsFit, events: DataFrame, items: DataFrame, users: DataFrame,
    params: AlsJobParams, as_of: dt.date,
) -> DataFrame:
    if params.serve == "als":
        return recommend_als_with_cold_start(
            fitted, events, items, users, as_of, params.k, params.exclude_bought,
            params.popularity_window_days, params.overfetch_cap,
        )
    from lib.recs.interactions import purchases
    from lib.recs.ranking import filter_bought, rerank

    depth = params.candidate_depth
    blended = recommend_served_hybrid(
        fitted, events, items, users, companions(store, events, params, as_of), as_of,
        depth if params.exclude_bought else params.k, depth, params.hybrid.weights, params.hybrid.normalisation,
        params.popularity_window_days, params.buy_again_half_life_days, params.co_occurrence_recent_items,
    )
    if not params.exclude_bought:
        return blended
    return rerank(filter_bought(blended, purchases(events)), params.k)


def write_text(spark: SparkSession, location: str, text: str) -> None:
    """Write one small text file through Hadoop's FileSystem (local paths and object stores alike)."""
    jvm = spark.sparkContext._jvm  # noqa: SLF001 - Hadoop's FileSystem is only reachable through py4j
    path = jvm.org.apache.hadoop.fs.Path(location)
    filesystem = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # noqa: SLF001
    stream = filesystem.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def plain(value: object) -> object:
    """Dataclasses, mappings and tuples as JSON-ready dicts and lists."""
    if dataclasses.is_dataclass(value):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def with_dt(frame: DataFrame, run_date: dt.date) -> DataFrame:
    return frame.withColumn("dt", F.lit(run_date).cast("date"))


def run(spark: SparkSession, config: JobConfig[AlsJobParams]) -> dict:
    params, run_date = config.params, config.run_date
    checkpoint_dir = config.storage.checkpoint_dir or join_path(config.storage.warehouse, "_checkpoints")
    spark.sparkContext.setCheckpointDir(join_path(checkpoint_dir, "als"))
    store = TableStore(spark, config.storage.warehouse, config.storage.engine, config.storage.allow_schema_evolution)
    first_day = run_date - dt.timedelta(days=params.window_days - 1)

    events = store.read(params.events_table, start=first_day, end=run_date).cache()
    items = store.read(params.items_table, empty_schema=ITEMS_SCHEMA)
    training = als_training_set(
        events, run_date, params.event_weights, params.confidence_half_life_days, params.min_user_items
    ).cache()
    n_training = training.count()
    if n_training == 0:
        raise ValueError(
            f"table '{params.events_table}': no positive interactions between {first_day} and {run_date}"
        )
    fitted = train_als(
        training, params.als,
        store.read(ID_MAP_USERS, empty_schema=ID_MAP_USERS_SCHEMA),
        store.read(ID_MAP_ITEMS, empty_schema=ID_MAP_ITEMS_SCHEMA),
    )
    store.overwrite(ID_MAP_USERS, fitted.user_ids, partition_by=())
    store.overwrite(ID_MAP_ITEMS, fitted.item_ids, partition_by=())

    users = active_users(events, run_date, params.active_days)
    recs = recommendations(store, fitted, events, items, users, params, run_date)
    store.replace_partitions(USER_RECOMMENDATIONS, with_dt(recs, run_date), dates=[run_date])
    store.replace_partitions(USER_FACTORS, with_dt(user_factors(fitted.model, fitted.user_ids), run_date), dates=[run_date])
    items_with_factors = item_factors(fitted.model, fitted.item_ids).cache()
    store.replace_partitions(ITEM_FACTORS, with_dt(items_with_factors, run_date), dates=[run_date])
    similar = similar_items(
        items_with_factors, params.similar.k, params.similar.method, params.similar.num_blocks,
        params.similar.lsh_bucket_length, params.similar.lsh_num_hash_tables, params.similar.lsh_min_cosine,
    )
    store.replace_partitions(SIMILAR_ITEMS, with_dt(similar, run_date), dates=[run_date])

    model_path = join_path(config.storage.warehouse, "_models", "als", f"dt={run_date.isoformat()}")
    n_users = fitted.model.userFactors.count()
    n_items = fitted.model.itemFactors.count()
    if params.save_model:
        fitted.model.write().overwrite().save(model_path)
        run_info = {
            "run_date": run_date.isoformat(),
            "window": {"first_day": first_day.isoformat(), "last_day": run_date.isoformat()},
            "events_table": params.events_table,
            "interactions": n_training,
            "users": n_users,
            "items": n_items,
            "params": plain(params),
        }
        write_text(spark, join_path(model_path, "cobuy_run.json"), json.dumps(run_info, indent=2, default=str))

    written = store.read(USER_RECOMMENDATIONS, start=run_date, end=run_date)
    by_source = {r["source"]: r["n"] for r in written.groupBy("source").agg(F.count(F.lit(1)).alias("n")).collect()}
    n_recommended = written.select("user_id").distinct().count()
    summary = {
        "window": f"{first_day}..{run_date}",
        "interactions": n_training,
        "users_fitted": n_users,
        "items_fitted": n_items,
        "users_recommended": n_recommended,
        "recommendation_rows_by_source": by_source,
        "model": model_path if params.save_model else None,
    }
    print(
        f"ALS {run_date}: fitted {n_users} users x {n_items} items on {n_training} interactions "
        f"({first_day}..{run_date}, rank {params.als.rank}); top-{params.k} for {n_recommended} active users "
        f"(rows by source: {by_source}); similar_items top-{params.similar.k} ({params.similar.method})"
        + (f"; model saved to {model_path}" if params.save_model else "")
    )
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    return run_job(JOB, parse_args, run, argv)


if __name__ == "__main__":
    sys.exit(main())
