"""End-to-end tests of jobs/ingest.py on the hand-written fixtures in tests/fixtures/ingest/."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobs import ingest
from lib.config import ConfigError
from lib.ingest.pseudonymise import SecretError
from lib.ingest.read import IngestInputError
from lib.schemas.events import EVENTS_SCHEMA

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"
SECRET = "test-secret"
UTC = dt.timezone.utc
D1, D2 = dt.date(2024, 3, 1), dt.date(2024, 3, 2)
TABLES = ("events", "items", "quarantine", "ingest_audit")




def pseudonym(user: str) -> str:
    return hmac.new(SECRET.encode(), user.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def secret_env(monkeypatch):
    monkeypatch.setenv("COBUY_PSEUDONYM_SECRET", SECRET)


def config(warehouse, *args):
    return ingest.parse_args([
        *args, "--set", f"storage.warehouse={warehouse}", "--set", f"storage.landing={FIXTURES}",
        "--set", "storage.engine=embedded",
    ])


def test_generic_csv_with_broken_lines(spark, store, warehouse):
    # The fixture breaks a rule per line: 14 of 2024-03-01's 20 rows are quarantined on purpose.
    cfg = config(warehouse, "--from", "2024-03-01", "--to", "2024-03-02", "--set", "cleaning.max_quarantine_share=0.9")
    summary = ingest.run(spark, cfg)
    assert (summary["input_rows"], summary["accepted"], summary["duplicates"], summary["quarantined"]) == (22, 7, 1, 14)

    u1, u2, u3, u4 = (pseudonym(u) for u in ("u1", "u2", "u3", "u4"))
    t = lambda h, m, day=1: dt.datetime(2024, 3, day, h, m, tzinfo=UTC)  # noqa: E731
    expected_events = spark.createDataFrame([
        ("e1", t(9, 0), u1, "s1", None, "i1", "view", None, None, "generic", D1),
        ("e2", t(9, 1), u1, "s1", None, "i1", "cart", 1, 4.5, "generic", D1),
        ("e3", t(9, 2), u1, "s1", "o1", "i1", "purchase", 1, 4.5, "generic", D1),  # its exact copy was removed
        ("e4", t(10, 0), None, "s2", "o2", "i2", "purchase", 2, 10.0, "generic", D1),
        ("e5", t(10, 5), u2, "s3", None, "i3", "fav", None, None, "generic", D1),  # text trimmed
        ("e20", t(8, 0, 2), u1, "s9", "o9", "i1", "purchase", 3, 4.0, "generic", D2),
        ("e21", t(8, 5, 2), u4, "s10", None, "i5", "view", None, None, "generic", D2),
    ], EVENTS_SCHEMA)
    assert_df_equality(store.read("events"), expected_events, ignore_row_order=True, ignore_nullable=True)

    quarantine = store.read("quarantine").select(
        F.split("raw_record", ",")[0].alias("event_id"), "reason", "dt",
        F.col("raw_record").contains(",u3,").alias("clear_user"),
    )
    expected_quarantine = spark.createDataFrame([
        ("e6", "malformed_line", D1, True), ("e7", "malformed_line", D1, True),  # column count: verbatim line
        ("e8", "malformed_line", D1, True),  # broken quoting
        ("e9", "undecodable_text", D1, False), ("e10", "missing_item_id", D1, False),
        ("e11", "bad_timestamp", D1, False), ("e12", "unknown_event_type", D1, False),
        ("e13", "future_timestamp", D1, False), ("e14", "timestamp_before_floor", D1, False),
        ("e15", "date_mismatch", D1, False), ("e16", "non_positive_quantity", D1, False),
        ("e17", "non_positive_price", D1, False), ("e18", "quantity_outlier", D1, False),
        ("e19", "bad_number", D1, False),
    ], "event_id string, reason string, dt date, clear_user boolean")
    assert_df_equality(quarantine, expected_quarantine, ignore_row_order=True, ignore_nullable=True)

    audit = store.read("ingest_audit").select("dt", "input_rows", "accepted", "duplicates", "quarantined")
    expected_audit = spark.createDataFrame([(D1, 20, 5, 1, 14), (D2, 2, 2, 0, 0)],
                                           "dt date, input_rows long, accepted long, duplicates long, quarantined long")
    assert_df_equality(audit, expected_audit, ignore_row_order=True, ignore_nullable=True)

    # A re-run replaces every date's partitions: same events, quarantine and audit rows, not twice as many.
    ingest.run(spark, cfg)
    assert_df_equality(store.read("events"), expected_events, ignore_row_order=True, ignore_nullable=True)
    rerun_counts = store.read("quarantine").groupBy().agg(F.count(F.lit(1)).alias("n"), F.countDistinct("run_id").alias("runs"))
    assert rerun_counts.collect()[0].asDict() == {"n": 14, "runs": 1}
    assert store.read("ingest_audit").count() == 2
    items = store.read("items").select("item_id", "title", "category", "latest_price", "first_seen", "last_seen")
    expected_items = spark.createDataFrame([
        ("i1", "Blue mug (new)", "mugs", 4.0, D1, D2), ("i2", "Pot, large", "pots", 10.0, D1, D1),
        ("i3", "Chess", "games", None, D1, D1), ("i5", None, None, None, D2, D2),
    ], "item_id string, title string, category string, latest_price double, first_seen date, last_seen date")
    assert_df_equality(items, expected_items, ignore_row_order=True, ignore_nullable=True)


def test_online_retail_fixture(spark, store, warehouse):
    summary = ingest.run(spark, config(
        warehouse, "--date", "2010-12-01", "--set", "source=online_retail", "--input", str(FIXTURES / "online_retail"),
    ))
    assert summary["quarantined_by_reason"] == {"malformed_line": 1, "non_positive_quantity": 1, "non_product_item": 2}
    c = pseudonym("17850")
    events = store.read("events").select("order_id", "item_id", "event_type", "quantity", "unit_price", "user_id", "event_time")
    t = lambda h, m: dt.datetime(2010, 12, 1, h, m, tzinfo=UTC)  # noqa: E731  (GMT = UTC in December)
    expected = spark.createDataFrame([
        ("536365", "85123A", "purchase", 6, 2.55, c, t(8, 26)), ("536365", "71053", "purchase", 6, 3.39, c, t(8, 26)),
        ("536366", "22633", "purchase", 6, 1.85, None, t(8, 28)), ("C536379", "22633", "return", 2, 1.85, c, t(9, 41)),
        ("536380", "22477", "purchase", 48, 2.1, pseudonym("16210"), t(9, 45)),
    ], "order_id string, item_id string, event_type string, quantity int, unit_price double, user_id string, event_time timestamp")
    assert_df_equality(events, expected, ignore_row_order=True, ignore_nullable=True)


@pytest.mark.parametrize(("args", "expected"), [
    (["--from", "2017-11-24", "--to", "2017-11-25", "--set", "source=taobao", "--input", str(FIXTURES / "taobao")],
     (6, 5, 0, {"malformed_line": 1})),
    (["--from", "2015-06-01", "--to", "2015-06-03", "--set", "source=retailrocket",
      "--input", str(FIXTURES / "retailrocket" / "events.csv"),
      "--set", "cleaning.max_quarantine_share=1.0"],  # 2015-06-01's only row has a bad timestamp
     (7, 3, 1, {"bad_timestamp": 1, "malformed_line": 1, "unknown_event_type": 1})),
    (["--date", "2024-03-01", "--input", str(FIXTURES / "json_shop"), "--conf-dir", "JSON_CONF"],
     (5, 3, 0, {"malformed_line": 1, "unknown_event_type": 1})),
], ids=["taobao", "retailrocket", "generic-json"])
def test_other_sources_reconcile(spark, store, warehouse, args, expected, json_conf):
    summary = ingest.run(spark, config(warehouse, *[json_conf if a == "JSON_CONF" else a for a in args]))
    got = (summary["input_rows"], summary["accepted"], summary["duplicates"], summary["quarantined_by_reason"])
    assert got == expected
    audit = store.read("ingest_audit").agg(F.sum("input_rows"), F.sum("accepted"), F.sum("duplicates"), F.sum("quarantined"))
    assert tuple(audit.collect()[0]) == (expected[0], expected[1], expected[2], sum(expected[3].values()))


JSON_SHOP_CONF = """
# A shop that is none of the named formats, ingested by config only.
source = "generic"
[generic]
format = "json"
timestamp_format = "unix_millis"
[generic.columns]
event_time = "ts"
user_id = "customer"
item_id = "sku"
event_type = "action"
order_id = "basket"
quantity = "qty"
unit_price = "price"
category = "cat"
title = "name"
[generic.event_types]
PageView = "view"
Order = "purchase"
Refund = "return"
Wishlist = "fav"
"""


@pytest.fixture
def json_conf(tmp_path):
    conf = tmp_path / "conf"
    (conf / "env").mkdir(parents=True)
    (conf / "ingest.toml").write_text(JSON_SHOP_CONF)
    project_conf = Path(__file__).parent.parent / "conf"
    (conf / "env" / "local.toml").write_text((project_conf / "env" / "local.toml").read_text())
    return str(conf)


def test_json_mapping_naming_an_absent_field_is_an_error(spark, store, warehouse, json_conf):
    with pytest.raises(IngestInputError, match="'nope'"):
        ingest.run(spark, config(warehouse, "--date", "2024-03-01", "--input", str(FIXTURES / "json_shop"),
                                 "--conf-dir", json_conf, "--set", "generic.columns.session_id=nope"))
    _assert_no_tables(store)


def _assert_no_tables(store):
    assert [t for t in TABLES if store.exists(t)] == []


def test_missing_path_empty_input_and_absent_column_touch_nothing(spark, store, warehouse, tmp_path):
    with pytest.raises(IngestInputError, match="date=2024-03-03"):
        ingest.run(spark, config(warehouse, "--date", "2024-03-03"))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(IngestInputError, match="empty"):
        ingest.run(spark, config(warehouse, "--date", "2024-03-01", "--input", str(empty)))
    header_only = tmp_path / "header.csv"
    header_only.write_text("event_id,event_time,item_id,event_type\n")
    with pytest.raises(IngestInputError, match="user_id.*header.csv"):
        ingest.run(spark, config(warehouse, "--date", "2024-03-01", "--input", str(header_only)))
    header_only.write_text((FIXTURES / "shop" / "date=2024-03-02" / "part-00000.csv").read_text().splitlines()[0] + "\n")
    with pytest.raises(IngestInputError, match="empty input"):
        ingest.run(spark, config(warehouse, "--date", "2024-03-01", "--input", str(header_only)))
    _assert_no_tables(store)


def test_refuses_without_secret_unless_pseudonymize_false(spark, store, warehouse, monkeypatch):
    monkeypatch.delenv("COBUY_PSEUDONYM_SECRET")
    with pytest.raises(SecretError, match="COBUY_PSEUDONYM_SECRET"):
        ingest.run(spark, config(warehouse, "--date", "2024-03-02"))
    _assert_no_tables(store)
    ingest.run(spark, config(warehouse, "--date", "2024-03-02", "--set", "pseudonymize=false"))
    users = store.read("events").select("user_id")
    assert sorted(r.user_id for r in users.collect()) == ["u1", "u4"]  # 2 rows: bounded


def test_arguments_and_config_errors():
    with pytest.raises(SystemExit):
        ingest.parse_args(["--date", "2024-03-01", "--from", "2024-03-01", "--to", "2024-03-02"])
    with pytest.raises(SystemExit):
        ingest.parse_args(["--from", "2024-03-02", "--to", "2024-03-01"])
    with pytest.raises(ConfigError, match="key 'source' must be one of"):
        ingest.parse_args(["--date", "2024-03-01", "--set", "source=shopify"])
    with pytest.raises(ConfigError, match="generic.event_types.x"):
        ingest.parse_args(["--date", "2024-03-01", "--set", "generic.event_types.x=click"])
    with pytest.raises(ConfigError, match="unknown key 'secret'"):
        ingest.parse_args(["--date", "2024-03-01", "--set", "secret=s3cret"])
    cfg = ingest.parse_args(["--from", "2024-03-01", "--to", "2024-03-03", "--input", "some dir/x.csv"])
    assert (cfg.run_date, cfg.params.input, ingest.run_dates(cfg)) == (D1, "some dir/x.csv", [D1, D2, dt.date(2024, 3, 3)])
