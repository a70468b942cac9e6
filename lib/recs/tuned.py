"""The parameters jobs/evaluate.py selected (table `tuned_parameters`), applied to the recommender config."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib.recs.serving import HYBRID, HybridSettings, RecommenderConfig

ALS = "als"
ALS_TUNED_KEYS = ("rank", "reg_param", "alpha", "max_iter")


def tuned_rows(
    rows: Sequence[Mapping[str, Any]], run_id: str, run_date: dt.date
) -> list[tuple]:
    """The evaluation's tuned rows as TUNED_PARAMETERS_SCHEMA tuples."""
    return [
        (run_date, run_id, r["model"], r["parameters"], r["metric"], r["value"], bool(r["selected"]), run_date)
        for r in rows
    ]


def latest_selected(tuned: DataFrame, on_or_before: dt.date) -> dict[str, dict[str, Any]]:
    """model -> {parameters (dict), run_id, run_date} of the newest selected rows dated <= `on_or_before`."""
    selected = tuned.where(F.col("selected") & (F.col("run_date") <= F.lit(on_or_before)))
    newest = selected.agg(F.max("run_date").alias("d")).collect()[0]["d"]
    if newest is None:
        return {}
    rows = selected.where(F.col("run_date") == F.lit(newest)).orderBy("run_id").collect()  # one run: models x 1
    return {
        r["model"]: {"parameters": json.loads(r["parameters"]), "run_id": r["run_id"], "run_date": r["run_date"]}
        for r in rows
    }


def apply_tuned(settings: RecommenderConfig, selected: Mapping[str, Mapping[str, Any]]) -> RecommenderConfig:
    """`settings` with the tuned ALS hyperparameters and hybrid blend (when present) in place."""
    tuned = settings
    als_choice = (selected.get(ALS) or selected.get(HYBRID) or {}).get("parameters", {}).get("als")
    if als_choice:
        tuned = dataclasses.replace(
            tuned, als=dataclasses.replace(tuned.als, **{k: als_choice[k] for k in ALS_TUNED_KEYS if k in als_choice})
        )
    hybrid = selected.get(HYBRID, {}).get("parameters")
    if hybrid:
        tuned = dataclasses.replace(
            tuned, hybrid=HybridSettings(weights=dict(hybrid["weights"]), normalisation=hybrid["normalisation"])
        )
    return tuned
