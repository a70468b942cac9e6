"""Reconciliation: for every date, input rows = accepted + exact duplicates removed + quarantined."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from pyspark.sql import DataFrame, SparkSession

from lib.schemas.ingest import INGEST_AUDIT_SCHEMA


class ReconciliationError(RuntimeError):
    """Rows were lost or doubled between reading and writing; nothing was written."""


@dataclass(frozen=True)
class DateCounts:
    dt: dt.date
    input_rows: int
    accepted: int
    duplicates: int
    quarantined_by_reason: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def quarantined(self) -> int:
        return sum(self.quarantined_by_reason.values())

    @property
    def balanced(self) -> bool:
        return self.input_rows == self.accepted + self.duplicates + self.quarantined


def reconcile(
    dates: Sequence[dt.date],
    input_rows: Mapping[dt.date, int],
    accepted: Mapping[dt.date, int],
    duplicates: Mapping[dt.date, int],
    quarantined: Mapping[tuple[dt.date, str], int],
) -> list[DateCounts]:
    """One `DateCounts` per date of the run; raises ReconciliationError naming every date that does not add up."""
    counted = set(input_rows) | set(accepted) | set(duplicates) | {d for d, _ in quarantined}
    outside = sorted(counted - set(dates))
    if outside:
        raise ReconciliationError(f"rows counted for dates outside the run: {', '.join(map(str, outside))}")
    rows = [
        DateCounts(
            day, input_rows.get(day, 0), accepted.get(day, 0), duplicates.get(day, 0),
            MappingProxyType({r: n for (d, r), n in sorted(quarantined.items()) if d == day}),
        )
        for day in sorted(dates)
    ]
    broken = [r for r in rows if not r.balanced]
    if broken:
        detail = "; ".join(
            f"{r.dt}: input {r.input_rows} != accepted {r.accepted} + duplicates {r.duplicates} "
            f"+ quarantined {r.quarantined}"
            for r in broken[:10]
        )
        raise ReconciliationError(f"ingest does not reconcile, nothing was written: {detail}")
    return rows


def audit_frame(
    spark: SparkSession,
    rows: Sequence[DateCounts],
    run_id: str,
    source: str,
    input_path: str | Mapping[dt.date, str],
    started_at: dt.datetime,
) -> DataFrame:
    """`input_path`: one path for every date, or each date's own path."""
    path_of = input_path if isinstance(input_path, Mapping) else {r.dt: input_path for r in rows}
    return spark.createDataFrame(
        [
            (r.dt, run_id, source, path_of[r.dt], started_at, r.input_rows, r.accepted, r.duplicates,
             r.quarantined, dict(r.quarantined_by_reason))
            for r in rows
        ],
        INGEST_AUDIT_SCHEMA,
    )
