"""Chart specs, the network layout and the page, without Spark."""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd

from lib.progress import Progress, Stage, format_line
from lib.report import charts
from lib.report.html import Section, render_page, table


def test_network_layout_puts_nodes_on_a_circle_and_points_arrows_at_their_targets():
    edges = pd.DataFrame({
        "source": ["a", "a", "b"], "source_title": ["Apple", "Apple", "Bread"],
        "target": ["b", "c", "c"], "target_title": ["Bread", "Cheese", "Cheese"],
        "lift": [2.0, 3.0, 4.0], "confidence": [0.5, 0.4, 0.3], "n_ab": [10, 20, 30],
    })
    nodes, arrows = charts.network_layout(edges)
    # every node touches two rules; ties by id: a at angle 0, b at 120 degrees, c at 240 degrees
    assert list(nodes["item"]) == ["a", "b", "c"] and list(nodes["rules"]) == [2, 2, 2]
    assert nodes.loc[0, "x"] == 1.0 and abs(nodes.loc[1, "x"] + 0.5) < 1e-12
    a_to_b = arrows.iloc[0]
    dx, dy = -1.5, math.sqrt(3) / 2  # from (1, 0) to (-0.5, 0.866)
    assert abs(a_to_b["angle"] - math.degrees(math.atan2(dx, dy)) % 360) < 1e-9
    assert abs(a_to_b["hx"] - (1 + 0.88 * dx)) < 1e-12
    assert list(arrows["rule"]) == ["Apple → Bread", "Apple → Cheese", "Bread → Cheese"]


def test_every_chart_renders_to_svg_with_marks():
    scatter = pd.DataFrame({"rule": ["a → b", "c → d"], "confidence": [0.5, 0.2], "lift": [3.0, 1.2],
                            "n_ab": [30, 5], "status": ["kept", "privacy"]})
    svg = charts.render_svg(charts.rules_scatter(scatter))
    assert svg.startswith("<svg") and svg.count("<path") >= 2
    days = pd.DataFrame({"dt": [dt.date(2024, 3, 30), dt.date(2024, 3, 31)], "input_rows": [10, 12],
                         "accepted": [8, 9], "duplicates": [1, 1], "quarantined": [1, 2]})
    assert "<svg" in charts.render_svg(charts.audit_chart(days))
    generic = pd.DataFrame({"label": ["x", "y"], "when": [dt.date(2024, 3, 31), None], "score": [0.5, 0.25]})
    assert "<svg" in charts.render_svg(charts.bar_chart(generic, "label", "score", "t"))


def test_tables_escape_text_format_numbers_and_show_missing_values_as_a_dash():
    frame = pd.DataFrame({"name": ["<b>", None], "n": [1234, 5], "x": [0.123456, float("nan")], "ok": [True, False]})
    html = table(frame, caption="c")
    assert "<td>&lt;b&gt;</td>" in html and "<td>—</td>" in html
    assert '<td class="num">1,234</td>' in html and '<td class="num">0.1235</td>' in html
    assert "<td>yes</td>" in html and "<td>no</td>" in html


def test_page_has_no_script_and_forbids_every_external_load():
    page = render_page("t", ["fact"], [Section("s1", "One", "what", "<svg></svg>", (), "a note")], ["x_table"],
                       dt.datetime(2024, 3, 31, 12, 0))
    assert "default-src 'none'" in page and "<script" not in page
    assert '<section id="s1">' in page and "Not in this report (table missing): x_table" in page


def test_progress_logs_one_line_per_stage_with_rows_and_seconds(caplog):
    import logging

    progress = Progress("report", logging.getLogger("cobuy.test"))
    with caplog.at_level(logging.INFO, logger="cobuy.test"):
        with progress.stage("read") as stage:
            stage.rows = 1234
    assert [s.name for s in progress.stages] == ["read"] and progress.stages[0].rows == 1234
    assert caplog.messages == [format_line("report", progress.stages[0])]
    assert format_line("report", Stage("html", None, 2.25)) == "report | html" + " " * 24 + " | " + " " * 14 + " |     2.2 s"
    assert "1,234 rows" in caplog.messages[0]
