"""Honest offline evaluation of what is served: a time split, views and slices of the truth, a tuning window.

The split (run date D, horizon h days, training window w days = recommender.window_days):
- final window: train on the w days up to D - h (inclusive), test on the purchases dated
  D - h + 1 .. D;
- tuning window (when `tuning_horizon_days` = t > 0): the same shape shifted back so that its test
  days end where the final training ends. Parameters are chosen on it; the final window, whose test
  days were never looked at while tuning, gives the reported figures.
Every model sees only the training events, so nothing after the split leaks.

Each model's list is built by `lib.recs.serving.serve_candidates` with the serving settings of the
recommender config — the same function and settings the ALS job serves with (bought items removed
when `exclude_bought`, cold start, hybrid blend, re-ranking). The selection slice follows them:
`new_items` when bought items are excluded (a list without them cannot hit a repeat purchase),
else `all`.

Truth: test purchases by users who have an event in the training days. Views:
- `window`: every distinct (user, item) purchase of the test days;
- `next_basket`: the items of each test user's first basket after the split (order, else day).
Slices of a view: `all`; `new_items` (the user had not bought the item in training); `cold_items`
(nobody had bought the item in training). Every model is reported on every view x slice.

The hybrid search includes each single source (a one-hot weight) next to the blends of
`hybrid_grid`, so on the tuning window the chosen hybrid scores at least as well as its best part.
Candidate sources are pluggable (`sources`: name -> CandidateSource, see lib.recs.serving).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from lib.recs.als import AlsParams
from lib.recs.interactions import purchases
from lib.recs.metrics import evaluate_at_k, item_self_information
from lib.recs.ranking import filter_bought, rerank
from lib.recs.serving import (
    DEFAULT_SOURCES,
    HYBRID,
    CandidateSource,
    HybridSettings,
    RecommenderConfig,
    SourceContext,
    candidate_lists,
    check_sources,
    serve_candidates,
    with_model,
)
from lib.schemas.evaluation import (
    SLICE_ALL,
    SLICE_COLD_ITEMS,
    SLICE_NEW_ITEMS,
    SLICES,
    VIEW_NEXT_BASKET,
    VIEW_WINDOW,
    VIEWS,
    WINDOW_FINAL,
    WINDOW_TUNING,
)

log = logging.getLogger(__name__)

ALS = "als"


# ---------------------------------------------------------------------------------------------
# Search settings (conf/evaluate.toml; the recommender itself is conf/recommender.toml)


@dataclass(frozen=True)
class AlsGrid:
    """Cartesian grid over ALS hyperparameters; the other AlsParams fields come from recommender.als."""

    rank: tuple[int, ...] = (32,)
    reg_param: tuple[float, ...] = (0.1,)
    alpha: tuple[float, ...] = (10.0,)

    def points(self, base: AlsParams) -> list[AlsParams]:
        return [
            dataclasses.replace(base, rank=r, reg_param=g, alpha=a)
            for r, g, a in itertools.product(self.rank, self.reg_param, self.alpha)
        ]


@dataclass(frozen=True)
class HybridGrid:
    """Weights per source (a source left out has weight 0) x normalisation; no weight is fixed.
    Weights of a source that `recommender.sources` switches off are ignored; an unknown name is an error.

    The search always adds each single source (weight 1, every other 0).
    """

    weights: Mapping[str, tuple[float, ...]] = field(
        default_factory=lambda: {"co_occurrence": (0.0, 0.5), "als": (0.5, 1.0)}
    )
    normalisation: tuple[str, ...] = ("rank",)

    def points(self, sources: Iterable[str]) -> list[HybridSettings]:
        from lib.recs.sources import ALL_SOURCES  # here: lib.recs.sources builds on this module's neighbours

        names = sorted(sources)
        unknown = sorted(set(self.weights) - set(ALL_SOURCES) - set(names))
        if unknown:
            raise ValueError(f"hybrid_grid weight for unknown source '{unknown[0]}' (known: {', '.join(ALL_SOURCES)})")
        singles = [{name: 1.0} for name in names]
        grid_names = sorted(n for n in self.weights if n in names)  # a known source switched off is left out
        blends = [dict(zip(grid_names, combo)) for combo in itertools.product(*(self.weights[n] for n in grid_names))]
        points, seen = [], set()
        for normalisation in self.normalisation:
            for weights in [*singles, *blends]:
                full = {name: float(weights.get(name, 0.0)) for name in names}
                top = max(full.values())
                # weights scaled by one factor rank alike: {als: 0.5} is the single als again
                key = (normalisation, tuple(sorted((n, round(w / top, 9) if top else 0.0) for n, w in full.items())))
                if any(w > 0 for w in full.values()) and key not in seen:
                    seen.add(key)
                    points.append(HybridSettings(weights=full, normalisation=normalisation))
        return points


@dataclass(frozen=True)
class Chosen:
    als: AlsParams
    hybrid: HybridSettings
    tuned: bool  # False: no tuning window, the configured values were used as they are


def selection_slice(settings: RecommenderConfig) -> str:
    """The slice that picks parameters: what the served list can hit."""
    return SLICE_NEW_ITEMS if settings.exclude_bought else SLICE_ALL


# ---------------------------------------------------------------------------------------------
# The split


@dataclass(frozen=True)
class SplitWindow:
    name: str
    train_start: dt.date | None  # None: all history up to train_end
    train_end: dt.date  # last training day, inclusive (the models' `as_of`)
    test_start: dt.date
    test_end: dt.date  # inclusive

    def describe(self) -> str:
        since = self.train_start.isoformat() if self.train_start else "start"
        return (
            f"{self.name}: train {since}..{self.train_end.isoformat()}, "
            f"test {self.test_start.isoformat()}..{self.test_end.isoformat()}"
        )


def split_windows(
    run_date: dt.date, horizon_days: int, train_days: int = 0, tuning_horizon_days: int = 0
) -> tuple[SplitWindow, ...]:
    """(tuning window, if any; final window). `train_days` 0: all history before the split."""
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, got {horizon_days}")
    if train_days < 0 or tuning_horizon_days < 0:
        raise ValueError(
            f"train_days and tuning_horizon_days must be >= 0, got {train_days} and {tuning_horizon_days}"
        )

    def window(name: str, test_end: dt.date, horizon: int) -> SplitWindow:
        test_start = test_end - dt.timedelta(days=horizon - 1)
        train_end = test_start - dt.timedelta(days=1)
        train_start = train_end - dt.timedelta(days=train_days - 1) if train_days else None
        return SplitWindow(name, train_start, train_end, test_start, test_end)

    final = window(WINDOW_FINAL, run_date, horizon_days)
    if not tuning_horizon_days:
        return (final,)
    return (window(WINDOW_TUNING, final.train_end, tuning_horizon_days), final)


def event_date() -> Column:
    return F.to_date(F.col("event_time"))


def is_purchase() -> Column:
    return F.col("event_type") == F.lit("purchase")


def filter_training(events: DataFrame, window: SplitWindow) -> DataFrame:
    """Events of the training days only (whatever the `dt` partition says, the event time decides)."""
    in_training = event_date() <= F.lit(window.train_end)
    if window.train_start is not None:
        in_training = in_training & (event_date() >= F.lit(window.train_start))
    return events.where(in_training)


def filter_test_purchases(events: DataFrame, window: SplitWindow) -> DataFrame:
    in_test = (event_date() >= F.lit(window.test_start)) & (event_date() <= F.lit(window.test_end))
    return events.where(in_test & is_purchase())


def training_users(training: DataFrame) -> DataFrame:
    return training.where(F.col("user_id").isNotNull()).select("user_id").distinct()


def bought_pairs(training: DataFrame) -> DataFrame:
    """(user_id, item_id) the user bought in training."""
    return purchases(training).select("user_id", "item_id").distinct()


def evaluated_test_purchases(events: DataFrame, window: SplitWindow) -> DataFrame:
    """Test purchase events of users seen in training."""
    return (
        filter_test_purchases(events, window)
        .where(F.col("user_id").isNotNull())
        .join(training_users(filter_training(events, window)), on="user_id", how="left_semi")
    )


def truth_all(events: DataFrame, window: SplitWindow) -> DataFrame:
    """(user_id, item_id): distinct test purchases of users seen in training."""
    return evaluated_test_purchases(events, window).select("user_id", "item_id").distinct()


def truth_next_basket(events: DataFrame, window: SplitWindow) -> DataFrame:
    """(user_id, item_id): the items of each evaluated user's first basket in the test days.

    A basket is an order; purchases without an order form one basket per day.
    """
    tests = evaluated_test_purchases(events, window)
    basket = F.coalesce(F.col("order_id"), F.concat(F.lit("day:"), event_date().cast("string")))
    baskets = tests.groupBy("user_id", basket.alias("basket")).agg(F.min("event_time").alias("first_time"))
    first = Window.partitionBy("user_id").orderBy(F.col("first_time").asc(), F.col("basket").asc())
    firsts = baskets.withColumn("n", F.row_number().over(first)).where(F.col("n") == F.lit(1))
    return (
        tests.withColumn("basket", basket)
        .join(firsts.select("user_id", "basket"), on=["user_id", "basket"], how="inner")
        .select("user_id", "item_id")
        .distinct()
    )


def truth_new_items(truth: DataFrame, training: DataFrame) -> DataFrame:
    """The truth pairs whose item the user had not bought in training."""
    return truth.join(bought_pairs(training), on=["user_id", "item_id"], how="left_anti")


def truth_cold_items(truth: DataFrame, training: DataFrame) -> DataFrame:
    """The truth pairs whose item nobody bought in training."""
    bought_items = bought_pairs(training).select("item_id").distinct()
    return truth.join(bought_items, on="item_id", how="left_anti").select("user_id", "item_id")


def truth_slices(truth: DataFrame, training: DataFrame) -> dict[str, DataFrame]:
    return {
        SLICE_ALL: truth,
        SLICE_NEW_ITEMS: truth_new_items(truth, training),
        SLICE_COLD_ITEMS: truth_cold_items(truth, training),
    }


def split_counts(events: DataFrame, window: SplitWindow) -> dict[str, int]:
    """Test purchase lines in all, by anonymous users, by users unseen in training; evaluated users."""
    seen = training_users(filter_training(events, window)).withColumn("seen", F.lit(True))
    tests = filter_test_purchases(events, window).join(seen, on="user_id", how="left")
    row = tests.agg(
        F.count(F.lit(1)).alias("test_purchase_lines"),
        F.sum(F.when(F.col("user_id").isNull(), 1).otherwise(0)).alias("anonymous_lines"),
        F.sum(F.when(F.col("user_id").isNotNull() & F.col("seen").isNull(), 1).otherwise(0)).alias(
            "unseen_user_lines"
        ),
        F.countDistinct(F.when(F.col("seen"), F.col("user_id"))).alias("evaluated_users"),
    ).collect()[0]
    return {key: int(value or 0) for key, value in row.asDict().items()}


def discovery_list(recs: DataFrame, bought: DataFrame, k: int) -> DataFrame:
    """The list without the user's previously bought items, re-ranked 1..k."""
    return rerank(filter_bought(recs, bought), k)


# ---------------------------------------------------------------------------------------------
# One window's data


@dataclass(frozen=True)
class WindowData:
    """Everything one window's evaluation reads, materialised once (localCheckpoint)."""

    window: SplitWindow
    training: DataFrame
    users: DataFrame  # (user_id) evaluated users
    truth: Mapping[tuple[str, str], DataFrame]  # (view, slice) -> (user_id, item_id)
    bought: DataFrame  # (user_id, item_id) bought in training
    catalogue: DataFrame  # (item_id) items bought in training
    self_information: DataFrame


def prepare_window(events: DataFrame, window: SplitWindow) -> WindowData:
    training = filter_training(events, window).localCheckpoint()
    views = {VIEW_WINDOW: truth_all(events, window), VIEW_NEXT_BASKET: truth_next_basket(events, window)}
    truth = {
        (view, slice_name): frame.localCheckpoint()
        for view, view_truth in views.items()
        for slice_name, frame in truth_slices(view_truth, training).items()
    }
    bought = bought_pairs(training).localCheckpoint()
    return WindowData(
        window=window,
        training=training,
        users=truth[(VIEW_WINDOW, SLICE_ALL)].select("user_id").distinct().localCheckpoint(),
        truth=truth,
        bought=bought,
        catalogue=bought.select("item_id").distinct().localCheckpoint(),
        self_information=item_self_information(bought).localCheckpoint(),
    )


def window_context(
    data: WindowData, settings: RecommenderConfig, inputs: Mapping[str, DataFrame], fitted: Mapping[str, Any] | None = None
) -> SourceContext:
    """The serving context of a window: training events, its evaluated users, as of the last training day."""
    return SourceContext(data.training, data.users, data.window.train_end, settings, inputs, fitted or {})


# ---------------------------------------------------------------------------------------------
# Measuring


def measure(
    data: WindowData, served: DataFrame, k: int, cells: Sequence[tuple[str, str]] | None = None
) -> list[dict[str, Any]]:
    """[{view, slice, metric, k, value, users}] of one served list (a bounded collect)."""
    return measure_lists(data, {"": served}, k, cells)[""]


def measure_lists(
    data: WindowData, served: Mapping[str, DataFrame], k: int, cells: Sequence[tuple[str, str]] | None = None
) -> dict[str, list[dict[str, Any]]]:
    """{name: [{view, slice, metric, k, value, users}]} of several served lists (one bounded collect).

    Every list x view x slice cell is measured in one pass: each list's top-k is ranked once, not
    once per cell, metric family and list (a Spark job and its planning cost more than the tiny
    joins of one more list)."""
    cells = list(cells or [(v, s) for v in VIEWS for s in SLICES])
    names = list(served)
    if not names:
        return {}
    spark = next(iter(served.values())).sparkSession
    lists = None
    for name, frame in served.items():
        part = frame.select(F.lit(name).alias("list"), "user_id", "rank", "item_id")
        lists = part if lists is None else lists.unionByName(part)
    truth = None
    for view, slice_name in cells:
        part = data.truth[(view, slice_name)].select(
            F.lit(view).alias("view"), F.lit(slice_name).alias("slice"), "user_id", "item_id"
        )
        truth = part if truth is None else truth.unionByName(part)
    list_names = spark.createDataFrame([(n,) for n in names], "list string")
    groups = list_names.crossJoin(spark.createDataFrame(cells, "view string, slice string"))
    metrics = evaluate_at_k(lists, list_names.crossJoin(truth), data.catalogue, data.self_information, k, groups)
    measured: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for row in metrics.collect():  # lists x cells x 7 metrics rows
        values = row.asDict()
        measured[values.pop("list")].append(values)
    return measured


def metric_value(rows: Sequence[Mapping[str, Any]], metric: str, view: str, slice_name: str) -> float:
    for row in rows:
        if (row["metric"], row["view"], row["slice"]) == (metric, view, slice_name):
            return float("-inf") if row["value"] is None else float(row["value"])
    raise ValueError(f"selection metric '{metric}' on {view}/{slice_name} was not measured")


def als_dict(params: AlsParams) -> dict[str, Any]:
    return {"rank": params.rank, "reg_param": params.reg_param, "alpha": params.alpha, "max_iter": params.max_iter}


def params_json(model: str, settings: RecommenderConfig, als: AlsParams, hybrid: HybridSettings) -> str:
    """The parameters a model's list was built with, as a JSON object (keys sorted)."""
    s = settings
    by_model: dict[str, Any] = {
        "popularity": {"window_days": s.popularity_window_days},
        "buy_again": {"half_life_days": s.buy_again_half_life_days},
        "co_occurrence": {"recent_items": s.co_occurrence_recent_items, "top_n": s.co_occurrence_top_n,
                          "max_basket_items": s.co_occurrence_max_basket_items},
        ALS: {"als": als_dict(als)},
        HYBRID: {**hybrid.as_dict(), "als": als_dict(als)},
    }
    return json.dumps(by_model.get(model, {}), sort_keys=True)


@dataclass
class MetricRows:
    """Accumulates the rows of `evaluation_metrics` (without run_id/dt, added by the job)."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, window: SplitWindow, model: str, params: str, selected: bool, measured: list[dict]) -> None:
        for row in measured:
            self.rows.append(
                {
                    "window": window.name, "model": model, "params": params, "selected": selected,
                    "view": row["view"], "slice": row["slice"], "metric": row["metric"], "k": int(row["k"]),
                    "value": row["value"], "users": int(row["users"]),
                    "train_start": window.train_start, "train_end": window.train_end,
                    "test_start": window.test_start, "test_end": window.test_end,
                }
            )

    def mark_selected(self, window_name: str, model: str, params: str) -> None:
        for row in self.rows:
            if row["window"] == window_name and row["model"] == model and row["params"] == params:
                row["selected"] = True


# ---------------------------------------------------------------------------------------------
# The procedure


@dataclass(frozen=True)
class EvaluationResult:
    windows: tuple[SplitWindow, ...]
    chosen: Chosen
    rows: list[dict[str, Any]]  # evaluation_metrics rows
    tuned: list[dict[str, Any]]  # tuned_parameters rows: model, parameters, metric, value, selected
    counts: Mapping[str, Mapping[str, int]]  # window name -> split_counts
    selection: tuple[str, str, str]  # (metric, view, slice) that chose the parameters


@dataclass(frozen=True)
class Search:
    """What one evaluation run searches and how it measures."""

    settings: RecommenderConfig
    als_grid: AlsGrid
    hybrid_grid: HybridGrid
    metric: str = "ndcg"
    tuning_slices: tuple[str, ...] = ()
    sources: Mapping[str, CandidateSource] = field(default_factory=lambda: dict(DEFAULT_SOURCES))

    @property
    def selection(self) -> tuple[str, str, str]:
        return (self.metric, VIEW_WINDOW, selection_slice(self.settings))

    def tuning_cells(self) -> list[tuple[str, str]]:
        return list(dict.fromkeys([(VIEW_WINDOW, selection_slice(self.settings)),
                                   *[(VIEW_WINDOW, s) for s in self.tuning_slices]]))


def served_lists(
    data: WindowData, search: Search, inputs: Mapping[str, DataFrame], als: AlsParams,
    hybrids: Sequence[HybridSettings], fitted: Mapping[str, Any] | None = None,
    computed: Mapping[str, DataFrame] | None = None,
) -> tuple[dict[str, DataFrame], list[tuple[HybridSettings, DataFrame]]]:
    """Each source's served list and each hybrid point's served list on the window (checkpointed).
    `computed`: candidate lists already made with these settings (the tuned ALS point's), not made again."""
    settings = dataclasses.replace(search.settings, als=als)
    ctx = window_context(data, settings, inputs, fitted)
    computed = dict(computed or {})
    missing = tuple(n for n in search.sources if n not in computed)
    candidates = {**computed, **{n: f.localCheckpoint() for n, f in candidate_lists(ctx, search.sources, missing).items()}}
    singles = {n: serve_candidates(candidates, with_model(settings, n), data.bought) for n in search.sources}
    blends = [(h, serve_candidates(candidates, with_model(settings, HYBRID, h), data.bought)) for h in hybrids]
    return singles, blends


def tune(data: WindowData, search: Search, inputs: Mapping[str, DataFrame], out: MetricRows,
         tuned: list[dict[str, Any]]) -> Chosen:
    """Grid-search ALS (served on its own), then every hybrid point (each single source included)."""
    settings, cells = search.settings, search.tuning_cells()
    metric, view, slice_name = search.selection
    metric_name = f"{metric}@{settings.k} {view}/{slice_name}"
    base_hybrid = settings.hybrid
    best_als, best_score, best_candidates = None, float("-inf"), {}
    for point in search.als_grid.points(settings.als):
        ctx = window_context(data, dataclasses.replace(settings, als=point), inputs)
        recs = {name: frame.localCheckpoint() for name, frame in candidate_lists(ctx, search.sources, (ALS,)).items()}
        served = serve_candidates(recs, with_model(ctx.settings, ALS), data.bought)
        measured = measure(data, served, settings.k, cells)
        score = metric_value(measured, metric, view, slice_name)
        params = params_json(ALS, settings, point, base_hybrid)
        out.add(data.window, ALS, params, False, measured)
        tuned.append({"model": ALS, "parameters": params, "metric": metric_name, "value": _finite(score), "selected": False})
        log.info("tuning als %s: %s = %.5f", als_dict(point), metric_name, score)
        if score > best_score:
            best_als, best_score, best_candidates = point, score, recs
    if best_als is None:
        raise ValueError("the ALS grid is empty: give at least one value for each of rank, reg_param, alpha")
    _select(out, tuned, data.window.name, ALS, params_json(ALS, settings, best_als, base_hybrid))

    points = search.hybrid_grid.points(search.sources)
    singles, blends = served_lists(data, search, inputs, best_als, points, computed=best_candidates)
    single_rows = measure_lists(data, {n: f for n, f in singles.items() if n != ALS}, settings.k, cells)
    for name, measured in single_rows.items():
        params = params_json(name, settings, best_als, base_hybrid)
        out.add(data.window, name, params, True, measured)
        tuned.append({"model": name, "parameters": params, "metric": metric_name,
                      "value": _finite(metric_value(measured, metric, view, slice_name)), "selected": True})
    blend_rows = measure_lists(data, {str(i): served for i, (_, served) in enumerate(blends)}, settings.k, cells)
    best_hybrid, best_score = None, float("-inf")
    for i, (point, _) in enumerate(blends):
        measured = blend_rows[str(i)]
        score = metric_value(measured, metric, view, slice_name)
        params = params_json(HYBRID, settings, best_als, point)
        out.add(data.window, HYBRID, params, False, measured)
        tuned.append({"model": HYBRID, "parameters": params, "metric": metric_name, "value": _finite(score), "selected": False})
        log.info("tuning hybrid %s: %s = %.5f", point.as_dict(), metric_name, score)
        if score > best_score:
            best_hybrid, best_score = point, score
    if best_hybrid is None:
        raise ValueError("the hybrid search is empty")
    _select(out, tuned, data.window.name, HYBRID, params_json(HYBRID, settings, best_als, best_hybrid))
    return Chosen(als=best_als, hybrid=best_hybrid, tuned=True)


def _finite(value: float) -> float | None:
    return None if value == float("-inf") else value


def _select(out: MetricRows, tuned: list[dict[str, Any]], window: str, model: str, params: str) -> None:
    out.mark_selected(window, model, params)
    for row in tuned:
        if row["model"] == model and row["parameters"] == params:
            row["selected"] = True


def report(data: WindowData, search: Search, inputs: Mapping[str, DataFrame], chosen: Chosen, out: MetricRows) -> None:
    """Every source and the hybrid, with the chosen parameters, on every view x slice of the window."""
    singles, blends = served_lists(data, search, inputs, chosen.als, [chosen.hybrid])
    measured = measure_lists(data, {**singles, HYBRID: blends[0][1]}, search.settings.k)
    for name, rows in measured.items():
        params = params_json(name, search.settings, chosen.als, chosen.hybrid)
        out.add(data.window, name, params, True, rows)


def run_evaluation(
    events: DataFrame,
    inputs: Mapping[str, DataFrame],
    run_date: dt.date,
    horizon_days: int,
    tuning_horizon_days: int,
    search: Search,
) -> EvaluationResult:
    """Tune on the tuning window (when there is one), then report every model on the final window.

    `inputs` are the sources' declared inputs (at least `items` for the ALS cold start).
    """
    settings = search.settings
    for name in search.sources:
        check_sources(with_model(settings, name), search.sources)
    missing = sorted({i for s in search.sources.values() for i in s.inputs} - set(inputs) - {"companions"})
    if missing:
        raise ValueError(f"candidate source input '{missing[0]}' was not given")
    unknown = sorted(set(search.tuning_slices) - set(SLICES))
    if unknown:
        raise ValueError(f"tuning slice '{unknown[0]}' is not one of {', '.join(SLICES)}")
    windows = split_windows(run_date, horizon_days, settings.window_days, tuning_horizon_days)
    out, tuned, counts = MetricRows(), [], {}
    chosen = Chosen(als=settings.als, hybrid=settings.hybrid, tuned=False)
    for window in windows:
        log.info("evaluation window %s", window.describe())
        counts[window.name] = split_counts(events, window)
        data = prepare_window(events, window)
        if window.name == WINDOW_TUNING:
            chosen = tune(data, search, inputs, out, tuned)
        else:
            report(data, search, inputs, chosen, out)
    if not chosen.tuned:
        metric, view, slice_name = search.selection
        for name in [*search.sources, HYBRID]:
            tuned.append({"model": name, "parameters": params_json(name, settings, chosen.als, chosen.hybrid),
                          "metric": f"{metric}@{settings.k} {view}/{slice_name}", "value": None,
                          "selected": False})  # nothing was chosen: the ALS job keeps its own config
    return EvaluationResult(windows, chosen, out.rows, tuned, counts, search.selection)


# ---------------------------------------------------------------------------------------------
# Presenting


def comparison_table(rows: Sequence[Mapping[str, Any]], window: str, metrics: Sequence[str], view: str = VIEW_WINDOW) -> str:
    """Models x (slice, metric) of the selected rows of one window and view, as fixed-width text."""
    chosen_rows = [r for r in rows if r["window"] == window and r["selected"] and r.get("view", VIEW_WINDOW) == view]
    slices = [s for s in SLICES if any(r["slice"] == s for r in chosen_rows)]
    columns = [(s, m) for s in slices for m in metrics]
    values = {(r["model"], r["slice"], r["metric"]): r["value"] for r in chosen_rows}
    k = chosen_rows[0]["k"] if chosen_rows else 0
    width = max([10, *[len(f"{m}@{k}") for _, m in columns]])
    header = ["model".ljust(14)] + [f"{m}@{k}".rjust(width) for _, m in columns]
    slice_header = [f"[{view}]".ljust(14)] + [s.rjust(width) for s, _ in columns]
    lines = [" ".join(slice_header), " ".join(header)]
    models = list(dict.fromkeys(r["model"] for r in chosen_rows))
    for model in sorted(models, key=lambda m: (m == HYBRID, m)):
        cells = []
        for slice_name, metric in columns:
            value = values.get((model, slice_name, metric))
            cells.append(("-" if value is None else f"{value:.4f}").rjust(width))
        lines.append(" ".join([model.ljust(14), *cells]))
    return "\n".join(lines)
