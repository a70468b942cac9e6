"""jobs/evaluate.py end to end on a tiny shop: config, tables written (metrics, tuned_parameters), selection, print."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from jobs import evaluate as job
from lib.config import ConfigError
from lib.schemas.evaluation import EVALUATION_METRICS, EVALUATION_METRICS_SCHEMA
from lib.schemas.events import EVENTS, EVENTS_SCHEMA
from lib.outputs import latest_complete_run
from lib.schemas.runs import TUNED_PARAMETERS
from lib.storage import TableStore

PROJECT_CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
RUN_DATE = dt.date(2024, 1, 20)
# Two tastes: u0-u5 buy from A-D, u6-u11 from E-H. Each user buys two of their items on a training
# day and another of them in each test window; u11 buys nothing in the last window; 'ux' buys only then.
CLUSTERS = (("A", "B", "C", "D"), ("E", "F", "G", "H"))


def shop_events() -> list[tuple]:
    rows = []
    for u in range(12):
        items = CLUSTERS[u // 6]
        buys = [(items[u % 4], 2 + u % 5), (items[(u + 1) % 4], 6 + u % 3), (items[(u + 2) % 4], 12)]
        if u != 11:
            buys.append((items[(u + 3) % 4], 17))
        rows += [(f"u{u}", item, day) for item, day in buys]
    rows.append(("ux", "A", 18))
    return [
        (f"e{n}", dt.datetime(2024, 1, day, 9, 0), user, None, f"o{n}", item, "purchase", 1, 2.0, "t",
         dt.date(2024, 1, day))
        for n, (user, item, day) in enumerate(rows)
    ]


@pytest.fixture
def conf_dir(tmp_path: Path, warehouse: str) -> Path:
    folder = tmp_path / "conf"
    (folder / "env").mkdir(parents=True)
    for name in ("evaluate.toml", "recommender.toml", "tables.toml"):
        shutil.copy(PROJECT_CONF_DIR / name, folder / name)
    (folder / "env" / "test.toml").write_text(
        f'[storage]\nwarehouse = "{warehouse}"\nlanding = "{tmp_path / "landing"}"\nengine = "embedded"\n'
    )
    return folder


def config_args(conf_dir: Path, *extra: str) -> list[str]:
    sets = [
        "horizon_days=5", "tuning_horizon_days=5", "recommender.k=3", "recommender.candidate_depth=6",
        "recommender.window_days=30", "recommender.als.max_iter=2", "recommender.als.rank=2",
        "recommender.als.checkpoint_interval=-1", "recommender.als.num_user_blocks=1",
        "recommender.als.num_item_blocks=1", "als_grid.rank=[2]", "als_grid.reg_param=[0.1]",
        "als_grid.alpha=[1.0]", "hybrid_grid.weights={co_occurrence = [0.0, 1.0], als = [0.5]}",
        'hybrid_grid.normalisation=["rank"]', "run_id=test-run",
        'recommender.sources=["popularity", "buy_again", "co_occurrence", "als"]', *extra,
    ]
    return ["--env", "test", "--date", RUN_DATE.isoformat(), "--conf-dir", str(conf_dir),
            *[x for s in sets for x in ("--set", s)]]


def test_parse_args_reads_the_project_config():
    config = job.parse_args(["--date", "2024-03-31", "--k", "5"])
    assert config.params.recommender.k == 5
    assert config.params.selection_metric == "ndcg"
    assert config.params.als_grid.rank == (16, 32)
    assert config.params.recommender.exclude_bought  # conf/recommender.toml, as the ALS job reads it


def test_parse_args_rejects_an_unknown_key(conf_dir):
    with pytest.raises(ConfigError, match="als_grid.ranks"):
        job.parse_args(config_args(conf_dir, "als_grid.ranks=[2]"))


def test_run_writes_metrics_and_tuned_parameters(spark, store: TableStore, conf_dir: Path, warehouse: str, capsys):
    store.replace_partitions(EVENTS, spark.createDataFrame(shop_events(), EVENTS_SCHEMA),
                             dates=[dt.date(2024, 1, d) for d in (2, 3, 4, 5, 6, 7, 8, 12, 17, 18)])
    config = job.parse_args(config_args(conf_dir))
    summary = job.run(spark, config)

    table = store.read(EVALUATION_METRICS, start=RUN_DATE, end=RUN_DATE)
    assert [f.name for f in table.schema] == [f.name for f in EVALUATION_METRICS_SCHEMA]
    rows = [r.asDict() for r in table.collect()]
    final = [r for r in rows if r["window"] == "final"]
    tuning = [r for r in rows if r["window"] == "tuning"]
    # final: 5 models x 2 views x 3 slices x 7 metrics; tuning: the selection cell (window/new_items,
    # bought items are excluded) for 1 ALS point, 3 other sources, 5 hybrid points (4 single sources
    # + the co_occurrence 1 / als 0.5 blend; co_occurrence 0 / als 0.5 is the single als again)
    assert len(final) == 210 and all(r["selected"] for r in final)
    assert {(r["view"], r["slice"]) for r in tuning} == {("window", "new_items")}
    assert len(tuning) == (1 + 3 + 5) * 7
    assert {r["run_id"] for r in rows} == {"test-run"}
    assert {(r["train_start"], r["train_end"], r["test_start"], r["test_end"]) for r in final} == {
        (dt.date(2023, 12, 17), dt.date(2024, 1, 15), dt.date(2024, 1, 16), dt.date(2024, 1, 20))
    }
    # Evaluated in the final window: u0-u10 (bought on the 17th, seen before); 'ux' is unseen.
    assert {r["users"] for r in final if r["slice"] == "all" and r["metric"] == "ndcg"} == {11}
    # bought items are excluded from what is served, so buy_again serves nothing and hits nothing
    buy_again = {r["metric"]: r["value"] for r in final
                 if r["model"] == "buy_again" and r["slice"] == "all" and r["view"] == "window"}
    assert buy_again["hit_rate"] == 0.0 and buy_again["recall"] == 0.0

    ndcg = {(r["model"], r["params"]): r["value"] for r in tuning if r["metric"] == "ndcg"}
    chosen = [r["params"] for r in tuning if r["model"] == "hybrid" and r["metric"] == "ndcg" and r["selected"]]
    assert len(chosen) == 1
    singles = max(v for (m, _), v in ndcg.items() if m != "hybrid")
    assert ndcg[("hybrid", chosen[0])] == max(v for (m, _), v in ndcg.items() if m == "hybrid") >= singles

    tuned = [r.asDict() for r in store.read(TUNED_PARAMETERS).collect()]
    assert {r["run_id"] for r in tuned} == {"test-run"} and {r["run_date"] for r in tuned} == {RUN_DATE}
    selected = {r["model"]: json.loads(r["parameters"]) for r in tuned if r["selected"]}
    assert set(selected) == {"popularity", "buy_again", "co_occurrence", "als", "hybrid"}
    assert selected["als"]["als"] == {"rank": 2, "reg_param": 0.1, "alpha": 1.0, "max_iter": 2}
    assert json.loads(chosen[0])["weights"] == selected["hybrid"]["weights"]
    assert {r["metric"] for r in tuned} == {"ndcg@3 window/new_items"}
    assert latest_complete_run(store, config.catalog(), "evaluate").run_id == "test-run"

    printed = capsys.readouterr().out
    assert "Final window, K = 3, view window" in printed and "view next_basket" in printed
    for model in ("popularity", "buy_again", "co_occurrence", "als", "hybrid"):
        assert f"\n{model}" in printed
