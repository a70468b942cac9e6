"""jobs/embed.py end to end on a tiny catalogue: vectors, similar products, families; a re-run on the
next day embeds only the new and changed items and carries the rest over."""

from __future__ import annotations

import datetime as dt
import os

import pytest

from jobs.embed import parse_args, run
from lib.config import ConfigError
from lib.schemas.events import ITEMS, ITEMS_SCHEMA
from lib.schemas.text import ITEM_EMBEDDINGS, ITEM_FAMILIES, SIMILAR_ITEMS_TEXT

os.environ["HF_HUB_OFFLINE"] = "1"
DAY1, DAY2 = dt.date(2024, 3, 30), dt.date(2024, 3, 31)
SEEN = dt.date(2024, 1, 1)
TITLES = {"c1": "ALARM CLOCK BAKELIKE RED", "c2": "ALARM CLOCK BAKELIKE PINK", "c3": "ALARM CLOCK BAKELIKE GREEN",
          "b1": "JUMBO BAG RED RETROSPOT", "b2": "JUMBO SHOPPER BAG VINTAGE", "b3": "JUMBO BAG PINK POLKADOT"}


def write_items(spark, store, titles):
    rows = [(i, t, None, None, 1.0, SEEN, DAY2) for i, t in titles.items()] + [("x", None, None, None, None, SEEN, DAY2)]
    store.overwrite(ITEMS, spark.createDataFrame(rows, ITEMS_SCHEMA), partition_by=())


def config(warehouse, day, *extra):
    return parse_args(["--env", "local", "--date", day.isoformat(), "--set", f"storage.warehouse={warehouse}",
                       "--set", "storage.engine=embedded", "--set", "similar.k=2", "--set", "similar.num_blocks=2",
                       "--set", "families.k=2", "--set", "model.num_partitions=1", *extra])


def test_embed_job_then_rerun_embeds_only_changed_items(spark, store, warehouse):
    write_items(spark, store, TITLES)
    summary = run(spark, config(warehouse, DAY1))
    assert (summary["items"], summary["embedded"], summary["carried_over"]) == (7, 6, 0)  # x has no text
    similar = {(r.item_id, r.rank): r.similar_item_id for r in store.read(SIMILAR_ITEMS_TEXT).collect()}
    assert {similar[("c1", 1)], similar[("c1", 2)]} == {"c2", "c3"}  # a clock's neighbours are clocks
    assert {similar[("b1", 1)], similar[("b1", 2)]} <= {"b2", "b3"}
    families = {r.item_id: r.family for r in store.read(ITEM_FAMILIES).collect()}
    assert families["c1"] == families["c2"] == families["c3"] != families["b1"] == families["b2"] == families["b3"]
    assert "clock" in families["c1"] and "jumbo" in families["b1"]
    assert len(summary["similar_examples"]) == 2

    changed = {**TITLES, "b2": "JUMBO STORAGE BAG SUKI", "n1": "ALARM CLOCK BAKELIKE IVORY"}
    write_items(spark, store, changed)
    summary = run(spark, config(warehouse, DAY2))
    assert (summary["embedded"], summary["carried_over"]) == (2, 5)
    day2 = {r.item_id: r for r in store.read(ITEM_EMBEDDINGS, start=DAY2, end=DAY2).collect()}
    day1 = {r.item_id: r for r in store.read(ITEM_EMBEDDINGS, start=DAY1, end=DAY1).collect()}
    assert sorted(i for i, r in day2.items() if r.embedded_dt == DAY2) == ["b2", "n1"]
    assert day2["c1"].vector == day1["c1"].vector and day2["c1"].embedded_dt == DAY1
    assert store.read(ITEM_EMBEDDINGS).count() == 6 + 7  # one partition per run date


def test_bad_config_names_the_key(warehouse):
    with pytest.raises(ConfigError, match="model.name"):
        config(warehouse, DAY1, "--set", "model.name=bert-huge")
    with pytest.raises(ConfigError, match="families.algorithm"):
        config(warehouse, DAY1, "--set", "families.algorithm=dbscan")
