"""The evaluation's result as tables (evaluation_metrics, tuned_parameters) and as text for a terminal."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from lib.recs.evaluation import EvaluationResult, comparison_table
from lib.recs.metrics import ALL_METRICS
from lib.recs.tuned import tuned_rows
from lib.schemas.evaluation import (
    EVALUATION_METRICS, EVALUATION_METRICS_SCHEMA, SLICE_ALL, SLICE_COLD_ITEMS, SLICE_NEW_ITEMS, VIEWS, WINDOW_FINAL,
)
from lib.schemas.runs import TUNED_PARAMETERS, TUNED_PARAMETERS_SCHEMA


def evaluation_outputs(
    spark: SparkSession, result: EvaluationResult, run_id: str, run_date: dt.date
) -> dict[str, DataFrame]:
    """{evaluation_metrics, tuned_parameters} frames of the result (bounded: grid x models x cells x metrics)."""
    rows = [{**row, "run_id": run_id, "dt": run_date} for row in result.rows]
    metrics = [tuple(row[f.name] for f in EVALUATION_METRICS_SCHEMA.fields) for row in rows]
    return {
        EVALUATION_METRICS: spark.createDataFrame(metrics, EVALUATION_METRICS_SCHEMA),
        TUNED_PARAMETERS: spark.createDataFrame(tuned_rows(result.tuned, run_id, run_date), TUNED_PARAMETERS_SCHEMA),
    }


def final_values(result: EvaluationResult) -> dict[tuple[str, str, str, str], Any]:
    """(model, view, slice, metric) -> value of the final window's selected rows."""
    return {(r["model"], r["view"], r["slice"], r["metric"]): r["value"] for r in result.rows
            if r["window"] == WINDOW_FINAL and r["selected"]}


def evaluation_summary(result: EvaluationResult, run_id: str, k: int) -> tuple[dict[str, Any], str]:
    lines = [f"\nEvaluation {run_id}"]
    lines += [f"  {w.describe()}; split counts: {result.counts[w.name]}" for w in result.windows]
    lines.append(f"  selection: {result.selection[0]}@{k} on {result.selection[1]}/{result.selection[2]}")
    lines.append(f"  chosen ALS {result.chosen.als}")
    lines.append(f"  chosen hybrid {result.chosen.hybrid.as_dict()} (tuned: {result.chosen.tuned})")
    for view in VIEWS:
        lines += [f"\nFinal window, K = {k}, view {view} (selected parameters):",
                  comparison_table(result.rows, WINDOW_FINAL, ALL_METRICS, view)]
    final = final_values(result)
    models = sorted({m for m, *_ in final})
    summary = {
        "run_id": run_id,
        "rows": len(result.rows),
        "selection": "/".join(result.selection),
        "chosen_hybrid": result.chosen.hybrid.as_dict(),
        **{f"ndcg_{view}_{s}": {m: final.get((m, view, s, "ndcg")) for m in models}
           for view in VIEWS for s in (SLICE_ALL, SLICE_NEW_ITEMS, SLICE_COLD_ITEMS)},
    }
    return summary, "\n".join(lines)
