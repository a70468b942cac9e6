"""The report's flow: bounded extracts of each table -> chart + compact table per section -> one HTML
page. Tables that do not exist (None) leave their section out; the page says which."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import pandas as pd
from pyspark.sql import DataFrame

from lib.progress import Progress
from lib.report import charts, extract
from lib.report.html import Section, render_page, table
from lib.rules.report import top_rules

LIMIT_ROWS = 2_000  # no extract may bring more rows to the driver, whatever the limits say


@dataclass(frozen=True)
class Limits:
    """How many rows each section pulls from its table."""

    audit_days: int = 28
    quarantine_reasons: int = 12
    scatter_rules: int = 400
    network_rules: int = 24
    bought_together_items: int = 4
    bought_together_companions: int = 5
    bundles: int = 15
    category_pairs: int = 200
    trends_per_change: int = 8
    table_rows: int = 10
    optional_rows: int = 15
    evaluation_rows: int = 400


@dataclass(frozen=True)
class ReportInputs:
    """The tables the report reads, each already pruned to its dates; None: the table does not exist."""

    ingest_audit: DataFrame | None = None  # all dates (the report keeps limits.audit_days)
    association_rules: DataFrame | None = None  # dt = run date
    bought_together: DataFrame | None = None
    bundles: DataFrame | None = None
    category_rules: DataFrame | None = None
    rule_trends: DataFrame | None = None
    evaluation_metrics: DataFrame | None = None
    items: DataFrame | None = None
    optional: Mapping[str, DataFrame] = field(default_factory=dict)  # table name -> frame (any dates)


@dataclass(frozen=True)
class Report:
    html: str
    sections: tuple[str, ...]  # keys of the sections shown
    charts: int  # sections with a chart
    skipped: tuple[str, ...]  # tables that were missing


def pull(frame: DataFrame, limit: int) -> pd.DataFrame:
    """A bounded frame to pandas: at most min(limit, LIMIT_ROWS) rows ever reach the driver."""
    return frame.limit(min(limit, LIMIT_ROWS)).toPandas()


def _chart(make: Callable[[], object], rows: pd.DataFrame) -> str | None:
    return charts.render_svg(make()) if len(rows) else None


def _empty_note(rows: pd.DataFrame, table_name: str) -> str:
    return "" if len(rows) else f"no rows in {table_name} for this run date"


def audit_section(audit: DataFrame, day: dt.date, limits: Limits) -> Section:
    start = day - dt.timedelta(days=limits.audit_days - 1)
    days = pull(extract.audit_by_day(audit, start, day), limits.audit_days)
    reasons = pull(extract.quarantine_reasons(audit, start, day, limits.quarantine_reasons), limits.quarantine_reasons)
    tables = [table(reasons, caption="quarantine reasons")] if len(reasons) else []
    if len(days):
        totals = days[["input_rows", "accepted", "duplicates", "quarantined"]].sum().to_frame().T
        tables.insert(0, table(totals.astype("int64"), caption=f"totals {start} .. {day}"))
    return Section(
        "audit", "Ingest audit",
        f"Rows per day from ingest_audit ({start} .. {day}, the last run of each day): accepted, exact "
        "duplicates dropped, quarantined with a reason.",
        _chart(lambda: charts.audit_chart(days), days), tuple(tables), _empty_note(days, "ingest_audit"),
        rows=len(days) + len(reasons),
    )


def scatter_section(rules: DataFrame, limits: Limits) -> Section:
    points = pull(extract.rules_for_scatter(rules, limits.scatter_rules), limits.scatter_rules)
    top = pull(top_rules(rules, limits.table_rows), limits.table_rows)
    shown = top.assign(
        rule=[" + ".join(t or i for t, i in zip(ts, ids)) + " → " + (ct or c)
              for ts, ids, ct, c in zip(top["antecedent_titles"], top["antecedent"], top["consequent_title"],
                                        top["consequent"])]
    ) if len(top) else top
    tables = (table(shown, ["rule", "n_ab", "support", "confidence", "lift", "p_adjusted"],
                    caption="strongest kept rules"),) if len(top) else ()
    return Section(
        "rules", "Association rules",
        f"The {len(points)} rules of highest lift (every status): lift against confidence, size = baskets "
        "holding the rule, colour = kept or the pruning step that removed it.",
        _chart(lambda: charts.rules_scatter(points), points), tables, _empty_note(points, "association_rules"),
        rows=len(points) + len(top),
    )


def network_section(rules: DataFrame, limits: Limits) -> Section:
    edges = pull(extract.rule_edges(rules, limits.network_rules), limits.network_rules)
    return Section(
        "network", "Rules network",
        f"The {len(edges)} strongest kept one-to-one rules: items as nodes (size = rules touching them), "
        "rules as arrows from antecedent to consequent (width = lift).",
        _chart(lambda: charts.rules_network(edges), edges),
        (table(edges, ["source_title", "target_title", "lift", "confidence", "n_ab"]),) if len(edges) else (),
        _empty_note(edges, "association_rules (kept, length 2)"), rows=len(edges),
    )


def bought_together_section(together: DataFrame, items: DataFrame | None, limits: Limits) -> Section:
    n = limits.bought_together_items * limits.bought_together_companions
    rows = pull(extract.bought_together_sample(
        together, items, limits.bought_together_items, limits.bought_together_companions), n)
    return Section(
        "bought-together", "Bought together",
        f"The best companions of the {limits.bought_together_items} items whose first companion is in most "
        "baskets (bought_together, ranked by its metric).",
        _chart(lambda: charts.bought_together_chart(rows), rows),
        (table(rows, ["item", "rank", "companion", "score", "n_ab", "confidence", "lift"]),) if len(rows) else (),
        _empty_note(rows, "bought_together"), rows=len(rows),
    )


def bundles_section(bundles: DataFrame, limits: Limits) -> Section:
    rows = pull(extract.top_bundles(bundles, limits.bundles), limits.bundles)
    return Section(
        "bundles", "Bundles",
        "Kept frequent itemsets of 3+ items in most baskets, with the sum of their latest prices.",
        _chart(lambda: charts.bundles_chart(rows), rows),
        (table(rows),) if len(rows) else (), _empty_note(rows, "bundles"), rows=len(rows),
    )


def category_section(category_rules: DataFrame, limits: Limits) -> Section:
    pairs = pull(extract.category_pairs(category_rules, limits.category_pairs), limits.category_pairs)
    cross = pull(extract.top_cross_category_rules(category_rules, limits.table_rows), limits.table_rows)
    return Section(
        "categories", "Cross-category rules",
        "Kept one-to-one category rules rolled up to the top level of the category path: the best lift "
        "per pair of families; the table lists the strongest rules across top categories.",
        _chart(lambda: charts.category_heat_map(pairs), pairs),
        (table(cross, caption="strongest cross-category rules"),) if len(cross) else (),
        _empty_note(pairs, "category_rules"), rows=len(pairs) + len(cross),
    )


def trends_section(trends: DataFrame, day: dt.date, previous: dt.date, limits: Limits) -> Section:
    counts = pull(extract.trend_counts(trends), 5)
    top = pull(extract.top_trends(trends, limits.trends_per_change), 4 * limits.trends_per_change)
    tables = [table(counts, caption="rules per change")] if len(counts) else []
    if len(top):
        tables.append(table(top, ["change", "rank", "rule", "previous_lift", "lift", "previous_support", "support",
                                  "p_value", "significant"], caption="largest changes"))
    return Section(
        "trends", f"Rule trends: {day} against {previous}",
        "Rules kept on either date (rule_trends): appeared, vanished, or — kept on both — strengthened or "
        "weakened when a two-proportion z-test on support says so. Faded bars: not significant.",
        _chart(lambda: charts.trends_chart(top), top), tuple(tables),
        "" if len(top) else "no rule appeared, vanished or changed significantly", rows=len(counts) + len(top),
    )


def evaluation_sections(metrics: DataFrame, metric: str, slice_: str, limits: Limits) -> list[Section]:
    final = pull(extract.final_metrics(metrics, limits.evaluation_rows), limits.evaluation_rows)
    accuracy = final[~final["metric"].isin(extract.COVERAGE_METRICS)] if len(final) else final
    coverage = final[final["metric"].isin(extract.COVERAGE_METRICS)] if len(final) else final
    scores = pull(extract.tuning_scores(metrics, metric, slice_, limits.evaluation_rows), limits.evaluation_rows)
    chosen = pull(extract.selected_params(metrics, 20), 20)
    wide = (accuracy.pivot_table(index=["slice", "model"], columns="metric", values="value").reset_index()
            if len(accuracy) else accuracy)
    return [
        Section(
            "evaluation", "Recommendations: evaluation per slice",
            "Each model at its selected parameters on the final test window (evaluation_metrics), per slice "
            "of the test purchases.",
            _chart(lambda: charts.evaluation_chart(accuracy), accuracy),
            (table(wide),) if len(wide) else (), _empty_note(accuracy, "evaluation_metrics"), rows=len(final),
        ),
        Section(
            "coverage", "Coverage and novelty",
            "Share of the catalogue the lists cover, and how unpopular (novel) the recommended items are.",
            _chart(lambda: charts.coverage_chart(coverage), coverage),
            (table(coverage, ["slice", "model", "metric", "value", "users"]),) if len(coverage) else (),
            _empty_note(coverage, "evaluation_metrics (coverage, novelty)"),
        ),
        Section(
            "tuned", "Tuned parameters in use",
            f"Every grid point of the tuning window on {metric} ({slice_} slice); the chosen one of each model "
            "is what the recommenders run with.",
            _chart(lambda: charts.tuning_chart(scores, metric), scores),
            (table(chosen, caption="selected parameters"),) if len(chosen) else (),
            _empty_note(scores, "evaluation_metrics (tuning window)"), rows=len(scores) + len(chosen),
        ),
    ]


def optional_section(name: str, title: str, frame: DataFrame, day: dt.date, limits: Limits) -> Section:
    """A table built by another job: its top rows of the run date, charted by its measure column."""
    rows = pull(extract.preview(frame, day, limits.optional_rows), limits.optional_rows)
    value = extract.value_column(extract.on_date(frame, day))
    labels = [c for c in rows.columns if rows[c].dtype == object]
    svg = None
    if len(rows) and value and labels:
        data = rows.assign(_row=[" · ".join(str(v) for v in r) for r in rows[labels[:2]].itertuples(index=False)])
        svg = charts.render_svg(charts.bar_chart(data, "_row", value, f"{name}: {value}"))
    return Section(
        name.replace("_", "-"), title, f"The top {len(rows)} rows of {name} for {day}" + (f" by {value}." if value else "."),
        svg, (table(rows),) if len(rows) else (), _empty_note(rows, name), rows=len(rows),
    )


def build_report(
    inputs: ReportInputs,
    run_date: dt.date,
    previous_date: dt.date,
    limits: Limits,
    optional_titles: Mapping[str, str],
    selection_metric: str,
    selection_slice: str,
    generated_at: dt.datetime,
    progress: Progress,
) -> Report:
    """Every section whose table exists, in the issue's order, as one HTML page."""
    steps: list[tuple[str, str, Callable[[], list[Section]]]] = []
    if inputs.ingest_audit is not None:
        steps.append(("audit", "ingest_audit", lambda: [audit_section(inputs.ingest_audit, run_date, limits)]))
    if inputs.association_rules is not None:
        rules = inputs.association_rules
        steps.append(("rules", "association_rules", lambda: [scatter_section(rules, limits), network_section(rules, limits)]))
    if inputs.bought_together is not None:
        steps.append(("bought together", "bought_together",
                      lambda: [bought_together_section(inputs.bought_together, inputs.items, limits)]))
    if inputs.bundles is not None:
        steps.append(("bundles", "bundles", lambda: [bundles_section(inputs.bundles, limits)]))
    if inputs.category_rules is not None:
        steps.append(("category rules", "category_rules", lambda: [category_section(inputs.category_rules, limits)]))
    if inputs.rule_trends is not None:
        steps.append(("rule trends", "rule_trends",
                      lambda: [trends_section(inputs.rule_trends, run_date, previous_date, limits)]))
    if inputs.evaluation_metrics is not None:
        steps.append(("evaluation", "evaluation_metrics", lambda: evaluation_sections(
            inputs.evaluation_metrics, selection_metric, selection_slice, limits)))
    for name, title in optional_titles.items():
        if name in inputs.optional:
            frame = inputs.optional[name]
            steps.append((name, name, lambda n=name, t=title, f=frame: [optional_section(n, t, f, run_date, limits)]))

    required = ["ingest_audit", "association_rules", "bought_together", "bundles", "category_rules", "rule_trends",
                "evaluation_metrics"]
    present = {table_name for _, table_name, _ in steps}
    skipped = tuple(t for t in [*required, *optional_titles] if t not in present)
    sections: list[Section] = []
    for stage_name, _, make in steps:
        with progress.stage(f"section {stage_name}") as stage:
            made = make()
            stage.rows = sum(s.rows for s in made)
            sections.extend(made)
    with progress.stage("html") as stage:
        page = render_page(
            f"cobuy report {run_date}",
            [f"run date {run_date}; rule trends against {previous_date}",
             f"{len(sections)} sections, {sum(1 for s in sections if s.svg)} charts"],
            sections, skipped, generated_at,
        )
        stage.rows = len(sections)
    return Report(page, tuple(s.key for s in sections), sum(1 for s in sections if s.svg), skipped)
