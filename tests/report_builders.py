"""A tiny warehouse holding every table the report reads (and two of the optional ones), built from
inline rows with the tables' schemas: shared by tests/test_report_job.py and test_report_browser.py."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from lib.schemas.evaluation import EVALUATION_METRICS, EVALUATION_METRICS_SCHEMA
from lib.schemas.events import ITEMS, ITEMS_SCHEMA
from lib.schemas.ingest import INGEST_AUDIT, INGEST_AUDIT_SCHEMA
from lib.schemas.rules import (
    ASSOCIATION_RULES, ASSOCIATION_RULES_SCHEMA, BOUGHT_TOGETHER, BOUGHT_TOGETHER_SCHEMA, BUNDLES, BUNDLES_SCHEMA,
    CATEGORY_RULES, CATEGORY_RULES_SCHEMA,
)
from lib.storage import TableStore

D = dt.date(2024, 3, 31)
PREV = D - dt.timedelta(days=7)
N = 1000
TITLES = {"a": "Apple", "b": "Bread", "c": "Cheese", "d": "Dates", "e": "Eggs", "f": None}

# (antecedent, consequent, n_ab, n_a, n_b, status) per date
RULES_NOW = [
    (["a"], "b", 60, 150, 120, "kept"),  # strengthened (30 before)
    (["a"], "c", 40, 150, 80, "kept"),  # appeared
    (["b"], "d", 25, 120, 60, "kept"),  # stable (24 before)
    (["c"], "e", 8, 80, 70, "privacy"),  # vanished (kept before)
    (["a", "b"], "e", 20, 60, 70, "kept"),  # stable, length 3
    (["d"], "f", 12, 60, 30, "not_significant"),  # kept on neither date
]
RULES_BEFORE = [
    (["a"], "b", 30, 150, 120, "kept"),
    (["b"], "d", 24, 120, 60, "kept"),
    (["c"], "e", 45, 80, 70, "kept"),
    (["a", "b"], "e", 19, 60, 70, "kept"),
]


def rule_row(ante, cons, n_ab, n_a, n_b, status, day, n=N):
    support, confidence = n_ab / n, n_ab / n_a
    lift = confidence / (n_b / n)
    return (
        ante, cons, [TITLES[a] for a in ante], TITLES[cons], len(ante) + 1, n_ab, n_a, n_b, n, support, confidence,
        lift, n_a / n, n_b / n, support - (n_a / n) * (n_b / n), None, None, n_ab / (n_a + n_b - n_ab),
        0.5 * (confidence + n_ab / n_b), 0.1, 0.001, 0.01, None, status, day,
    )


def category_row(ante, cons, cross, n_ab, lift, status="kept"):
    return (ante, cons, cross, len(ante) + 1, n_ab, 100, 100, N, n_ab / N, n_ab / 100, lift, 0.1, 0.1, 0.01, None,
            None, 0.1, 0.1, 0.1, 0.001, 0.01, None, status, D)


def evaluation_rows():
    rows = []
    models = {"popularity": 0.05, "buy_again": 0.08, "als": 0.12, "hybrid": 0.14}
    for model, base in models.items():
        for slice_, factor in (("all", 1.0), ("new_items", 0.5)):
            for metric, scale in (("precision", 1), ("recall", 2), ("ndcg", 1.5), ("coverage", 3), ("novelty", 40)):
                rows.append(("run1", "final", model, '{"rank": 32}' if model == "als" else "{}", True, "window", slice_,
                             metric, 10, base * factor * scale, 100, None, D - dt.timedelta(days=7), D - dt.timedelta(days=6), D, D))
        for rank, value in ((16, base * 1.4), (32, base * 1.5)):
            if model == "als":
                rows.append(("run1", "tuning", model, f'{{"rank": {rank}}}', rank == 32, "window", "all", "ndcg", 10, value, 90,
                             None, D - dt.timedelta(days=14), D - dt.timedelta(days=13), D - dt.timedelta(days=7), D))
        if model != "als":
            rows.append(("run1", "tuning", model, "{}", True, "window", "all", "ndcg", 10, base, 90, None,
                         D - dt.timedelta(days=14), D - dt.timedelta(days=13), D - dt.timedelta(days=7), D))
    return rows


SIMILAR_TEXT_SCHEMA = T.StructType([
    T.StructField("item_id", T.StringType(), False),
    T.StructField("similar_item_id", T.StringType(), False),
    T.StructField("similar_title", T.StringType(), True),
    T.StructField("score", T.DoubleType(), False),
    T.StructField("dt", T.DateType(), False),
])
PATHS_SCHEMA = T.StructType([  # no dt: an optional table need not be partitioned
    T.StructField("path", T.ArrayType(T.StringType()), False),
    T.StructField("support", T.DoubleType(), False),
    T.StructField("status", T.StringType(), False),
])


def write_small_warehouse(spark: SparkSession, store: TableStore) -> None:
    started = dt.datetime(2024, 3, 31, 6, 0)
    audit = [
        (D - dt.timedelta(days=1), "r1", "generic", "landing/x", started, 100, 90, 4, 6, {"bad_timestamp": 6}, None, None),
        (D, "r1", "generic", "landing/x", started, 100, 80, 10, 10, {"bad_timestamp": 4, "missing_item_id": 6}, None, None),
        (D, "r2", "generic", "landing/x", started + dt.timedelta(hours=1), 110, 100, 5, 5,
         {"missing_item_id": 5}, "InvoiceDate", "collapse"),  # a re-run of D: it replaces r1's figures
    ]
    store.append(INGEST_AUDIT, spark.createDataFrame(audit, INGEST_AUDIT_SCHEMA))
    rules = [rule_row(*r, D) for r in RULES_NOW] + [rule_row(*r, PREV) for r in RULES_BEFORE]
    store.append(ASSOCIATION_RULES, spark.createDataFrame(rules, ASSOCIATION_RULES_SCHEMA))
    together = [
        ("a", 1, "b", "Bread", "lift", 3.3, 60, 0.4, 3.3, D), ("a", 2, "c", "Cheese", "lift", 3.3, 40, 0.27, 3.3, D),
        ("b", 1, "d", None, "lift", 3.5, 25, 0.21, 3.5, D), ("c", 1, "e", "Eggs", "lift", None, 8, 0.1, 1.4, D),
    ]
    store.append(BOUGHT_TOGETHER, spark.createDataFrame(together, BOUGHT_TOGETHER_SCHEMA))
    bundles = [
        (["a", "b", "e"], ["Apple", "Bread", "Eggs"], 3, 20, 0.02, 0.13, 9.5, "kept", D),
        (["a", "c", "f"], ["Apple", "Cheese", None], 3, 7, 0.007, 0.05, None, "kept", D),  # a price unknown
        (["b", "d", "e"], ["Bread", "Dates", "Eggs"], 3, 3, 0.003, 0.02, 7.0, "privacy", D),
    ]
    store.append(BUNDLES, spark.createDataFrame(bundles, BUNDLES_SCHEMA))
    categories = [
        category_row(["kitchen/pans/small"], "garden/tools/spades", True, 30, 2.5),
        category_row(["kitchen/pans/small"], "kitchen/knives/chef", False, 50, 1.8),
        category_row(["garden/tools/spades"], "kitchen/pans/small", True, 30, 2.4),
        category_row(["garden/tools/spades", "kitchen/pans/small"], "toys/cars/red", True, 12, 4.0),
        category_row(["toys/cars/red"], "garden/seeds/herbs", True, 4, 9.0, status="privacy"),
    ]
    store.append(CATEGORY_RULES, spark.createDataFrame(categories, CATEGORY_RULES_SCHEMA))
    store.append(EVALUATION_METRICS, spark.createDataFrame(evaluation_rows(), EVALUATION_METRICS_SCHEMA))
    items = [(i, t, "leaf", "kitchen/pans/small", 2.5, PREV, D) for i, t in TITLES.items()]
    store.overwrite(ITEMS, spark.createDataFrame(items, ITEMS_SCHEMA), partition_by=())
    similar = [("a", "b", "Bread", 0.91, D), ("a", "c", "Cheese", 0.72, D), ("b", "a", "Apple", 0.91, PREV)]
    store.append("similar_items_text", spark.createDataFrame(similar, SIMILAR_TEXT_SCHEMA))
    paths = [(["a", "b"], 0.05, "kept"), (["b", "d", "e"], 0.02, "kept")]
    store.overwrite("purchase_paths", spark.createDataFrame(paths, PATHS_SCHEMA), partition_by=())


_REPORTS: dict[str, tuple] = {}


def small_report(spark: SparkSession, tmp_path_factory) -> tuple:
    """(store, config, summary, page) of jobs/report.py run once per test session on the small
    warehouse: the job test and the browser test look at the same page (one job run, not two)."""
    from jobs.report import parse_args, report_location, run  # the job under test

    if "small" not in _REPORTS:
        warehouse = str(tmp_path_factory.mktemp("report") / "warehouse")
        store = TableStore(spark, warehouse, engine="embedded")
        write_small_warehouse(spark, store)
        config = parse_args(["--env", "local", "--date", D.isoformat(), "--set", f"storage.warehouse={warehouse}",
                             "--set", "storage.engine=embedded"])
        summary = run(spark, config)
        with open(report_location(config), encoding="utf-8") as handle:
            _REPORTS["small"] = (store, config, summary, handle.read())
    return _REPORTS["small"]
