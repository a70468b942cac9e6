"""Honest offline evaluation of the recommenders: a time split, two truth slices, a tuning window.

The split (run date D, horizon h days, both from the job):
- final window: train on events dated up to D - h (inclusive; optionally only the last `train_days`
  days), test on the purchases dated D - h + 1 .. D (the following h days);
- tuning window (when `tuning_horizon_days` = t > 0): the same shape shifted back so that its test
  days end where the final training ends: train up to D - h - t, test D - h - t + 1 .. D - h.
  Hyperparameters are chosen on it; the final window, whose test days were never looked at while
  tuning, gives the reported figures. Its training days include the tuning test days, as they would
  in production.
Every model sees only the training events (the frame is cut before any model function gets it), so
nothing after the split leaks into features, popularity, co-occurrence or ALS factors.

Truth: the distinct (user, item) purchases of the test days by users who have at least one event in
the training days (only they can be personalised). Two slices:
- `all`: every such purchase; the lists are evaluated as the model ranks them;
- `new_items`: only items the user had not bought in training (discovery); each model's list has the
  user's previously bought items removed and is re-ranked before the cut at K, as a "discover" shelf
  would show it. Test purchases by anonymous users or by users unseen in training cannot be evaluated;
  `split_counts` reports how many there were, so nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lib.recs.als import AlsParams
from lib.recs.baselines import (
    bought_together_from_baskets,
    recommend_buy_again,
    recommend_co_occurrence,
    recommend_popularity,
)
from lib.recs.hybrid import recommend_hybrid
from lib.recs.interactions import purchases
from lib.recs.metrics import evaluate_at_k, item_self_information
from lib.recs.pipeline import als_training_set, recommend_als_with_cold_start, train_als
from lib.recs.ranking import filter_bought, rerank
from lib.schemas.evaluation import SLICE_ALL, SLICE_NEW_ITEMS, SLICES, WINDOW_FINAL, WINDOW_TUNING

log = logging.getLogger(__name__)

POPULARITY, BUY_AGAIN, CO_OCCURRENCE, ALS, HYBRID = "popularity", "buy_again", "co_occurrence", "als", "hybrid"
BASE_MODELS = (POPULARITY, BUY_AGAIN, CO_OCCURRENCE, ALS)
MODELS = (*BASE_MODELS, HYBRID)


# ---------------------------------------------------------------------------------------------
# Settings (the job's config; every field is a key of conf/evaluate.toml)


@dataclass(frozen=True)
class RecommenderSettings:
    """How each model is built for the evaluation; mirror conf/als.toml so the job is what is measured."""

    candidate_depth: int = 50  # rows per user each model produces; the new_items slice needs > k
    popularity_window_days: int = 90
    buy_again_half_life_days: float = 60.0
    co_occurrence_recent_items: int = 20
    co_occurrence_top_n: int = 50
    co_occurrence_max_basket_items: int = 100
    event_weights: Mapping[str, float] = field(
        default_factory=lambda: {"view": 1.0, "cart": 3.0, "fav": 2.0, "purchase": 5.0, "return": 5.0}
    )
    confidence_half_life_days: float = 90.0
    min_user_items: int = 1
    als: AlsParams = AlsParams()


@dataclass(frozen=True)
class AlsGrid:
    """Cartesian grid over ALS hyperparameters; the other AlsParams fields come from settings.als."""

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
    """Cartesian grid over the hybrid's weights per model and its score normalisation."""

    popularity: tuple[float, ...] = (0.0,)
    buy_again: tuple[float, ...] = (1.0,)
    co_occurrence: tuple[float, ...] = (0.5,)
    als: tuple[float, ...] = (0.5,)
    normalisation: tuple[str, ...] = ("rank",)

    def points(self) -> list[HybridChoice]:
        combos = itertools.product(
            self.popularity, self.buy_again, self.co_occurrence, self.als, self.normalisation
        )
        points = [
            HybridChoice(weights={POPULARITY: p, BUY_AGAIN: b, CO_OCCURRENCE: c, ALS: a}, normalisation=n)
            for p, b, c, a, n in combos
        ]
        return [point for point in points if any(w > 0 for w in point.weights.values())]


@dataclass(frozen=True)
class HybridChoice:
    weights: Mapping[str, float]
    normalisation: str

    def as_dict(self) -> dict[str, Any]:
        return {"weights": dict(sorted(self.weights.items())), "normalisation": self.normalisation}


@dataclass(frozen=True)
class Selection:
    """Which metric on which slice picks the winner of a grid (higher is better)."""

    metric: str = "ndcg"
    slice: str = SLICE_ALL


@dataclass(frozen=True)
class Chosen:
    als: AlsParams
    hybrid: HybridChoice
    tuned: bool  # False: no tuning window, the configured values were used as they are


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
    """(tuning window, if any; final window). See the module docstring for the layout."""
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


def truth_all(events: DataFrame, window: SplitWindow) -> DataFrame:
    """(user_id, item_id): distinct test purchases of users seen in training."""
    return (
        filter_test_purchases(events, window)
        .where(F.col("user_id").isNotNull())
        .join(training_users(filter_training(events, window)), on="user_id", how="left_semi")
        .select("user_id", "item_id")
        .distinct()
    )


def truth_new_items(truth: DataFrame, training: DataFrame) -> DataFrame:
    """The truth pairs whose item the user had not bought in training."""
    return truth.join(bought_pairs(training), on=["user_id", "item_id"], how="left_anti")


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
# Building each model's candidate lists on a training frame


@dataclass(frozen=True)
class WindowData:
    """Everything one window's evaluation reads, materialised once (localCheckpoint)."""

    window: SplitWindow
    training: DataFrame
    users: DataFrame  # (user_id) evaluated users
    truth: Mapping[str, DataFrame]  # slice -> (user_id, item_id)
    bought: DataFrame  # (user_id, item_id) bought in training
    catalogue: DataFrame  # (item_id) items bought in training
    self_information: DataFrame


def prepare_window(events: DataFrame, window: SplitWindow) -> WindowData:
    training = filter_training(events, window).localCheckpoint()
    truth = truth_all(events, window).localCheckpoint()
    bought = bought_pairs(training).localCheckpoint()
    return WindowData(
        window=window,
        training=training,
        users=truth.select("user_id").distinct().localCheckpoint(),
        truth={SLICE_ALL: truth, SLICE_NEW_ITEMS: truth_new_items(truth, training).localCheckpoint()},
        bought=bought,
        catalogue=bought.select("item_id").distinct().localCheckpoint(),
        self_information=item_self_information(bought).localCheckpoint(),
    )


def baseline_candidates(data: WindowData, settings: RecommenderSettings) -> dict[str, DataFrame]:
    """popularity, buy_again and co_occurrence lists (depth `candidate_depth`) for the window's users."""
    as_of, depth, training, users = data.window.train_end, settings.candidate_depth, data.training, data.users
    companions = bought_together_from_baskets(
        training, settings.co_occurrence_top_n, settings.co_occurrence_max_basket_items
    )
    return {
        POPULARITY: recommend_popularity(training, users, as_of, settings.popularity_window_days, depth),
        BUY_AGAIN: recommend_buy_again(training, users, as_of, depth, settings.buy_again_half_life_days),
        CO_OCCURRENCE: recommend_co_occurrence(
            training, users, companions, depth, settings.co_occurrence_recent_items
        ),
    }


def als_candidates(
    data: WindowData, items: DataFrame, settings: RecommenderSettings, params: AlsParams
) -> DataFrame:
    """ALS lists (already-bought items kept; cold-start rows for users the model does not know)."""
    as_of = data.window.train_end
    training_set = als_training_set(
        data.training, as_of, settings.event_weights, settings.confidence_half_life_days,
        settings.min_user_items,
    )
    fitted = train_als(training_set, params)
    return recommend_als_with_cold_start(
        fitted, data.training, items, data.users, as_of, settings.candidate_depth,
        exclude_bought=False, popularity_window_days=settings.popularity_window_days,
    )


def hybrid_candidates(
    candidates: Mapping[str, DataFrame], choice: HybridChoice, depth: int
) -> DataFrame:
    used = {name: candidates[name] for name in BASE_MODELS}
    return recommend_hybrid(used, choice.weights, depth, choice.normalisation)


# ---------------------------------------------------------------------------------------------
# Measuring


def measure(
    data: WindowData, recs: DataFrame, k: int, slices: Sequence[str] = SLICES
) -> list[dict[str, Any]]:
    """[{slice, metric, k, value, users}] for one model's candidate lists (a bounded collect)."""
    parts = []
    for slice_name in slices:
        lists = recs if slice_name == SLICE_ALL else discovery_list(recs, data.bought, k)
        measured = evaluate_at_k(lists, data.truth[slice_name], data.catalogue, data.self_information, k)
        parts.append(measured.withColumn("slice", F.lit(slice_name)))
    frame = parts[0]
    for part in parts[1:]:
        frame = frame.unionByName(part)
    return [row.asDict() for row in frame.collect()]


def metric_value(rows: Sequence[Mapping[str, Any]], selection: Selection) -> float:
    for row in rows:
        if row["metric"] == selection.metric and row["slice"] == selection.slice:
            return float("-inf") if row["value"] is None else float(row["value"])
    raise ValueError(f"selection metric '{selection.metric}' on slice '{selection.slice}' was not measured")


def params_json(model: str, settings: RecommenderSettings, als: AlsParams, hybrid: HybridChoice) -> str:
    by_model: dict[str, Any] = {
        POPULARITY: {"window_days": settings.popularity_window_days},
        BUY_AGAIN: {"half_life_days": settings.buy_again_half_life_days},
        CO_OCCURRENCE: {
            "recent_items": settings.co_occurrence_recent_items,
            "top_n": settings.co_occurrence_top_n,
            "max_basket_items": settings.co_occurrence_max_basket_items,
        },
        ALS: als_dict(als),
    }
    by_model[HYBRID] = {**hybrid.as_dict(), ALS: als_dict(als)}
    return json.dumps(by_model[model], sort_keys=True)


def als_dict(params: AlsParams) -> dict[str, Any]:
    return {"rank": params.rank, "reg_param": params.reg_param, "alpha": params.alpha, "max_iter": params.max_iter}


@dataclass
class MetricRows:
    """Accumulates the rows of `evaluation_metrics` (without run_id/dt, added by the job)."""

    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, window: SplitWindow, model: str, params: str, selected: bool, measured: list[dict]) -> None:
        for row in measured:
            self.rows.append(
                {
                    "window": window.name, "model": model, "params": params, "selected": selected,
                    "slice": row["slice"], "metric": row["metric"], "k": int(row["k"]),
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
    rows: list[dict[str, Any]]
    counts: Mapping[str, Mapping[str, int]]  # window name -> split_counts


def _release(frames: Iterator[DataFrame] | Sequence[DataFrame]) -> None:
    for frame in frames:
        frame.unpersist()


def tune(
    data: WindowData,
    items: DataFrame,
    settings: RecommenderSettings,
    als_grid: AlsGrid,
    hybrid_grid: HybridGrid,
    selection: Selection,
    k: int,
    tuning_slices: Sequence[str],
    out: MetricRows,
) -> Chosen:
    """Grid-search ALS, then the hybrid on top of the chosen ALS, on the tuning window."""
    slices = tuple(dict.fromkeys([selection.slice, *tuning_slices]))
    default_hybrid = hybrid_grid.points()[0] if hybrid_grid.points() else HybridChoice({}, "rank")
    candidates = {name: recs.localCheckpoint() for name, recs in baseline_candidates(data, settings).items()}
    for name, recs in candidates.items():
        out.add(data.window, name, params_json(name, settings, settings.als, default_hybrid), True,
                measure(data, recs, k, slices))

    best_als, best_score, best_recs = None, float("-inf"), None
    for point in als_grid.points(settings.als):
        recs = als_candidates(data, items, settings, point).localCheckpoint()
        measured = measure(data, recs, k, slices)
        out.add(data.window, ALS, params_json(ALS, settings, point, default_hybrid), False, measured)
        score = metric_value(measured, selection)
        log.info("tuning als %s: %s@%d(%s) = %.5f", als_dict(point), selection.metric, k, selection.slice, score)
        if score > best_score:
            if best_recs is not None:
                best_recs.unpersist()
            best_als, best_score, best_recs = point, score, recs
        else:
            recs.unpersist()
    if best_als is None or best_recs is None:
        raise ValueError("the ALS grid is empty: give at least one value for each of rank, reg_param, alpha")
    out.mark_selected(data.window.name, ALS, params_json(ALS, settings, best_als, default_hybrid))
    candidates[ALS] = best_recs

    best_hybrid, best_score = None, float("-inf")
    for choice in hybrid_grid.points():
        recs = hybrid_candidates(candidates, choice, settings.candidate_depth)
        measured = measure(data, recs, k, slices)
        out.add(data.window, HYBRID, params_json(HYBRID, settings, best_als, choice), False, measured)
        score = metric_value(measured, selection)
        log.info("tuning hybrid %s: %s@%d(%s) = %.5f", choice.as_dict(), selection.metric, k, selection.slice, score)
        if score > best_score:
            best_hybrid, best_score = choice, score
    if best_hybrid is None:
        raise ValueError("the hybrid grid has no point with a positive weight")
    out.mark_selected(data.window.name, HYBRID, params_json(HYBRID, settings, best_als, best_hybrid))
    _release(candidates.values())
    return Chosen(als=best_als, hybrid=best_hybrid, tuned=True)


def report(
    data: WindowData, items: DataFrame, settings: RecommenderSettings, chosen: Chosen, k: int, out: MetricRows
) -> None:
    """Every model with the chosen parameters on the (final) window, both slices."""
    candidates = {name: recs.localCheckpoint() for name, recs in baseline_candidates(data, settings).items()}
    candidates[ALS] = als_candidates(data, items, settings, chosen.als).localCheckpoint()
    candidates[HYBRID] = hybrid_candidates(candidates, chosen.hybrid, settings.candidate_depth).localCheckpoint()
    for name in MODELS:
        params = params_json(name, settings, chosen.als, chosen.hybrid)
        out.add(data.window, name, params, True, measure(data, candidates[name], k))
    _release(candidates.values())


def run_evaluation(
    events: DataFrame,
    items: DataFrame,
    run_date: dt.date,
    horizon_days: int,
    train_days: int,
    tuning_horizon_days: int,
    k: int,
    settings: RecommenderSettings,
    als_grid: AlsGrid,
    hybrid_grid: HybridGrid,
    default_hybrid: HybridChoice,
    selection: Selection,
    tuning_slices: Sequence[str] = (SLICE_ALL,),
) -> EvaluationResult:
    """Tune on the tuning window (when there is one), then report every model on the final window."""
    if selection.slice not in SLICES:
        raise ValueError(f"selection slice '{selection.slice}' is not one of {', '.join(SLICES)}")
    unknown = sorted(set(tuning_slices) - set(SLICES))
    if unknown:
        raise ValueError(f"tuning slice '{unknown[0]}' is not one of {', '.join(SLICES)}")
    if settings.candidate_depth < k:
        raise ValueError(f"candidate_depth ({settings.candidate_depth}) must be >= k ({k})")
    windows = split_windows(run_date, horizon_days, train_days, tuning_horizon_days)
    out = MetricRows()
    counts: dict[str, dict[str, int]] = {}
    chosen = Chosen(als=settings.als, hybrid=default_hybrid, tuned=False)
    for window in windows:
        log.info("evaluation window %s", window.describe())
        counts[window.name] = split_counts(events, window)
        data = prepare_window(events, window)
        if window.name == WINDOW_TUNING:
            chosen = tune(data, items, settings, als_grid, hybrid_grid, selection, k, tuning_slices, out)
        else:
            report(data, items, settings, chosen, k, out)
    return EvaluationResult(windows=windows, chosen=chosen, rows=out.rows, counts=counts)


# ---------------------------------------------------------------------------------------------
# Presenting


def tuned_config_toml(chosen: Chosen, windows: Sequence[SplitWindow], run_id: str) -> str:
    """The chosen parameters as TOML for the ALS job (`[als]` and `[hybrid]` tables)."""
    tuning = [w for w in windows if w.name == WINDOW_TUNING]
    origin = tuning[0].describe() if tuning else "no tuning window: the configured values"
    lines = [
        f"# Chosen by jobs/evaluate.py, run {run_id}; {origin}.",
        "[als]",
        f"rank = {chosen.als.rank}",
        f"reg_param = {chosen.als.reg_param!r}",
        f"alpha = {chosen.als.alpha!r}",
        "",
        "[hybrid]",
        f'normalisation = "{chosen.hybrid.normalisation}"',
        "",
        "[hybrid.weights]",
        *[f"{name} = {float(weight)!r}" for name, weight in sorted(chosen.hybrid.weights.items())],
        "",
    ]
    return "\n".join(lines)


def comparison_table(rows: Sequence[Mapping[str, Any]], window: str, metrics: Sequence[str]) -> str:
    """Models x (slice, metric) of the selected rows of one window, as fixed-width text."""
    chosen_rows = [r for r in rows if r["window"] == window and r["selected"]]
    columns = [(s, m) for s in SLICES for m in metrics]
    values = {(r["model"], r["slice"], r["metric"]): r["value"] for r in chosen_rows}
    k = chosen_rows[0]["k"] if chosen_rows else 0
    width = max([10, *[len(f"{m}@{k}") for _, m in columns]])
    header = ["model".ljust(14)] + [f"{m}@{k}".rjust(width) for _, m in columns]
    slice_header = [" " * 14] + [s.rjust(width) for s, _ in columns]
    lines = [" ".join(slice_header), " ".join(header)]
    for model in [m for m in MODELS if any(r["model"] == m for r in chosen_rows)]:
        cells = []
        for slice_name, metric in columns:
            value = values.get((model, slice_name, metric))
            cells.append(("-" if value is None else f"{value:.4f}").rjust(width))
        lines.append(" ".join([model.ljust(14), *cells]))
    return "\n".join(lines)
