"""lib.catalog: every table once, renames, and docs/tables.md is what the catalogue renders."""

from __future__ import annotations

from pathlib import Path

import pytest

from lib.catalog import TABLES, catalog, render_markdown

DOC = Path(__file__).resolve().parent.parent / "docs" / "tables.md"


def test_every_table_is_catalogued_once_with_its_partitioning():
    names = [t.name for t in TABLES]
    assert len(names) == len(set(names))
    tables = catalog()
    assert tables.table("events").partition_by == ("dt",) and tables.table("items").partition_by == ()
    assert tables.table("job_runs").write == "append"
    assert not tables.table("events").schema["event_id"].nullable and tables.table("events").schema["user_id"].nullable
    assert {t.name for t in tables.produced_by("fpgrowth")} == {
        "frequent_itemsets", "association_rules", "bought_together", "category_rules", "bundles"}


def test_renames_resolve_for_readers_and_writers_and_bad_ones_fail():
    tables = catalog({"events": "events_v2"})
    assert tables.physical("events") == "events_v2" and tables.physical("items") == "items"
    assert tables.logical("events_v2") == "events"
    with pytest.raises(KeyError, match="unknown table 'evnts'"):
        catalog({"evnts": "x"})
    with pytest.raises(ValueError, match="two tables would be written as 'items'"):
        catalog({"events": "items"})
    with pytest.raises(KeyError, match="not in the catalogue"):
        tables.physical("nope")


def test_docs_tables_md_is_current():
    assert DOC.read_text() == render_markdown(), "regenerate: python -m lib.catalog > docs/tables.md"
