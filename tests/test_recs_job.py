"""jobs/als.py end to end on a tiny warehouse: every output, reruns, tuned_parameters, job_runs, bad config."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.als import parse_args, run
from lib.config import ConfigError
from lib.outputs import latest_complete_run
from lib.schemas.recs import (
    ID_MAP_ITEMS,
    ID_MAP_USERS,
    ITEM_FACTORS,
    SIMILAR_ITEMS,
    USER_FACTORS,
    USER_RECOMMENDATIONS,
)
from lib.schemas.runs import TUNED_PARAMETERS, TUNED_PARAMETERS_SCHEMA
from test_recs_als import cluster_events
from builders import event, events_frame, items_frame

RUN_DATE = dt.date(2024, 3, 10)


def job_args(warehouse: str, *extra: str) -> list[str]:
    sets = [
        f"storage.warehouse={warehouse}", "storage.engine=embedded", "storage.checkpoint_dir=",
        "recommender.als.rank=4", "recommender.als.max_iter=4", "recommender.als.num_user_blocks=1",
        "recommender.als.num_item_blocks=1", "recommender.k=3", "similar.k=2", "similar.num_blocks=2",
        "recommender.window_days=30", "recommender.active_days=7", "recommender.candidate_depth=6",
    ]
    return ["--env", "local", "--date", RUN_DATE.isoformat(), *[a for s in sets for a in ("--set", s)], *extra]


@pytest.fixture
def shop(spark, store):
    rows = cluster_events() + [event("old", "2024-01-01", "left0", "d", "purchase", order="o-old")]  # outside window
    store.replace_partitions("events", events_frame(spark, rows))
    store.overwrite(
        "items",
        items_frame(spark, [("a", "L"), ("b", "L"), ("c", "L"), ("d", "R"), ("e", "R"), ("f", "R")]),
        partition_by=(),
    )
    return store


def test_job_writes_every_output_and_a_rerun_replaces_them(spark, shop, warehouse, tmp_path):
    config = parse_args(job_args(warehouse))
    summary = run(spark, config)
    assert summary["users_fitted"] == 8 and summary["items_fitted"] == 6
    # a cold-start user is not shown what they bought: the category row they bought is replaced by a popular one
    assert summary["recommendation_rows_by_source"] == {"als": 24, "cold_start_category": 5, "cold_start_popular": 1}

    recs = shop.read(USER_RECOMMENDATIONS, start=RUN_DATE, end=RUN_DATE)
    per_user = {r.user_id: r.n for r in recs.groupBy("user_id").agg(F.count(F.lit(1)).alias("n")).collect()}
    assert per_user == {u: 3 for u in [f"left{n}" for n in range(4)] + [f"right{n}" for n in range(4)] + ["newbie", "returner"]}
    assert recs.where(F.col("dt") != F.lit(RUN_DATE)).limit(1).collect() == []
    similar = shop.read(SIMILAR_ITEMS).collect()
    assert len(similar) == 12 and all(r.item_id != r.similar_item_id for r in similar)
    users_map = {r.user_id: r.user_idx for r in shop.read(ID_MAP_USERS).collect()}
    items_map = {r.item_id: r.item_idx for r in shop.read(ID_MAP_ITEMS).collect()}
    assert items_map == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 4, "f": 5}
    assert len(users_map) == 8 and shop.read(USER_FACTORS).count() == 8 and shop.read(ITEM_FACTORS).count() == 6
    assert (Path(summary["model"]) / "userFactors").is_dir()
    first_run = latest_complete_run(shop, config.catalog(), "als")
    assert first_run.run_id == summary["run_id"] and set(first_run.table_versions) == {
        ID_MAP_USERS, ID_MAP_ITEMS, USER_RECOMMENDATIONS, USER_FACTORS, ITEM_FACTORS, SIMILAR_ITEMS}
    details = json.loads(first_run.details)
    assert details["recommender"]["window_days"] == 30 and details["recommender"]["als"]["rank"] == 4
    assert details["tuned_from"] == {}

    # the next run: a new user, hybrid serving with the parameters evaluate selected (dated before
    # the run; a later evaluation is not used); old ids stay, the partition is replaced, not appended
    shop.append("events", events_frame(spark, [
        event("n1", "2024-03-10", "late", "a", "purchase", order="o-late"),
        event("n2", "2024-03-10", "late", "b", "purchase", order="o-late"),
    ]))
    hybrid = {"weights": {"popularity": 0.1, "buy_again": 0.0, "co_occurrence": 1.0, "als": 1.0},
              "normalisation": "minmax", "als": {"rank": 3, "alpha": 20.0, "reg_param": 0.1, "max_iter": 4}}
    tuned_rows = [
        (dt.date(2024, 3, 3), "ev-1", "hybrid", json.dumps(hybrid), "ndcg@3 window/new_items", 0.5, True, dt.date(2024, 3, 3)),
        (dt.date(2024, 3, 3), "ev-1", "hybrid", json.dumps({**hybrid, "normalisation": "rank"}), "ndcg@3", 0.4, False,
         dt.date(2024, 3, 3)),
        (dt.date(2024, 3, 11), "ev-late", "hybrid", json.dumps({**hybrid, "normalisation": "rank"}), "ndcg@3", 0.9, True,
         dt.date(2024, 3, 11)),
    ]
    shop.append(TUNED_PARAMETERS, spark.createDataFrame(tuned_rows, TUNED_PARAMETERS_SCHEMA))
    config = parse_args(job_args(warehouse, "--set", "recommender.serve=hybrid"))
    summary = run(spark, config)
    assert summary["als"]["rank"] == 3 and summary["als"]["alpha"] == 20.0 and summary["tuned_from"] == {"hybrid": "ev-1"}
    assert summary["recommendation_rows_by_source"] == {"hybrid": 33}
    again = {r.user_id: r.user_idx for r in shop.read(ID_MAP_USERS).collect()}
    assert {u: again[u] for u in users_map} == users_map and again["late"] == 8
    assert shop.read(USER_RECOMMENDATIONS, start=RUN_DATE, end=RUN_DATE).count() == 33
    served = json.loads(latest_complete_run(shop, config.catalog(), "als").details)["recommender"]
    assert served["hybrid"] == {"weights": hybrid["weights"], "normalisation": "minmax"}


def test_served_lists_exclude_every_bought_item_cold_start_included(spark, shop, warehouse):
    run(spark, parse_args(job_args(warehouse)))
    recs = shop.read(USER_RECOMMENDATIONS, start=RUN_DATE, end=RUN_DATE)
    # what the user bought in the window (30 days: 'left0' bought 'd' on 2024-01-01, before it)
    bought = shop.read("events", start=dt.date(2024, 2, 10)).where(F.col("event_type") == "purchase")
    bought = bought.select("user_id", "item_id")
    assert recs.join(bought, on=["user_id", "item_id"], how="inner").count() == 0
    # the cold-start rows are the ones this check is about: the shop has them, each exclusion-checked above
    by_source = {r["source"]: r["count"] for r in recs.groupBy("source").count().collect()}
    assert by_source == {"als": 24, "cold_start_category": 5, "cold_start_popular": 1}


def test_bad_settings_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="serve"):
        parse_args(["--date", "2024-03-10", "--set", "recommender.serve=magic"])
    with pytest.raises(ConfigError, match="rank"):
        parse_args(["--date", "2024-03-10", "--set", "recommender.als.rank=0"])
    with pytest.raises(ConfigError, match="candidate_depth"):
        parse_args(["--date", "2024-03-10", "--set", "recommender.candidate_depth=3", "--set", "recommender.k=5"])
    with pytest.raises(ConfigError, match="unknown table 'evnts'"):
        parse_args(["--date", "2024-03-10", "--set", "tables.evnts=x"])
