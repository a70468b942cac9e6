"""jobs/als.py end to end on a tiny warehouse: every output, reruns, the tuned config, bad config."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from jobs.als import parse_args, run
from lib.config import ConfigError
from lib.schemas.recs import (
    ID_MAP_ITEMS,
    ID_MAP_USERS,
    ITEM_FACTORS,
    SIMILAR_ITEMS,
    USER_FACTORS,
    USER_RECOMMENDATIONS,
)
from test_recs_als import cluster_events
from test_recs_support import event, events_frame, items_frame

RUN_DATE = dt.date(2024, 3, 10)


def job_args(warehouse: str, *extra: str) -> list[str]:
    sets = [
        f"storage.warehouse={warehouse}", "storage.engine=embedded", "storage.checkpoint_dir=",
        "als.rank=4", "als.max_iter=4", "als.num_user_blocks=1", "als.num_item_blocks=1",
        "k=3", "similar.k=2", "similar.num_blocks=2", "window_days=30", "active_days=7",
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
    assert summary["recommendation_rows_by_source"] == {"als": 24, "cold_start_category": 6}

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
    model_dir = Path(summary["model"])
    run_info = json.loads((model_dir / "cobuy_run.json").read_text())
    assert run_info["window"] == {"first_day": "2024-02-10", "last_day": "2024-03-10"}
    assert run_info["params"]["als"]["rank"] == 4
    assert (model_dir / "userFactors").is_dir()

    # the next run: a new user, the tuned config and hybrid serving; old ids stay, the partition is
    # replaced, not appended; --set (als.rank=4) wins over the tuned file (alpha comes from it)
    shop.append("events", events_frame(spark, [
        event("n1", "2024-03-10", "late", "a", "purchase", order="o-late"),
        event("n2", "2024-03-10", "late", "b", "purchase", order="o-late"),
    ]))
    tuned = tmp_path / "tuned.toml"
    tuned.write_text(
        "[als]\nrank = 3\nalpha = 20.0\n[hybrid]\nnormalisation = \"minmax\"\n"
        "[hybrid.weights]\npopularity = 0.1\nbuy_again = 0.0\nco_occurrence = 1.0\nals = 1.0\n"
    )
    config = parse_args(job_args(warehouse, "--set", "serve=hybrid", "--tuned-config", str(tuned)))
    assert (config.params.als.rank, config.params.als.alpha) == (4, 20.0)
    assert config.params.hybrid.normalisation == "minmax"
    summary = run(spark, config)
    assert summary["recommendation_rows_by_source"] == {"hybrid": 33}
    again = {r.user_id: r.user_idx for r in shop.read(ID_MAP_USERS).collect()}
    assert {u: again[u] for u in users_map} == users_map and again["late"] == 8
    assert shop.read(USER_RECOMMENDATIONS, start=RUN_DATE, end=RUN_DATE).count() == 33


def test_bad_settings_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="serve"):
        parse_args(["--date", "2024-03-10", "--set", "serve=magic"])
    with pytest.raises(ConfigError, match="rank"):
        parse_args(["--date", "2024-03-10", "--set", "als.rank=0"])
    tuned = tmp_path / "bad.toml"
    tuned.write_text("k = 3\n")
    with pytest.raises(ConfigError, match="unexpected key 'k'"):
        parse_args(["--date", "2024-03-10", "--tuned-config", str(tuned)])
