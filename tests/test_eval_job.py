"""jobs/evaluate.py end to end on a tiny shop: config, table written, tuned TOML, selection, table print."""

from __future__ import annotations

import datetime as dt
import shutil
import sys
from pathlib import Path

import pytest

from jobs import evaluate as job
from lib.config import ConfigError
from lib.schemas.evaluation import EVALUATION_METRICS, EVALUATION_METRICS_SCHEMA
from lib.schemas.events import EVENTS, EVENTS_SCHEMA
from lib.storage import TableStore

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PROJECT_CONF = Path(__file__).resolve().parent.parent / "conf" / "evaluate.toml"
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
    shutil.copy(PROJECT_CONF, folder / "evaluate.toml")
    (folder / "env" / "test.toml").write_text(
        f'[storage]\nwarehouse = "{warehouse}"\nlanding = "{tmp_path / "landing"}"\nengine = "embedded"\n'
    )
    return folder


def config_args(conf_dir: Path, *extra: str) -> list[str]:
    sets = [
        "horizon_days=5", "tuning_horizon_days=5", "k=3", "recommenders.candidate_depth=6",
        "recommenders.als.max_iter=2", "recommenders.als.rank=2", "recommenders.als.checkpoint_interval=-1",
        "als_grid.rank=[2]", "als_grid.reg_param=[0.1]", "als_grid.alpha=[1.0]",
        "hybrid_grid.popularity=[0.0]", "hybrid_grid.co_occurrence=[0.0, 1.0]", "hybrid_grid.als=[0.0]",
        'hybrid_grid.normalisation=["rank"]', "run_id=test-run", *extra,
    ]
    return ["--env", "test", "--date", RUN_DATE.isoformat(), "--conf-dir", str(conf_dir),
            *[x for s in sets for x in ("--set", s)]]


def test_parse_args_reads_the_project_config():
    config = job.parse_args(["--date", "2024-03-31", "--k", "5"])
    assert config.params.k == 5
    assert config.params.selection.metric == "ndcg"
    assert config.params.als_grid.rank == (16, 32)


def test_parse_args_rejects_an_unknown_key(conf_dir):
    with pytest.raises(ConfigError, match="als_grid.ranks"):
        job.parse_args(config_args(conf_dir, "als_grid.ranks=[2]"))


def test_run_writes_metrics_and_tuned_config(spark, store: TableStore, conf_dir: Path, warehouse: str, capsys):
    store.replace_partitions(EVENTS, spark.createDataFrame(shop_events(), EVENTS_SCHEMA),
                             dates=[dt.date(2024, 1, d) for d in (2, 3, 4, 5, 6, 7, 8, 12, 17, 18)])
    config = job.parse_args(config_args(conf_dir))
    summary = job.run(spark, config)

    table = store.read(EVALUATION_METRICS, start=RUN_DATE, end=RUN_DATE)
    assert table.schema == EVALUATION_METRICS_SCHEMA or [f.name for f in table.schema] == [
        f.name for f in EVALUATION_METRICS_SCHEMA
    ]
    rows = [r.asDict() for r in table.collect()]
    final = [r for r in rows if r["window"] == "final"]
    tuning = [r for r in rows if r["window"] == "tuning"]
    # final: 5 models x 2 slices x 7 metrics; tuning ('all' slice): 3 baselines + 1 ALS + 2 hybrid points
    assert len(final) == 70 and all(r["selected"] for r in final)
    assert len(tuning) == 6 * 7
    assert {r["run_id"] for r in rows} == {"test-run"}
    assert {(r["train_end"], r["test_start"], r["test_end"]) for r in final} == {
        (dt.date(2024, 1, 15), dt.date(2024, 1, 16), dt.date(2024, 1, 20))
    }
    assert {(r["train_end"], r["test_start"], r["test_end"]) for r in tuning} == {
        (dt.date(2024, 1, 10), dt.date(2024, 1, 11), dt.date(2024, 1, 15))
    }
    # Evaluated in the final window: u0-u10 (bought on the 17th, seen before); 'ux' is unseen.
    assert {r["users"] for r in final if r["slice"] == "all" and r["metric"] == "ndcg"} == {11}
    # Every final purchase is of a new item, and buy_again has nothing new to offer.
    buy_again_new = {r["metric"]: r["value"] for r in final if r["model"] == "buy_again" and r["slice"] == "new_items"}
    assert buy_again_new["hit_rate"] == 0.0 and buy_again_new["recall"] == 0.0

    hybrid_ndcg = {r["params"]: r["value"] for r in tuning if r["model"] == "hybrid" and r["metric"] == "ndcg"}
    chosen = [r["params"] for r in tuning if r["model"] == "hybrid" and r["metric"] == "ndcg" and r["selected"]]
    assert len(hybrid_ndcg) == 2 and len(chosen) == 1
    assert hybrid_ndcg[chosen[0]] == max(hybrid_ndcg.values())

    tuned = tomllib.loads(Path(warehouse, "_tuned", "als.toml").read_text())
    assert tuned["als"] == {"rank": 2, "reg_param": 0.1, "alpha": 1.0}
    assert set(tuned["hybrid"]["weights"]) == {"popularity", "buy_again", "co_occurrence", "als"}
    assert summary["tuned_config"] == str(Path(warehouse, "_tuned", "als.toml"))

    printed = capsys.readouterr().out
    assert "Final window, K = 3" in printed
    for model in ("popularity", "buy_again", "co_occurrence", "als", "hybrid"):
        assert f"\n{model}" in printed
