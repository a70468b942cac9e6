"""jobs/report.py end to end on a tiny warehouse: rule_trends written, one self-contained HTML page
with a chart in every section, optional sections only for the tables that exist."""

from __future__ import annotations

import re

import pytest
from chispa import assert_df_equality

from jobs.report import parse_args, report_location, run
from lib.config import ConfigError
from lib.schemas.report import RULE_TRENDS
from tests.report_builders import D, PREV, small_report

SECTIONS = ["audit", "rules", "network", "bought-together", "bundles", "categories", "trends", "evaluation",
            "coverage", "tuned", "similar-items-text", "purchase-paths"]


def job_args(warehouse: str, *extra: str) -> list[str]:
    sets = [f"storage.warehouse={warehouse}", "storage.engine=embedded", *extra]
    return ["--env", "local", "--date", D.isoformat(), *[a for s in sets for a in ("--set", s)]]


@pytest.fixture(scope="module")
def reported(spark, tmp_path_factory):
    return small_report(spark, tmp_path_factory)


def test_rule_trends_table_classifies_the_rules_of_d_against_a_week_before(spark, reported):
    store, _, summary, _ = reported
    actual = store.read(RULE_TRENDS).select("antecedent", "consequent", "change", "rank", "significant",
                                            "previous_dt", "dt")
    expected = spark.createDataFrame(
        [
            (["a"], "b", "strengthened", 1, True, PREV, D),
            (["a"], "c", "appeared", 1, True, PREV, D),
            (["c"], "e", "vanished", 1, True, PREV, D),
            (["a", "b"], "e", "stable", 1, False, PREV, D),
            (["b"], "d", "stable", 2, False, PREV, D),
        ],
        actual.schema,
    )
    assert_df_equality(actual, expected, ignore_row_order=True, ignore_nullable=True)
    assert "rule trends: appeared 1, vanished 1, strengthened 1, stable 2" in summary


def test_report_is_one_page_with_a_chart_in_every_section_and_the_optional_ones_that_exist(reported):
    _, config, summary, page = reported
    assert report_location(config).endswith(f"/_reports/report-{D}.html")
    assert re.findall(r'<section id="([^"]+)"', page) == SECTIONS
    assert re.findall(r'<figure class="chart" data-section="([^"]+)"><svg', page) == SECTIONS
    assert "Not in this report (table missing): next_items, item_communities, cross_category_bridges" in page
    assert f"{len(SECTIONS)} sections, {len(SECTIONS)} charts" in summary
    # Self-contained: no script, no stylesheet or image by URL; http only as the SVG namespace.
    assert "<script" not in page and "<link" not in page and "<img" not in page
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls


def test_report_tables_show_the_latest_audit_run_and_titles_or_ids(reported):
    page = reported[3]
    # D was ingested twice: the later run (110 rows, 100 accepted) replaces the first.
    assert '<td class="num">210</td><td class="num">190</td><td class="num">9</td><td class="num">11</td>' in page
    assert "<td>Apple → Cheese</td>" in page  # rule labels use titles
    assert "<td>Apple + Cheese + f</td>" in page  # an item without title shows its id


def test_parse_args_rejects_bad_values_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'compare_days' must be at least 1, got 0"):
        parse_args(job_args(str(tmp_path), "compare_days=0"))
    with pytest.raises(ConfigError, match=r"key 'limits.bundles' must be at least 1"):
        parse_args(job_args(str(tmp_path), "limits.bundles=0"))
    with pytest.raises(ConfigError, match=r"unknown key 'limits.bundle'"):
        parse_args(job_args(str(tmp_path), "limits.bundle=3"))


def test_without_rules_on_the_run_date_no_trends_are_written_and_the_page_says_so(spark, tmp_path):
    from lib.schemas.rules import ASSOCIATION_RULES, ASSOCIATION_RULES_SCHEMA
    from lib.storage import TableStore
    from tests.report_builders import RULES_BEFORE, rule_row

    store = TableStore(spark, str(tmp_path / "warehouse"), engine="embedded")
    store.append(ASSOCIATION_RULES, spark.createDataFrame([rule_row(*r, PREV) for r in RULES_BEFORE],
                                                          ASSOCIATION_RULES_SCHEMA))
    config = parse_args(job_args(store.warehouse))
    summary = run(spark, config)
    assert not store.exists(RULE_TRENDS)
    assert summary.endswith(" KiB, 2 sections, 0 charts); rule trends: no rules")  # scatter and network, empty
    with open(report_location(config), encoding="utf-8") as handle:
        page = handle.read()
    assert "no rows in association_rules for this run date" in page and "<figure" not in page
