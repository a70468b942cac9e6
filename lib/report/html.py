"""One self-contained HTML page: inline CSS, inline SVG charts, no script, no external reference."""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0; color: #222; background: #fafafa; }
header { background: #1f3b4d; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 24px; }
header p { margin: 2px 0; opacity: 0.85; }
nav { padding: 10px 32px; background: #eef2f4; border-bottom: 1px solid #d5dde2; font-size: 14px; }
nav a { margin-right: 14px; color: #1f3b4d; }
main { padding: 8px 32px 40px 32px; }
section { background: #fff; border: 1px solid #e1e4e8; border-radius: 6px; margin: 18px 0; padding: 12px 20px; }
section h2 { font-size: 19px; margin: 6px 0 4px 0; }
section p.what { color: #555; margin: 2px 0 10px 0; font-size: 14px; }
figure.chart { margin: 8px 0; overflow-x: auto; }
figure.chart svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 13px; margin: 6px 0 10px 0; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
p.note { color: #8a5a00; font-size: 13px; }
footer { color: #777; font-size: 12px; padding: 0 32px 24px 32px; }
"""


@dataclass(frozen=True)
class Section:
    key: str  # anchor id
    title: str
    what: str  # one sentence: what it shows and where from
    svg: str | None = None  # rendered chart; None: no chart (no rows)
    tables: tuple[str, ...] = ()  # rendered <table> elements
    note: str = ""
    rows: int = 0  # rows pulled from the tables for it (the progress line)


def fmt(value: object) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e6 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(frame: pd.DataFrame, columns: Sequence[str] | None = None, caption: str = "") -> str:
    """A compact HTML table of a small frame; numbers right-aligned, missing values as a dash."""
    shown = frame[list(columns)] if columns else frame
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in shown.columns)
    body = []
    for row in shown.itertuples(index=False):
        cells = []
        for value in row:
            value = value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value
            numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
            cells.append(f'<td class="num">{fmt(value)}</td>' if numeric else f"<td>{html.escape(fmt(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_section(section: Section) -> str:
    parts = [f'<section id="{html.escape(section.key)}">', f"<h2>{html.escape(section.title)}</h2>",
             f'<p class="what">{html.escape(section.what)}</p>']
    if section.svg:
        parts.append(f'<figure class="chart" data-section="{html.escape(section.key)}">{section.svg}</figure>')
    parts.extend(section.tables)
    if section.note:
        parts.append(f'<p class="note">{html.escape(section.note)}</p>')
    parts.append("</section>")
    return "\n".join(parts)


def render_page(
    title: str, facts: Sequence[str], sections: Sequence[Section], skipped: Sequence[str], generated_at: dt.datetime
) -> str:
    nav = "".join(f'<a href="#{html.escape(s.key)}">{html.escape(s.title)}</a>' for s in sections)
    skipped_note = (
        f"<p>Not in this report (table missing): {html.escape(', '.join(skipped))}</p>" if skipped else ""
    )
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing may leave the file: no scripts, no fetches, no external images or fonts.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">",
        f"<title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<header><h1>{html.escape(title)}</h1>" + "".join(f"<p>{html.escape(f)}</p>" for f in facts) + "</header>",
        f"<nav>{nav}</nav>",
        "<main>",
        skipped_note,
        *[render_section(s) for s in sections],
        "</main>",
        f"<footer>cobuy report, generated {generated_at:%Y-%m-%d %H:%M} UTC. Charts: Vega-Lite via vl-convert, "
        "inline SVG; the file needs no network.</footer>",
        "</body></html>",
    ])
