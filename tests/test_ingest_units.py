"""Unit tests of the ingest library: pseudonyms, reconciliation, adapters, cleaning rules, items upsert."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import functions as F
from pyspark.sql import types as T

from lib.ingest import adapters
from lib.config import ConfigError
from lib.ingest.audit import (
    DateCounts, QuarantineShareError, ReconciliationError, check_quarantine_share, count_files, reconcile,
    reconcile_files,
)
from lib.ingest.cleaning import drop_exact_duplicates, reason, with_dt
from lib.ingest.items import upsert_items
from lib.ingest.pseudonymise import SecretError, key_frame, load_secret, padded_keys, with_pseudonym
from lib.ingest.read import CsvOptions, input_paths, read_csv, read_json
from lib.ingest.settings import (
    CleaningRules, GenericSource, OnlineRetailSource, OrdersFile, sums_repeated_lines, validate,
)
from lib.schemas.events import ITEMS_SCHEMA
from lib.schemas.ingest import CORRUPT, FILE_DT, ORDER_FOUND, RAW, RAW_RECORD, SOURCE_FILE, STAGED_SCHEMA

NOW = dt.datetime(2024, 3, 10, 12, 0, tzinfo=dt.timezone.utc)
D1, D2 = dt.date(2024, 3, 1), dt.date(2024, 3, 2)


def py_hmac(secret: bytes, user: str) -> str:
    return hmac.new(secret, user.encode("utf-8"), hashlib.sha256).hexdigest()


# -- pseudonyms ----------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", [b"k", b"a-much-longer-secret-" * 5, "clé".encode()])
def test_hmac_with_builtins_matches_python_hmac(spark, secret):
    users = spark.createDataFrame([("17850",), ("ünïcode user",), (None,), ("",)], "user_id string")
    result = with_pseudonym(users.withColumn("clear", F.col("user_id")), key_frame(spark, secret))
    expected = spark.createDataFrame(
        [(py_hmac(secret, u) if u is not None else None, u) for u in ("17850", "ünïcode user", None, "")],
        "user_id string, clear string",
    )
    assert_df_equality(result, expected, ignore_row_order=True, ignore_nullable=True)


def test_secret_stays_out_of_the_query_plan(spark):
    secret = b"plan-secret"
    ipad, opad = padded_keys(secret)
    frame = with_pseudonym(spark.createDataFrame([("u1",)], "user_id string"), key_frame(spark, secret))
    plan = frame._jdf.queryExecution().toString().lower()  # noqa: SLF001
    assert ipad.hex() not in plan and opad.hex() not in plan and secret.hex() not in plan


def test_no_pseudonym_keys_leave_ids_in_clear(spark):
    users = spark.createDataFrame([("u1",)], "user_id string")
    assert_df_equality(with_pseudonym(users, None), users)


def test_load_secret_from_env_file_or_refuse(tmp_path):
    assert load_secret("MY_SECRET", "", {"MY_SECRET": " s3 \n"}) == b"s3"
    secret_file = tmp_path / "secret"
    secret_file.write_text("from-file\n")
    assert load_secret("MY_SECRET", str(secret_file), {"MY_SECRET": "env"}) == b"from-file"
    with pytest.raises(SecretError, match="MY_SECRET.*pseudonymize = false"):
        load_secret("MY_SECRET", "", {"MY_SECRET": "  "})
    with pytest.raises(SecretError, match="does not exist"):
        load_secret("MY_SECRET", str(tmp_path / "nope"), {})


# -- reconciliation ------------------------------------------------------------------------------


def test_reconcile_balanced_dates_include_empty_ones():
    rows = reconcile([D1, D2], {D1: 10}, {D1: 6}, {D1: 1}, {(D1, "malformed_line"): 2, (D1, "bad_timestamp"): 1})
    assert [(r.dt, r.input_rows, r.accepted, r.duplicates, r.quarantined) for r in rows] == [
        (D1, 10, 6, 1, 3), (D2, 0, 0, 0, 0),
    ]
    assert dict(rows[0].quarantined_by_reason) == {"bad_timestamp": 1, "malformed_line": 2}


def test_reconcile_fails_naming_the_date_that_does_not_add_up():
    with pytest.raises(ReconciliationError, match="2024-03-02: input 5 != accepted 3 \\+ duplicates 0 \\+ quarantined 1"):
        reconcile([D1, D2], {D1: 1, D2: 5}, {D1: 1, D2: 3}, {}, {(D2, "x"): 1})
    with pytest.raises(ReconciliationError, match="outside the run"):
        reconcile([D1], {D1: 1, D2: 1}, {D1: 1}, {}, {})


def test_input_paths_per_date_once_or_override():
    assert input_paths("{landing}/shop/date={date}", "/l/", [D1, D2], "") == [
        "/l/shop/date=2024-03-01", "/l/shop/date=2024-03-02",
    ]
    assert input_paths("{landing}/taobao", "/l", [D1, D2], "") == ["/l/taobao"]
    assert input_paths("{landing}/taobao", "/l", [D1], "x/*.csv") == ["x/*.csv"]


# -- adapters ------------------------------------------------------------------------------------


def raw_frame(spark, columns, rows, file_dt=D1):
    """Rows of raw strings as the reader delivers them (reader columns filled in)."""
    schema = T.StructType([T.StructField(c, T.StringType()) for c in columns])
    frame = spark.createDataFrame(rows, schema)
    record = F.struct(*[F.col(c) for c in columns])
    return frame.select(
        "*",
        F.lit(None).cast("string").alias(CORRUPT),
        F.lit("file:/in.csv").alias(SOURCE_FILE),
        F.lit(file_dt).cast("date").alias(FILE_DT),
        record.alias(RAW),
        F.to_csv(record).alias(RAW_RECORD),
        F.lit(None).cast("boolean").alias(ORDER_FOUND),
    )


def staged_fields(frame):
    return frame.select(*[f.name for f in STAGED_SCHEMA.fields])


def staged_expected(spark, rows):
    """Expected staged rows; `sequence`, `sequence_raw` (the last two fields) null unless given."""
    width = len(STAGED_SCHEMA.fields)
    return spark.createDataFrame([(*row, *([None] * (width - len(row)))) for row in rows], STAGED_SCHEMA)


def test_online_retail_adapter(spark):
    raw = raw_frame(spark, adapters.ONLINE_RETAIL_COLUMNS, [
        ("536365", "85123A", " WHITE HEART ", "6", "2010-12-01 08:26:00", "2.55", "17850.0", "United Kingdom"),
        ("C536379", "22633", "HAND WARMER", "-2", "2010-07-01 09:41:00", "1.85", "", "France"),
        ("536381", "", "", "x", "01/12/2010", "", None, None),
    ])
    staged = staged_fields(adapters.stage_online_retail(raw, OnlineRetailSource()))
    utc = dt.timezone.utc
    expected = staged_expected(spark, [
        (None, dt.datetime(2010, 12, 1, 8, 26, tzinfo=utc), "2010-12-01 08:26:00", "17850", None, "536365", "85123A",
         "purchase", "536365", 6, "6", 2.55, "2.55", "WHITE HEART", None, None),
        # London summer time: 09:41 BST is 08:41 UTC; a C invoice is a return with a positive quantity.
        (None, dt.datetime(2010, 7, 1, 8, 41, tzinfo=utc), "2010-07-01 09:41:00", None, None, "C536379", "22633",
         "return", "C536379", 2, "-2", 1.85, "1.85", "HAND WARMER", None, None),
        (None, None, "01/12/2010", None, None, "536381", None, "purchase", "536381", None, "x", None, None, None,
         None, None),
    ])
    assert_df_equality(staged, expected, ignore_row_order=True, ignore_nullable=True)


def test_taobao_and_retailrocket_adapters(spark):
    taobao = raw_frame(spark, adapters.TAOBAO_COLUMNS, [
        ("1", "2268318", "2520377", "buy", "1511544070"), ("2", "9", "", "click", "99999999999999"),
    ])
    rocket = raw_frame(spark, adapters.RETAILROCKET_COLUMNS, [("1433221332117", "257597", "transaction", "355908", "4000")])
    got = staged_fields(adapters.stage_taobao(taobao)).unionByName(staged_fields(adapters.stage_retailrocket(rocket)))
    ts = dt.datetime.fromtimestamp
    utc = dt.timezone.utc
    expected = staged_expected(spark, [
        (None, ts(1511544070, utc), "1511544070", "1", None, None, "2268318", "purchase", "buy", 1, None, None, None,
         None, "2520377", None),
        (None, None, "99999999999999", "2", None, None, "9", None, "click", None, None, None, None, None, None, None),
        (None, ts(1433221332.117, utc), "1433221332117", "257597", None, "4000", "355908", "purchase", "transaction",
         1, None, None, None, None, None, None),
    ])
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


# -- cleaning ------------------------------------------------------------------------------------


def staged_rows(spark, rows):
    """(id, event_time, event_time_raw, item_id, event_type, event_type_raw, quantity, quantity_raw,
    unit_price, unit_price_raw, file_dt, corrupt, raw_record)."""
    schema = ("id string, event_time timestamp, event_time_raw string, item_id string, event_type string, "
              "event_type_raw string, quantity int, quantity_raw string, unit_price double, unit_price_raw string, "
              f"{FILE_DT} date, {CORRUPT} string, {RAW_RECORD} string")
    return spark.createDataFrame(rows, schema).select(
        "*", F.lit(None).cast("boolean").alias(ORDER_FOUND), F.lit(None).cast("int").alias("sequence"),
        F.lit(None).cast("string").alias("sequence_raw"),
    )


def test_each_rule_names_its_reason(spark):
    t = dt.datetime(2024, 3, 1, 9, 0, tzinfo=dt.timezone.utc)
    ok = dict(event_time=t, event_time_raw="x", item_id="i", event_type="purchase", event_type_raw="p",
              quantity=1, quantity_raw="1", unit_price=2.0, unit_price_raw="2", file_dt=D1, corrupt=None, raw="r")
    cases = {
        "ok": {},
        "malformed": dict(corrupt="a,b", event_time=None, item_id=None),
        "undecodable": dict(raw="D\ufffdce"),
        "missing_item": dict(item_id=None),
        "missing_time": dict(event_time=None, event_time_raw=None),
        "bad_time": dict(event_time=None),
        "floor": dict(event_time=dt.datetime(1999, 1, 1, tzinfo=dt.timezone.utc), file_dt=None),
        "future": dict(event_time=dt.datetime(2024, 3, 10, 13, 1, tzinfo=dt.timezone.utc), file_dt=None),
        "mismatch": dict(file_dt=D2),
        "unknown_type": dict(event_type=None),
        "bad_number": dict(unit_price=None, unit_price_raw="two"),
        "excluded": dict(item_id="POST"),
        "excluded_pattern": dict(item_id="gift_0001_20"),
        "zero_quantity": dict(quantity=0),
        "view_zero_quantity": dict(event_type="view", quantity=0, unit_price=-1.0),
        "negative_price": dict(unit_price=-1.0),
        "outlier": dict(quantity=10_001),
    }
    rows = []
    for name, change in cases.items():
        v = {**ok, **change}
        rows.append((name, v["event_time"], v["event_time_raw"], v["item_id"], v["event_type"], v["event_type_raw"],
                     v["quantity"], v["quantity_raw"], v["unit_price"], v["unit_price_raw"], v["file_dt"],
                     v["corrupt"], v["raw"]))
    got = staged_rows(spark, rows).select("id", reason(CleaningRules(), NOW, ("POST",), "^gift_").alias("reason"))
    expected = spark.createDataFrame([
        ("ok", None), ("malformed", "malformed_line"), ("undecodable", "undecodable_text"),
        ("missing_item", "missing_item_id"), ("missing_time", "missing_event_time"), ("bad_time", "bad_timestamp"),
        ("floor", "timestamp_before_floor"), ("future", "future_timestamp"), ("mismatch", "date_mismatch"),
        ("unknown_type", "unknown_event_type"), ("bad_number", "bad_number"), ("excluded", "non_product_item"),
        ("excluded_pattern", "non_product_item"), ("zero_quantity", "non_positive_quantity"),
        ("view_zero_quantity", None), ("negative_price", "non_positive_price"), ("outlier", "quantity_outlier"),
    ], "id string, reason string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


def test_rules_can_be_switched_off(spark):
    rows = [("outlier", dt.datetime(2024, 3, 1, tzinfo=dt.timezone.utc), "x", "i", "purchase", "p", 99_999, "99999",
             0.0, "0", D2, None, "r\ufffd")]
    rules = CleaningRules(max_quantity=0, positive_price_for=(), check_file_date=False, quarantine_undecodable=False)
    got = staged_rows(spark, rows).select(reason(rules, NOW).alias("reason"))
    assert got.collect()[0]["reason"] is None


def test_dt_and_exact_duplicates(spark):
    t = dt.datetime(2024, 3, 2, 9, tzinfo=dt.timezone.utc)
    frame = spark.createDataFrame([
        ("a", t, None, None, "f1"), ("a", t, None, None, "f2"), ("a", t, None, None, "f0"),
        ("bad", None, None, "bad", "f1"), ("bad", None, None, "bad", "f1"),  # malformed: never collapsed
        ("future", dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc), None, None, "f1"),
        ("pathdate", t, D1, None, "f1"),
    ], f"{RAW_RECORD} string, event_time timestamp, {FILE_DT} date, {CORRUPT} string, {SOURCE_FILE} string")
    got = drop_exact_duplicates(with_dt(frame, CleaningRules(), NOW, undated=D1)).select(
        RAW_RECORD, "dt", SOURCE_FILE, "_copies"
    )
    expected = spark.createDataFrame([
        ("a", D2, "f0", 3), ("bad", D1, "f1", 1), ("bad", D1, "f1", 1), ("future", D1, "f1", 1), ("pathdate", D1, "f1", 1),
    ], f"{RAW_RECORD} string, dt date, {SOURCE_FILE} string, _copies long")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)


# -- items ---------------------------------------------------------------------------------------


def test_items_upsert_widens_dates_and_takes_attributes_from_the_later_side(spark):
    existing = spark.createDataFrame([
        ("i1", "Old mug", "mugs", "home/mugs", 4.0, D1, D2),
        ("i2", "Pot", None, None, 9.0, D1, D1),
        ("i3", "Later title", "c", None, 1.0, D2, dt.date(2024, 3, 9)),
    ], ITEMS_SCHEMA)
    batch = spark.createDataFrame([
        ("i1", "New mug", None, None, 5.0, dt.date(2024, 3, 3), dt.date(2024, 3, 3)),
        ("i3", "Backfilled title", "c0", "top/c0", 2.0, D1, D1),
        ("i4", None, None, None, None, D2, D2),
    ], ITEMS_SCHEMA)
    expected = spark.createDataFrame([
        ("i1", "New mug", "mugs", "home/mugs", 5.0, D1, dt.date(2024, 3, 3)),
        ("i2", "Pot", None, None, 9.0, D1, D1),
        ("i3", "Later title", "c", "top/c0", 1.0, D1, dt.date(2024, 3, 9)),
        ("i4", None, None, None, None, D2, D2),
    ], ITEMS_SCHEMA)
    assert_df_equality(upsert_items(existing, batch), expected, ignore_row_order=True, ignore_nullable=True)


# -- shapes: composite keys, date + time, undated exports ----------------------------------------


def test_generic_adapter_composite_key_date_time_and_run_date(spark):
    raw = raw_frame(spark, ["member", "day", "time", "item", "pos"], [
        ("m1", "01-03-2024", "09:30", "a", "2"), ("m1", "01-03-2024", None, "b", "x"), (None, "02-03-2024", "10:00", "c", None),
    ])
    source = GenericSource(columns={"order_id": ("member", "day"), "event_time": ("day", "time"), "item_id": "item",
                                    "sequence": "pos"},
                           date_format="dd-MM-yyyy", time_format="HH:mm", default_event_type="purchase")
    got = adapters.stage_generic(raw, source).select("order_id", "event_time", "event_time_raw", "sequence", "sequence_raw")
    expected = spark.createDataFrame([
        ("m1|01-03-2024", dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.timezone.utc), "01-03-2024 09:30", 2, "2"),
        ("m1|01-03-2024", None, None, None, "x"),  # no time: missing_event_time; "x": bad_number
        (None, dt.datetime(2024, 3, 2, 10, 0, tzinfo=dt.timezone.utc), "02-03-2024 10:00", None, None),  # no half key
    ], "order_id string, event_time timestamp, event_time_raw string, sequence int, sequence_raw string")
    assert_df_equality(got, expected, ignore_row_order=True, ignore_nullable=True)
    undated = GenericSource(columns={"item_id": "item"}, event_date="run_date", default_event_type="purchase")
    times = adapters.stage_generic(raw, undated, run_date=D2).select("event_time").distinct()
    assert_df_equality(times, spark.createDataFrame([(dt.datetime(2024, 3, 2, tzinfo=dt.timezone.utc),)],
                                                    "event_time timestamp"), ignore_nullable=True)
    assert adapters.event_time_from(undated, D2) == "run date 2024-03-02 (no timestamps in the export)"


@pytest.mark.parametrize(("generic", "message"), [
    (dict(columns={"item_id": "i"}), "generic.columns.event_time' is required"),
    (dict(columns={"item_id": "i", "event_time": "t"}, event_date="run_date"), "exclude each other"),
    (dict(columns={"item_id": "i"}, event_date="yesterday"), "'generic.event_date' must be"),
    (dict(columns={"item_id": ("a", "b"), "event_time": "t"}), "generic.columns.item_id' may be a list"),
    (dict(columns={"item_id": "i", "event_time": ("d", "t", "z")}), r"\[date column, time column\]"),
    (dict(columns={"item_id": "i", "event_time": "t"}, repeated_lines="add"), "generic.repeated_lines"),
    (dict(columns={"item_id": "i", "event_time": "t"}, orders=OrdersFile(path_template="x.csv")),
     "generic.orders.key"),
])
def test_generic_shape_config_errors_name_the_key(generic, message):
    source = GenericSource(default_event_type="purchase", **generic)
    with pytest.raises(ConfigError, match=message):
        validate("generic", CleaningRules(), source, OnlineRetailSource(), "conf/ingest.toml")
    with pytest.raises(ConfigError, match="max_quarantine_share"):
        validate("taobao", CleaningRules(max_quarantine_share=0.0), GenericSource(), OnlineRetailSource(), "c")


def test_repeated_lines_sum_by_default_without_a_quantity_column():
    assert sums_repeated_lines(GenericSource(columns={"item_id": "i"}))
    assert not sums_repeated_lines(GenericSource(columns={"item_id": "i", "quantity": "q"}))
    assert sums_repeated_lines(GenericSource(columns={"quantity": "q"}, repeated_lines="sum"))


# -- the audit of raw lines and the quarantine share -------------------------------------------


def test_count_files_splits_bytes_on_newlines_apart_from_the_parser(spark, tmp_path):
    (tmp_path / "unix.csv").write_bytes(b"a,b\n1,x\n\n   \n2,y")  # blank and spaces-only lines; no final newline
    (tmp_path / "dos.csv").write_bytes(b"a,b\r\n1,x\r\n\r\n")
    (tmp_path / "mac.csv").write_bytes(b"a,b\r1,x\r2,y\r")  # one raw line, but Spark's CSV reader parses 2 rows
    (tmp_path / "empty.csv").write_bytes(b"")
    raw = read_csv(spark, [str(tmp_path)], CsvOptions())
    got = {Path(c.file).name: (c.raw_lines, c.header_lines, c.blank_lines, c.parsed_rows, c.balanced)
           for c in count_files(spark, raw.files)}
    assert got == {
        "unix.csv": (5, 1, 2, 2, True), "dos.csv": (3, 1, 1, 1, True), "mac.csv": (1, 1, 0, 2, False),
    }  # the empty file has no line and no row
    with pytest.raises(ReconciliationError, match=r"mac.csv: 1 raw lines != 1 header \+ 0 blank \+ 2 parsed rows"):
        reconcile_files(count_files(spark, raw.files))


def test_quarantine_share_fails_with_top_reasons_and_examples():
    day = DateCounts(D1, 10, 4, 0, {"bad_timestamp": 5, "missing_item_id": 1})
    check_quarantine_share([day], 0.6, lambda: pytest.fail("examples are only read when failing"))
    with pytest.raises(QuarantineShareError, match=r"2024-03-01: 6 of 10 rows.*bad_timestamp x5, e.g. 'r1'; "
                                                   r"missing_item_id x1, e.g. 'r2'"):
        check_quarantine_share([day, DateCounts(D2, 0, 0, 0)], 0.5,
                               lambda: {"bad_timestamp": "r1", "missing_item_id": "r2"})


def test_docs_show_each_tested_shape_config():
    docs = (Path(__file__).parent.parent / "docs" / "ingest-shapes.md").read_text()
    shapes = Path(__file__).parent / "fixtures" / "ingest_shapes"
    for shape in ("grocery", "bakery", "restaurant", "baskets"):
        assert (shapes / shape / "ingest.toml").read_text() in docs, shape


def test_json_raw_record_is_the_whole_record_mapped_or_not(spark, tmp_path):
    (tmp_path / "a.jsonl").write_text(
        '{"line": 1, "sku": "A", "qty": 1}\n{"line": 2, "sku": "A", "qty": 1}\n{"line": 2, "sku": "A", "qty": 1}\n'
    )
    raw = read_json(spark, [str(tmp_path)], ["sku", "qty"])  # "line" is not mapped
    records = raw.frame.groupBy(RAW_RECORD).count()
    expected = spark.createDataFrame([('{"sku":"A","qty":"1","line":"1"}', 1), ('{"sku":"A","qty":"1","line":"2"}', 2)],
                                     f"{RAW_RECORD} string, count long")
    assert_df_equality(records, expected, ignore_row_order=True, ignore_nullable=True)
