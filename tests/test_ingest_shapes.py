"""The four export shapes of docs/ingest-shapes.md, each ingested end to end by config alone, with
hand-computed events, baskets and audits; plus the all-quarantined and the line-losing inputs."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F

from jobs import fpgrowth, ingest
from lib.ingest.audit import ReconciliationError
from lib.rules.baskets import build_baskets, count_unbasketed
from lib.rules.flow import NoBasketsError
from lib.schemas.ingest import EVENT_SEQUENCES, INGEST_AUDIT, INGEST_FILES

SHAPES = Path(__file__).parent / "fixtures" / "ingest_shapes"
PROJECT_CONF = Path(__file__).parent.parent / "conf"
SECRET = "test-secret"
UTC = dt.timezone.utc
ALL_TABLES = ("events", "items", "quarantine", INGEST_AUDIT, INGEST_FILES, EVENT_SEQUENCES)
EVENT_COLUMNS = ("event_time", "user_id", "order_id", "item_id", "event_type", "quantity", "dt")
EVENTS_DDL = ("event_time timestamp, user_id string, order_id string, item_id string, event_type string, "
              "quantity int, dt date")
FILES_DDL = ("file string, role string, raw_lines long, header_lines long, blank_lines long, parsed_rows long, "
             "orders_without_lines long")
AUDIT_DDL = ("dt date, input_rows long, accepted long, duplicates long, quarantined long, event_time_from string, "
             "repeated_lines string")


def keyed(text: str) -> str:
    return hmac.new(SECRET.encode(), text.encode(), hashlib.sha256).hexdigest()


@pytest.fixture(autouse=True)
def secret_env(monkeypatch):
    monkeypatch.setenv("COBUY_PSEUDONYM_SECRET", SECRET)


def conf_dir(tmp_path: Path, shape: str) -> str:
    conf = tmp_path / "conf"
    (conf / "env").mkdir(parents=True, exist_ok=True)
    (conf / "ingest.toml").write_text((SHAPES / shape / "ingest.toml").read_text())
    (conf / "env" / "local.toml").write_text((PROJECT_CONF / "env" / "local.toml").read_text())
    return str(conf)


def storage_args(warehouse: str) -> list[str]:
    return ["--set", f"storage.warehouse={warehouse}", "--set", f"storage.landing={SHAPES}",
            "--set", "storage.engine=embedded"]


def run_shape(spark, tmp_path, warehouse, shape, *args):
    config = ingest.parse_args([*args, "--conf-dir", conf_dir(tmp_path, shape), *storage_args(warehouse)])
    return ingest.run(spark, config)


def assert_audit(spark, store, files, dates):
    got_files = store.read(INGEST_FILES).select(
        F.element_at(F.split("file", "/"), -1).alias("file"), *FILES_DDL.replace(",", "").split()[2::2],
    )
    assert_df_equality(got_files, spark.createDataFrame(files, FILES_DDL), ignore_row_order=True, ignore_nullable=True)
    got_dates = store.read(INGEST_AUDIT).select(*AUDIT_DDL.replace(",", "").split()[::2])
    assert_df_equality(got_dates, spark.createDataFrame(dates, AUDIT_DDL), ignore_row_order=True, ignore_nullable=True)


def assert_events(spark, store, rows):
    got = store.read("events").select(*EVENT_COLUMNS)
    assert_df_equality(got, spark.createDataFrame(rows, EVENTS_DDL), ignore_row_order=True, ignore_nullable=True)


def assert_baskets(spark, store, kind, expected, unbasketed, **options):
    events = store.read("events")
    got = build_baskets(events, kind, **options).select(F.col("items"))
    want = spark.createDataFrame([(sorted(b),) for b in expected], "items array<string>")
    assert_df_equality(got, want, ignore_row_order=True, ignore_nullable=True)
    assert count_unbasketed(events, kind).first()[0] == unbasketed


def reasons(store):
    return sorted((r.reason, r.dt) for r in store.read("quarantine").select("reason", "dt").collect())  # few rows


# -- the four shapes -----------------------------------------------------------------------------

G1, G2 = dt.date(2015, 1, 1), dt.date(2015, 1, 2)


def test_grocery_member_date_item(spark, store, warehouse, tmp_path):
    """No order id: member-day baskets from order_id = [member, date]; a repeated line is quantity 2."""
    run_shape(spark, tmp_path, warehouse, "grocery", "--from", "2015-01-01", "--to", "2015-01-02")
    midnight = lambda day: dt.datetime(day.year, day.month, day.day, tzinfo=UTC)  # noqa: E731
    basket = lambda member, date: keyed(f"{member}|{date}")  # noqa: E731
    m1000, m1001, m1002 = keyed("1000"), keyed("1001"), keyed("1002")
    assert_events(spark, store, [
        (midnight(G1), m1000, basket(1000, "01-01-2015"), "whole milk", "purchase", 2, G1),  # listed twice
        (midnight(G1), m1000, basket(1000, "01-01-2015"), "yogurt", "purchase", 1, G1),
        (midnight(G1), m1001, basket(1001, "01-01-2015"), "whole milk", "purchase", 1, G1),
        (midnight(G1), m1001, basket(1001, "01-01-2015"), "rolls/buns", "purchase", 1, G1),
        (midnight(G2), m1000, basket(1000, "02-01-2015"), "yogurt", "purchase", 1, G2),
        (midnight(G2), m1000, basket(1000, "02-01-2015"), "rolls/buns", "purchase", 1, G2),
        (midnight(G2), m1002, basket(1002, "02-01-2015"), "whole milk", "purchase", 1, G2),
        (midnight(G2), m1002, basket(1002, "02-01-2015"), "yogurt", "purchase", 1, G2),
        (midnight(G2), None, None, "soda", "purchase", 1, G2),  # no member: no half key, no basket
    ])
    assert reasons(store) == [("bad_timestamp", G1)]  # "2015/01/02": undated, so the run's first date
    assert_audit(spark, store, [("groceries.csv", "events", 13, 1, 1, 11, None)], [
        (G1, 6, 4, 1, 1, "column Date (dd-MM-yyyy)", "sum"), (G2, 5, 5, 0, 0, "column Date (dd-MM-yyyy)", "sum"),
    ])
    member_days = [{"whole milk", "yogurt"}, {"whole milk", "rolls/buns"}, {"yogurt", "rolls/buns"},
                   {"whole milk", "yogurt"}]
    assert_baskets(spark, store, "order", member_days, unbasketed=1)
    assert_baskets(spark, store, "user_day", member_days, unbasketed=1)
    # A 2-day user window ending 2015-01-02 puts member 1000's two days into one basket.
    assert_baskets(spark, store, "user_window", [{"whole milk", "yogurt", "rolls/buns"}, {"whole milk", "rolls/buns"},
                                                 {"whole milk", "yogurt"}],
                   unbasketed=1, user_window_days=2, end=G2)

    # fpgrowth mines the member-day baskets; with session baskets there are none, and it says why.
    fp_args = ["--date", "2015-01-02", *storage_args(warehouse), "--set", "window_days=2", "--set", "min_count=2",
               "--set", "category.enabled=false", "--set", "pruning.privacy_min_count=2", "--set", "min_lift=0.5"]
    summary = fpgrowth.run(spark, fpgrowth.parse_args([*fp_args, "--set", "basket=user_day"]))
    assert (summary["baskets"], summary["unbasketed_events"]) == (4, 1)
    itemsets = store.read("frequent_itemsets").select("items", "count")
    assert_df_equality(itemsets, spark.createDataFrame(
        [(["whole milk"], 3), (["yogurt"], 3), (["rolls/buns"], 2), (["whole milk", "yogurt"], 2)],
        "items array<string>, count long"), ignore_row_order=True, ignore_nullable=True)
    with pytest.raises(NoBasketsError, match=r"kind 'session'.*9 basket events, 9 of them without a basket "
                                                      r"key \(session_id\)"):
        fpgrowth.run(spark, fpgrowth.parse_args([*fp_args, "--set", "basket=session"]))


def test_bakery_split_date_and_time(spark, store, warehouse, tmp_path):
    """Date and Time in two columns (CRLF line ends); a till placeholder item and a missing time quarantined."""
    run_shape(spark, tmp_path, warehouse, "bakery", "--date", "2016-10-30")
    day = dt.date(2016, 10, 30)
    t = lambda h, m, s: dt.datetime(2016, 10, 30, h, m, s, tzinfo=UTC)  # noqa: E731
    assert_events(spark, store, [
        (t(9, 58, 11), None, "1", "Bread", "purchase", 1, day),
        (t(10, 5, 34), None, "2", "Scandinavian", "purchase", 2, day),  # the same line twice: summed
        (t(10, 7, 57), None, "3", "Hot chocolate", "purchase", 1, day),
        (t(10, 7, 57), None, "3", "Jam", "purchase", 1, day),
        (t(10, 7, 57), None, "3", "Cookies", "purchase", 1, day),
        (t(10, 8, 41), None, "4", "Muffin", "purchase", 1, day),
        (t(10, 13, 3), None, "5", "Coffee", "purchase", 1, day),
        (t(10, 13, 3), None, "5", "Bread", "purchase", 1, day),
    ])
    assert reasons(store) == [("missing_event_time", day), ("non_product_item", day)]
    source = "columns Date (yyyy-MM-dd) + Time (HH:mm:ss)"
    assert_audit(spark, store, [("bread_basket.csv", "events", 12, 1, 0, 11, None)],
                 [(day, 11, 8, 1, 2, source, "sum")])
    assert_baskets(spark, store, "order", [{"Bread"}, {"Scandinavian"}, {"Hot chocolate", "Jam", "Cookies"},
                                           {"Muffin"}, {"Coffee", "Bread"}], unbasketed=0)


def test_restaurant_orders_and_order_lines(spark, store, warehouse, tmp_path):
    """Two files joined on order_id: one event per line; a line without its order is quarantined; an order
    without lines is counted; lines differing only in their (unmapped) line id both stay."""
    run_shape(spark, tmp_path, warehouse, "restaurant", "--date", "2019-08-03")
    day = dt.date(2019, 8, 3)
    t = lambda h, m: dt.datetime(2019, 8, 3, h, m, tzinfo=UTC)  # noqa: E731
    assert_events(spark, store, [
        (t(20, 25), None, "101", "Plain Papadum", "purchase", 2, day),
        (t(20, 25), None, "101", "King Prawn Balti", "purchase", 1, day),
        (t(20, 17), None, "102", "Plain Papadum", "purchase", 1, day),  # its re-sent copy collapsed
        (t(20, 17), None, "102", "Mango Chutney", "purchase", 1, day),  # line 4
        (t(20, 17), None, "102", "Mango Chutney", "purchase", 1, day),  # line 6: another line, kept
    ])
    assert reasons(store) == [("order_not_found", day)]
    source = "columns date (yyyy-MM-dd) + time (HH:mm)"
    assert_audit(spark, store, [
        ("order_details.csv", "events", 8, 1, 0, 7, None), ("orders.csv", "orders", 4, 1, 0, 3, 1),
    ], [(day, 7, 5, 1, 1, source, "collapse")])
    assert_baskets(spark, store, "order", [{"Plain Papadum", "King Prawn Balti"}, {"Plain Papadum", "Mango Chutney"}],
                   unbasketed=0)


def test_undated_basket_export_with_cart_order(spark, store, warehouse, tmp_path):
    """No timestamps: events dated by the run date (the audit says so), cart order kept in event_sequences."""
    run_shape(spark, tmp_path, warehouse, "baskets", "--date", "2017-05-01")
    day = dt.date(2017, 5, 1)
    midnight = dt.datetime(2017, 5, 1, tzinfo=UTC)
    assert_events(spark, store, [
        (midnight, None, "1", "49302", "purchase", 1, day), (midnight, None, "1", "11109", "purchase", 1, day),
        (midnight, None, "1", "10246", "purchase", 1, day), (midnight, None, "2", "33120", "purchase", 2, day),
        (midnight, None, "2", "28985", "purchase", 1, day),
    ])
    assert reasons(store) == [("missing_item_id", day)]
    source = "run date 2017-05-01 (no timestamps in the export)"
    # The file has no newline after its last line: still 8 lines.
    assert_audit(spark, store, [("order_products.csv", "events", 8, 1, 0, 7, None)], [(day, 7, 5, 1, 1, source, "sum")])
    sequences = store.read(EVENT_SEQUENCES).select("order_id", "sequence", "dt")
    assert_df_equality(sequences, spark.createDataFrame(
        [("1", 1, day), ("1", 2, day), ("1", 3, day), ("2", 1, day), ("2", 2, day)], "order_id string, sequence int, dt date",
    ), ignore_row_order=True, ignore_nullable=True)
    events = store.read("events").select("event_id", "item_id")
    joined = store.read(EVENT_SEQUENCES).join(events, on="event_id", how="inner").select("item_id", "sequence")
    assert {(r.item_id, r.sequence) for r in joined.collect()} == {  # 5 rows
        ("49302", 1), ("11109", 2), ("10246", 3), ("33120", 1), ("28985", 2)}
    assert_baskets(spark, store, "order", [{"49302", "11109", "10246"}, {"33120", "28985"}], unbasketed=0)


# -- inputs that must fail -----------------------------------------------------------------------


def test_ratings_from_1997_all_quarantined_fail_loudly_and_write_nothing(spark, store, warehouse, tmp_path, caplog):
    argv = ["--date", "2024-03-01", "--conf-dir", conf_dir(tmp_path, "ratings"), *storage_args(warehouse)]
    with caplog.at_level(logging.ERROR, logger="cobuy"):
        assert ingest.main(argv) == 1
    message = caplog.text
    assert "2024-03-01: 4 of 4 rows" in message and "timestamp_before_floor x4, e.g. '" in message
    assert [t for t in ALL_TABLES if store.exists(t)] == []


def test_a_parse_that_loses_lines_is_refused(spark, store, warehouse, tmp_path):
    """Spark's JSON reader makes no row of a line '[]': 5 raw lines, 1 blank, 3 parsed rows."""
    with pytest.raises(ReconciliationError, match=r"2024-03-01.jsonl: 5 raw lines != 0 header \+ 1 blank \+ 3 parsed"):
        run_shape(spark, tmp_path, warehouse, "lossy", "--date", "2024-03-01")
    assert [t for t in ALL_TABLES if store.exists(t)] == []


def test_user_window_baskets_count_back_from_the_last_day(spark):
    end = dt.date(2024, 3, 10)
    rows = [("u1", "a", end), ("u1", "b", end - dt.timedelta(days=1)), ("u1", "c", end - dt.timedelta(days=2)),
            ("u1", "d", end - dt.timedelta(days=4)), ("u2", "a", end), (None, "z", end), ("u2", "v", end)]
    events = spark.createDataFrame(
        [(u, i, "view" if i == "v" else "purchase", d) for u, i, d in rows], "user_id string, item_id string, event_type string, dt date",
    )
    got = build_baskets(events, "user_window", user_window_days=2, end=end)
    expected = spark.createDataFrame([
        ("u1|2024-03-10", ["a", "b"]), ("u1|2024-03-08", ["c"]), ("u1|2024-03-06", ["d"]), ("u2|2024-03-10", ["a"]),
    ], "basket_id string, items array<string>")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    assert tuple(count_unbasketed(events, "user_day").first()) == (1, 6)  # (unbasketed, purchases)
