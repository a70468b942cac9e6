"""jobs/generate.py and jobs/summary.py end to end on the shared session, plus their argument parsing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobs import generate, summary
from lib.config import ConfigError
from lib.synth.raw import RAW_COLUMNS
from lib.summary import TableOverview, render_overview

SMALL_SHOP = ["days=3", "users=50", "items=60", "sessions_per_day=30", "bundles=2",
              "top_categories=2", "subcategories_per_top=2", "leaves_per_subcategory=2"]


def _args(tmp_path: Path, *extra: str) -> list[str]:
    sets = [f"storage.landing={tmp_path / 'landing'}", f"storage.warehouse={tmp_path / 'warehouse'}", *extra]
    return ["--env", "local", "--date", "2024-03-31", *[a for s in sets for a in ("--set", s)]]


def test_parse_args_builds_a_typed_frozen_config_without_spark(tmp_path):
    config = generate.parse_args(_args(tmp_path, "users=5000", "bundle_strength=0.5"))
    assert config.run_date == dt.date(2024, 3, 31)
    assert (config.params.users, config.params.bundle_strength, config.params.seed) == (5000, 0.5, 42)
    assert config.storage.landing == str(tmp_path / "landing")
    assert config.spark_conf["spark.master"] == "local[*]"
    with pytest.raises(AttributeError):
        config.params.users = 1  # type: ignore[misc]


def test_parse_args_rejects_bad_values_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"--set: key 'users' must be int, got str 'many'"):
        generate.parse_args(_args(tmp_path, "users=many"))
    with pytest.raises(ConfigError, match=r"--set: unknown key 'user'"):
        generate.parse_args(_args(tmp_path, "user=3"))
    with pytest.raises(SystemExit):
        generate.parse_args(["--env", "local", "--date", "31/03/2024"])


def test_generate_writes_one_folder_per_day_and_the_ground_truth(spark, tmp_path):
    config = generate.parse_args(_args(tmp_path, *SMALL_SHOP))
    generate.run(spark, config)
    shop = tmp_path / "landing" / "shop"
    assert sorted(p.name for p in shop.iterdir()) == [
        "_ground_truth", "date=2024-03-29", "date=2024-03-30", "date=2024-03-31"
    ]
    raw = spark.read.option("header", True).csv(str(shop))
    assert tuple(raw.columns) == (*RAW_COLUMNS, "date")
    truth = spark.read.option("header", True).csv(str(shop / "_ground_truth"))
    expected = spark.createDataFrame(
        [("0", "i00003", "i00055", "2", "0.6"), ("1", "i00008", "i00054", "3", "0.6"),
         ("1", "i00008", "i00053", "3", "0.6")],
        "bundle_id string, anchor_item_id string, companion_item_id string, bundle_size string, strength string",
    )
    # items=60, 8 leaves, 4 per top: top(k) = (k mod 8) // 4. Anchor 3 is in top 0; 59..56 (k mod 8 =
    # 3..0) are top 0 too and skipped; 55 (7) is top 1. Anchor 8 is top 0; 54 (6) and 53 (5) are top 1.
    assert_df_equality(truth, expected, ignore_row_order=True, ignore_nullable=True)

    # Re-running replaces the days' folders instead of adding files next to the old ones.
    before = raw.count()
    generate.run(spark, config)
    assert spark.read.option("header", True).csv(str(shop)).count() == before


def test_summary_lists_tables_with_counts(spark, tmp_path, capsys):
    config = summary.parse_args(_args(tmp_path, f"report_file={tmp_path / 'report.txt'}"))
    from lib.storage import TableStore

    store = TableStore(spark, config.storage.warehouse, "embedded")
    from lib.schemas.ingest import QUARANTINE_SCHEMA

    rows = [(dt.date(2024, 3, 31), "r", "generic", None, "bad_number", "x"),
            (dt.date(2024, 3, 31), "r", "generic", None, "bad_number", "y"),
            (dt.date(2024, 3, 30), "r", "generic", None, "bad_number", "z")]
    store.replace_partitions("quarantine", spark.createDataFrame(rows, QUARANTINE_SCHEMA))
    store.replace_partitions("not_catalogued", spark.createDataFrame([(1, dt.date(2024, 3, 31))], "x int, dt date"))
    summary.run(spark, config)
    report = (tmp_path / "report.txt").read_text()
    assert report.splitlines()[1:] == render_overview(
        [TableOverview("quarantine", 0, 3, 2)], "2024-03-31"
    ).splitlines()
    assert "quarantine" in capsys.readouterr().out


def test_render_overview_aligns_columns_and_marks_unpartitioned_tables():
    text = render_overview([TableOverview("events", 3, 12345, 100), TableOverview("items", 0, 7, None)], "2024-03-31")
    assert text.splitlines() == [
        "table   version  rows dt=2024-03-31  rows total",
        "------  -------  ------------------  ----------",
        "events        3                 100      12,345",
        "items         0  -                            7",
    ]
