"""Plain-text rendering of what a pipeline run wrote, for people reading a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dataclass(frozen=True)
class TableOverview:
    table: str
    version: int
    rows_total: int
    rows_on_date: int | None  # None for tables not partitioned by dt


def render_table(headers: Sequence[str], rows: Sequence[Sequence[object]], max_width: int = 60) -> str:
    """A fixed-width text table; long cells are cut with an ellipsis."""

    def cell(value: object) -> str:
        if value is None:
            text = "-"
        elif isinstance(value, float):
            text = f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
        elif isinstance(value, int):
            text = f"{value:,}"
        else:
            text = str(value)
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    rule = "  ".join("-" * w for w in widths)
    body = ["  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(r, widths)) for r in cells]
    return "\n".join([line, rule, *body])


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "", 1).replace("-", "", 1).replace("e", "", 1).isdigit()


def render_overview(overviews: Sequence[TableOverview], run_date: str) -> str:
    rows = [(o.table, o.version, o.rows_on_date, o.rows_total) for o in overviews]
    return render_table(("table", "version", f"rows dt={run_date}", "rows total"), rows)


# ---------------------------------------------------------------------------------------------
# Highlights of a run, from the frames the summary job read (each bounded before it is collected)


def rules_section(rules: DataFrame, top_n: int, day: object) -> str:
    from lib.rules.report import format_rule_lines, top_rules

    lines = format_rule_lines(top_rules(rules, top_n).collect())  # at most top_n rows
    return f"=== the {len(lines)} strongest kept rules (dt={day}) ===\n" + "\n".join(lines)


def recommendation_section(recs: DataFrame, items: DataFrame, day: object) -> str:
    """Top-5 lists of three users, with item titles, and how many users got lists from which source."""
    by_source = recs.groupBy("source").agg(F.countDistinct("user_id").alias("users")).orderBy("source")
    users = recs.select("user_id").distinct().orderBy("user_id").limit(3)
    sample = (
        recs.where(F.col("rank") <= 5)
        .join(users, on="user_id", how="inner")
        .join(items.select("item_id", "title"), on="item_id", how="left")
        .orderBy("user_id", "rank")
        .collect()  # 3 users x 5 ranks
    )
    lines = [f"=== user recommendations (dt={day}) ==="]
    lines.append("users per source: " + ", ".join(f"{r['source']} {r['users']:,}" for r in by_source.collect()))
    for row in sample:
        lines.append(f"{row['user_id'][:12]}…  #{row['rank']}  {row['title'] or row['item_id']}  "
                     f"({row['source']}, {row['score']:.3f})")
    return "\n".join(lines)


def evaluation_section(metrics: DataFrame, day: object) -> str:
    """The chosen grid point of the final window, per view: models x slices x metrics (a few hundred rows)."""
    from lib.recs.evaluation import comparison_table
    from lib.recs.metrics import ALL_METRICS
    from lib.schemas.evaluation import VIEWS, WINDOW_FINAL

    rows = [r.asDict() for r in metrics.where((F.col("window") == WINDOW_FINAL) & F.col("selected")).collect()]
    tables = [comparison_table(rows, WINDOW_FINAL, ALL_METRICS, view) for view in VIEWS]
    return f"=== evaluation (dt={day}, final window, selected parameters) ===\n" + "\n\n".join(tables)
