"""Rule trends on the synthetic shop: the bundle the generator starts mid-window shows as "appeared",
the one it stops as "vanished", and the always-on bundles stay kept (jobs/fpgrowth.py at D - 7 and D,
then jobs/report.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from pyspark.sql import functions as F

from jobs import fpgrowth, report
from lib.schemas.events import EVENTS, ITEMS
from lib.schemas.report import RULE_TRENDS
from lib.storage import TableStore
from lib.synth.bundles import plan_bundles
from lib.synth.spec import ShopSpec
from tests.test_fpgrowth_planted import END, canonical_tables

# 21 days; rules mined on 14-day windows ending D - 7 (days 0..13) and D (days 7..20).
SPEC = ShopSpec(seed=11, days=21, users=1_000, items=300, sessions_per_day=300, bundles=4, bundle_strength=0.6,
                appearing_bundle_day=14, vanishing_bundle_day=7)
WINDOW = 14


def pair_ids(bundle) -> list[tuple[str, str]]:
    return [(f"i{bundle.anchor:05d}", f"i{c:05d}") for c in bundle.companions]


def test_plan_marks_the_last_bundle_appearing_and_the_one_before_vanishing():
    planned = plan_bundles(SPEC)
    assert [(b.first_day, b.stop_day) for b in planned] == [(0, None), (0, None), (0, 7), (14, None)]
    assert plan_bundles(dataclasses.replace(SPEC, appearing_bundle_day=0, vanishing_bundle_day=0)) == [
        dataclasses.replace(b, first_day=0, stop_day=None) for b in planned
    ]


@pytest.fixture(scope="module")
def trends(spark, tmp_path_factory):
    warehouse = str(tmp_path_factory.mktemp("synth-trends") / "warehouse")
    store = TableStore(spark, warehouse, engine="embedded")
    events, items = canonical_tables(spark, SPEC)
    store.append(EVENTS, events)
    store.overwrite(ITEMS, items, partition_by=())
    common = ["--env", "local", "--set", f"storage.warehouse={warehouse}", "--set", "storage.engine=embedded"]
    for day in (END - dt.timedelta(days=7), END):
        config = fpgrowth.parse_args([*common, "--date", day.isoformat(), "--set", f"window_days={WINDOW}",
                                      "--set", "min_count=5", "--set", "category.enabled=false"])
        fpgrowth.run(spark, config)
    summary = report.run(spark, report.parse_args([*common, "--date", END.isoformat()]))
    pairs = {pair for b in plan_bundles(SPEC) for pair in pair_ids(b)}
    anchors = sorted({anchor for anchor, _ in pairs})
    planted = (
        store.read(RULE_TRENDS).where((F.size("antecedent") == 1) & F.col("antecedent")[0].isin(*anchors)).collect()
    )  # the anchors' one-to-one rules kept on either date: a few dozen
    found = {(r["antecedent"][0], r["consequent"]): r for r in planted if (r["antecedent"][0], r["consequent"]) in pairs}
    return store, found, summary


def test_companions_join_their_anchor_only_on_the_days_the_bundle_runs(trends):
    store = trends[0]
    first = END - dt.timedelta(days=SPEC.days - 1)
    planted = store.read(EVENTS).where(F.col("event_id").contains("-b-"))  # the generator's bundle purchases
    spans = {
        r["item_id"]: (r["first"], r["last"])
        for r in planted.groupBy("item_id").agg(F.min("dt").alias("first"), F.max("dt").alias("last")).collect()
    }  # one row per companion (6)
    bundles = plan_bundles(SPEC)
    day = lambda n: first + dt.timedelta(days=n)  # noqa: E731
    assert all(spans[c][0] >= day(14) for _, c in pair_ids(bundles[3]))  # starts on day 14
    assert all(spans[c][1] <= day(6) for _, c in pair_ids(bundles[2]))  # stops on day 7
    for bundle in bundles[:2]:  # always on: from the first days to the last ones
        assert all(spans[c][0] <= day(2) and spans[c][1] >= day(SPEC.days - 3) for _, c in pair_ids(bundle))


def test_rule_trends_show_the_started_bundle_appeared_and_the_stopped_one_vanished(trends):
    _, found, summary = trends
    planned = plan_bundles(SPEC)
    for pair in pair_ids(planned[3]):
        assert found[pair]["change"] == "appeared" and found[pair]["significant"], found.get(pair)
    for pair in pair_ids(planned[2]):
        assert found[pair]["change"] == "vanished" and found[pair]["significant"], found.get(pair)
    for bundle in planned[:2]:
        for pair in pair_ids(bundle):
            assert found[pair]["status"] == "kept" and found[pair]["previous_status"] == "kept", found[pair]
            assert found[pair]["change"] in ("stable", "strengthened", "weakened")
    assert "appeared" in summary and "vanished" in summary
