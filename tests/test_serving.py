"""lib.recs.serving: the list evaluate measures is the list the ALS job serves, row for row."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from chispa import assert_approx_df_equality

from jobs.als import parse_args, run
from lib.recs import evaluation as E
from lib.recs.flow import active_users
from lib.recs.serving import DEFAULT_SOURCES, HybridSettings, RecommenderConfig, check_sources
from lib.schemas.recs import USER_RECOMMENDATIONS
from test_recs_job import RUN_DATE, job_args, shop  # noqa: F401 - the shop fixture


def test_evaluated_lists_equal_the_served_lists(spark, shop, warehouse):  # noqa: F811
    config = parse_args(job_args(warehouse, "--set", "recommender.serve=hybrid", "--set", "save_model=false"))
    run(spark, config)
    served = shop.read(USER_RECOMMENDATIONS, start=RUN_DATE, end=RUN_DATE).drop("dt")

    settings = config.params.recommender
    events = shop.read("events")
    window = E.SplitWindow("final", RUN_DATE - dt.timedelta(days=settings.window_days - 1), RUN_DATE,
                           RUN_DATE + dt.timedelta(days=1), RUN_DATE + dt.timedelta(days=7))
    training = E.filter_training(events, window)
    data = E.WindowData(window, training, active_users(events, RUN_DATE, settings.active_days), {},
                        E.bought_pairs(training), None, None)
    search = E.Search(settings, E.AlsGrid(), E.HybridGrid(), sources=dict(DEFAULT_SOURCES))
    _, blends = E.served_lists(data, search, {"items": shop.read("items")}, settings.als, [settings.hybrid])
    evaluated = blends[0][1]

    assert served.select("user_id").distinct().count() == 10
    assert_approx_df_equality(evaluated, served, 1e-9, ignore_row_order=True, ignore_nullable=True)


def test_hybrid_grid_has_every_single_source_and_no_fixed_weight():
    points = E.HybridGrid(weights={"als": (0.0, 0.5), "co_occurrence": (1.0,)}, normalisation=("rank",)).points(
        ["als", "buy_again", "co_occurrence", "popularity"])
    weights = [p.weights for p in points]
    singles = [{n: 1.0 if n == s else 0.0 for n in ("als", "buy_again", "co_occurrence", "popularity")}
               for s in ("als", "buy_again", "co_occurrence", "popularity")]
    assert weights[:4] == singles
    # co_occurrence 1 alone is a single again; als 0.5 + co_occurrence 1 is the one blend
    assert weights[4:] == [{"als": 0.5, "buy_again": 0.0, "co_occurrence": 1.0, "popularity": 0.0}]
    with pytest.raises(ValueError, match="unknown source 'txet'"):
        E.HybridGrid(weights={"txet": (1.0,)}).points(["als"])
    # a known source that recommender.sources switches off is left out of the blends, not an error
    assert E.HybridGrid(weights={"text": (1.0,), "als": (0.5,)}).points(["als"]) == [
        HybridSettings(weights={"als": 1.0}, normalisation="rank")]


def test_selection_slice_follows_the_serving_settings():
    assert E.selection_slice(RecommenderConfig(exclude_bought=True)) == "new_items"
    assert E.selection_slice(RecommenderConfig(exclude_bought=False)) == "all"


def test_settings_are_checked_once_in_their_types():
    with pytest.raises(ValueError, match="candidate_depth"):
        RecommenderConfig(k=20, candidate_depth=10)
    with pytest.raises(ValueError, match="weights.als"):
        HybridSettings(weights={"als": -1.0})
    with pytest.raises(ValueError, match="serve"):
        check_sources(dataclasses.replace(RecommenderConfig(), serve="text"), DEFAULT_SOURCES)
    plugged = {**DEFAULT_SOURCES, "text": DEFAULT_SOURCES["popularity"]}
    check_sources(dataclasses.replace(RecommenderConfig(), serve="text"), plugged)  # one entry adds a source
