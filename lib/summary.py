"""Plain-text rendering of what a pipeline run wrote, for people reading a terminal."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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
