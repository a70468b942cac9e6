"""What each report section shows, pulled from the tables with a bound on the rows: every function
here is a DataFrame transform whose result has at most the stated number of rows, so the report's
`toPandas()` never brings a whole table to the driver."""

from __future__ import annotations

import datetime as dt

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lib.schemas.evaluation import VIEW_WINDOW, WINDOW_FINAL, WINDOW_TUNING
from lib.schemas.report import CHANGES
from lib.schemas.rules import KEPT

COVERAGE_METRICS = ("coverage", "novelty")
LABEL_SEPARATOR = " + "


def on_date(frame: DataFrame, day: dt.date) -> DataFrame:
    """Rows of run date `day` when the frame is dt-partitioned, else the frame as it is."""
    return frame.where(F.col("dt") == F.lit(day)) if "dt" in frame.columns else frame


def titles_or_ids(titles: str, ids: str) -> Column:
    """'Title A + Title B' from parallel arrays, an id where a title is missing."""
    return F.array_join(
        F.transform(F.arrays_zip(F.col(titles).alias("t"), F.col(ids).alias("i")), lambda p: F.coalesce(p["t"], p["i"])),
        LABEL_SEPARATOR,
    )


def rule_label() -> Column:
    consequent = F.coalesce(F.col("consequent_title"), F.col("consequent"))
    return F.concat_ws(" → ", titles_or_ids("antecedent_titles", "antecedent"), consequent)


# -- ingest audit --------------------------------------------------------------------------------


def latest_audit_runs(audit: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    """The last run per (dt, source) between `start` and `end`: a re-run replaces a day's figures."""
    latest = Window.partitionBy("dt", "source").orderBy(F.col("run_started_at").desc(), F.col("run_id").desc())
    return (
        audit.where(F.col("dt").between(F.lit(start), F.lit(end)))
        .select("*", F.row_number().over(latest.rowsBetween(Window.unboundedPreceding, Window.currentRow)).alias("_n"))
        .where(F.col("_n") == 1)
        .drop("_n")
    )


def audit_by_day(audit: DataFrame, start: dt.date, end: dt.date) -> DataFrame:
    """One row per day (at most end - start + 1): input rows, accepted, duplicates, quarantined."""
    days = (end - start).days + 1
    return (
        latest_audit_runs(audit, start, end)
        .groupBy("dt")
        .agg(*[F.sum(c).alias(c) for c in ("input_rows", "accepted", "duplicates", "quarantined")])
        .orderBy("dt")
        .limit(days)
    )


def quarantine_reasons(audit: DataFrame, start: dt.date, end: dt.date, limit: int) -> DataFrame:
    """The `limit` commonest quarantine reasons of those days, with their row counts."""
    exploded = latest_audit_runs(audit, start, end).select(F.explode("quarantined_by_reason").alias("reason", "rows"))
    return exploded.groupBy("reason").agg(F.sum("rows").alias("rows")).orderBy(F.col("rows").desc(), "reason").limit(limit)


# -- rules ---------------------------------------------------------------------------------------


def rules_for_scatter(rules: DataFrame, limit: int) -> DataFrame:
    """The `limit` rules of highest lift, every status, as label, confidence, lift, n_ab, status."""
    return (
        rules.orderBy(F.col("lift").desc(), F.col("n_ab").desc(), "consequent")
        .limit(limit)
        .select(rule_label().alias("rule"), "confidence", "lift", "n_ab", "status")
    )


def rule_edges(rules: DataFrame, limit: int) -> DataFrame:
    """The `limit` strongest kept item-to-item rules (rule_length 2) as edges source -> target."""
    return (
        rules.where((F.col("status") == KEPT) & (F.col("rule_length") == 2))
        .orderBy(F.col("lift").desc(), F.col("n_ab").desc(), "consequent")
        .limit(limit)
        .select(
            F.col("antecedent")[0].alias("source"),
            F.coalesce(F.col("antecedent_titles")[0], F.col("antecedent")[0]).alias("source_title"),
            F.col("consequent").alias("target"),
            F.coalesce("consequent_title", "consequent").alias("target_title"),
            "lift", "confidence", "n_ab",
        )
    )


def bought_together_sample(together: DataFrame, items: DataFrame | None, n_items: int, per_item: int) -> DataFrame:
    """Companions (rank <= per_item) of the n_items items whose best companion is in most baskets."""
    anchors = (
        together.where(F.col("rank") == 1).orderBy(F.col("n_ab").desc(), "item_id").limit(n_items).select("item_id")
    )
    rows = together.where(F.col("rank") <= per_item).join(F.broadcast(anchors), on="item_id", how="inner")
    if items is not None:
        titles = items.select("item_id", F.col("title").alias("item_title"))
        rows = rows.join(titles, on="item_id", how="left")
    else:
        rows = rows.select("*", F.lit(None).cast("string").alias("item_title"))
    return rows.select(
        F.coalesce("item_title", "item_id").alias("item"),
        "rank",
        F.coalesce("companion_title", "companion_id").alias("companion"),
        "metric", "score", "n_ab", "confidence", "lift",
    ).orderBy("item", "rank")


def top_bundles(bundles: DataFrame, limit: int) -> DataFrame:
    """The `limit` kept bundles in most baskets, titles joined, with their price."""
    return (
        bundles.where(F.col("status") == KEPT)
        .orderBy(F.col("count").desc(), F.col("all_confidence").desc(), F.array_join("items", ","))
        .limit(limit)
        .select(
            titles_or_ids("titles", "items").alias("bundle"), "size", "count", "support", "all_confidence",
            "bundle_price",
        )
    )


def family(column: str) -> Column:
    """The top level of a category path ('kitchen/essentials/x' -> 'kitchen')."""
    return F.split(F.col(column), "/")[0]


def category_pairs(category_rules: DataFrame, limit: int) -> DataFrame:
    """Kept one-to-one category rules rolled up to (antecedent family, consequent family): best lift,
    rules and baskets; the `limit` pairs of highest lift."""
    pairs = category_rules.where((F.col("status") == KEPT) & (F.col("rule_length") == 2)).select(
        family("consequent").alias("to_family"), "lift", "n_ab",
        F.split(F.col("antecedent")[0], "/")[0].alias("from_family"),
    )
    return (
        pairs.groupBy("from_family", "to_family")
        .agg(F.max("lift").alias("max_lift"), F.count("*").alias("rules"), F.sum("n_ab").alias("n_ab"))
        .orderBy(F.col("max_lift").desc(), "from_family", "to_family")
        .limit(limit)
    )


def top_cross_category_rules(category_rules: DataFrame, limit: int) -> DataFrame:
    return (
        category_rules.where((F.col("status") == KEPT) & F.col("cross_category"))
        .orderBy(F.col("lift").desc(), F.col("n_ab").desc(), "consequent")
        .limit(limit)
        .select(
            F.array_join("antecedent", LABEL_SEPARATOR).alias("from"), F.col("consequent").alias("to"),
            "n_ab", "confidence", "lift",
        )
    )


# -- rule trends ---------------------------------------------------------------------------------


def trend_counts(trends: DataFrame) -> DataFrame:
    """Rules per change and how many of them changed significantly (at most 5 rows)."""
    return (
        trends.groupBy("change")
        .agg(F.count("*").alias("rules"), F.sum(F.col("significant").cast("int")).alias("significant"))
        .orderBy(F.array_position(F.array(*[F.lit(c) for c in CHANGES]), F.col("change")))
        .limit(len(CHANGES))
    )


def top_trends(trends: DataFrame, per_change: int) -> DataFrame:
    """The `per_change` best-ranked rules of each change but stable (at most 4 x per_change rows)."""
    return (
        trends.where((F.col("rank") <= per_change) & (F.col("change") != "stable"))
        .select(
            rule_label().alias("rule"), "change", "rank", "previous_lift", "lift", "delta_lift",
            "previous_support", "support", "delta_support", "p_value", "significant",
        )
        .orderBy(F.array_position(F.array(*[F.lit(c) for c in CHANGES]), F.col("change")), "rank")
        .limit(len(CHANGES) * per_change)
    )


# -- recommendations -----------------------------------------------------------------------------


def final_metrics(metrics: DataFrame, limit: int) -> DataFrame:
    """The chosen grid point of every model on the final window's `window` view: model x slice x metric."""
    return (
        metrics.where((F.col("window") == WINDOW_FINAL) & F.col("selected") & (F.col("view") == VIEW_WINDOW))
        .select("model", "slice", "metric", "k", "value", "users")
        .orderBy("slice", "metric", "model")
        .limit(limit)
    )


def tuning_scores(metrics: DataFrame, metric: str, slice_: str, limit: int) -> DataFrame:
    """Every grid point of the tuning window on the selection metric and slice, chosen ones marked."""
    return (
        metrics.where(
            (F.col("window") == WINDOW_TUNING) & (F.col("metric") == metric) & (F.col("slice") == slice_)
            & (F.col("view") == VIEW_WINDOW)
        )
        .select("model", "params", "selected", "k", "value")
        .orderBy("model", F.col("value").desc_nulls_last(), "params")
        .limit(limit)
    )


def selected_params(metrics: DataFrame, limit: int) -> DataFrame:
    """The parameters in use: one row per model (the selected point of the final window)."""
    return (
        metrics.where((F.col("window") == WINDOW_FINAL) & F.col("selected"))
        .groupBy("model")
        .agg(F.first("params").alias("params"), F.first("run_id").alias("run_id"))
        .orderBy("model")
        .limit(limit)
    )


# -- tables of other jobs, when they exist -------------------------------------------------------


VALUE_COLUMNS = ("score", "similarity", "cosine", "lift", "support", "confidence", "weight", "pagerank",
                 "betweenness", "count", "n_ab", "size")


def value_column(frame: DataFrame) -> str | None:
    """The column an unknown table is ranked and charted by: a known measure's name, else the first number."""
    numeric = [f.name for f in frame.schema.fields if f.dataType.typeName() in ("integer", "long", "double", "float")]
    named = [c for c in VALUE_COLUMNS if c in numeric]
    return (named or numeric or [None])[0]


def preview(frame: DataFrame, day: dt.date, limit: int) -> DataFrame:
    """The `limit` rows of the run date (or of the table, when it has no dt) of highest value column
    (see `value_column`), arrays as text."""
    rows = on_date(frame, day)
    ranked_by = value_column(rows)
    if ranked_by is not None:
        rows = rows.orderBy(F.col(ranked_by).desc_nulls_last())
    simple = ("string", "integer", "long", "double", "float", "boolean", "date", "short")
    columns = [
        F.array_join(F.col(f.name).cast("array<string>"), LABEL_SEPARATOR).alias(f.name)
        if f.dataType.typeName() == "array" else F.col(f.name)
        for f in rows.schema.fields
        if f.name != "dt" and (f.dataType.typeName() in simple or (
            f.dataType.typeName() == "array" and f.dataType.elementType.typeName() in simple))
    ]
    return rows.select(*columns).limit(limit)
