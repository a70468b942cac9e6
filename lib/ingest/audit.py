"""Reconciliation, twice over, before anything is written:

- per input file, counted apart from the parser (the file's bytes split on "\n"):
  raw lines = header lines + blank lines + parsed rows;
- per date: parsed rows = accepted + duplicates (collapsed or summed into quantity) + quarantined.

And a date that quarantines more than `max_quarantine_share` of its rows fails the run.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from lib.ingest.read import PATH_DATE_REGEX, FileSet
from lib.schemas.ingest import INGEST_AUDIT_SCHEMA, INGEST_FILES_SCHEMA, SOURCE_FILE

EXAMPLE_CHARS = 160
BLANK_LINE = r"^[\x00-\x20]*$"  # what the CSV and JSON readers skip as an empty line


class ReconciliationError(RuntimeError):
    """Rows were lost or doubled between reading and writing; nothing was written."""


class QuarantineShareError(RuntimeError):
    """Most of a date's rows were quarantined: the config does not fit the export; nothing was written."""


@dataclass(frozen=True)
class FileCounts:
    file: str
    role: str
    raw_lines: int | None  # None: not a line format (Parquet)
    header_lines: int
    blank_lines: int
    parsed_rows: int
    orders_without_lines: int | None = None

    @property
    def balanced(self) -> bool:
        return self.raw_lines is None or self.raw_lines == self.header_lines + self.blank_lines + self.parsed_rows


def _per_file(frame: DataFrame, *aggregates) -> dict[str, tuple]:  # noqa: ANN002 - Columns
    rows = frame.groupBy(SOURCE_FILE).agg(F.count(F.lit(1)).alias("n"), *aggregates).collect()  # one per file
    return {row[0]: tuple(row[1:]) for row in rows}


def count_files(spark: SparkSession, files: Sequence[FileSet]) -> list[FileCounts]:
    """Raw lines per file from Spark's plain text source split on "\n" only (not the CSV/JSON parser),
    next to the rows the parser produced for that file."""
    counts = []
    for fileset in files:
        parsed = _per_file(fileset.parsed)
        without = _per_file(fileset.orders_without_lines) if fileset.orders_without_lines is not None else None
        lines: dict[str, tuple] = {}
        if fileset.lines:
            text = (
                spark.read.option("lineSep", "\n").option("recursiveFileLookup", "true").text(list(fileset.paths))
                .select(F.input_file_name().alias(SOURCE_FILE), F.col("value").rlike(BLANK_LINE).alias("blank"))
            )
            lines = _per_file(text, F.sum(F.col("blank").cast("long")).alias("blank"))
        for name in sorted(set(parsed) | set(lines)):
            raw, blank = lines.get(name, (0, 0)) if fileset.lines else (None, 0)
            header = 1 if fileset.header and raw and raw > blank else 0
            counts.append(FileCounts(
                name, fileset.role, raw, header, int(blank or 0), parsed.get(name, (0,))[0],
                None if without is None else without.get(name, (0,))[0],
            ))
    return counts


def reconcile_files(counts: Sequence[FileCounts]) -> list[FileCounts]:
    """Raises ReconciliationError naming every file whose parse lost or invented lines."""
    broken = [c for c in counts if not c.balanced]
    if broken:
        detail = "; ".join(
            f"{c.file}: {c.raw_lines} raw lines != {c.header_lines} header + {c.blank_lines} blank "
            f"+ {c.parsed_rows} parsed rows" for c in broken[:10]
        )
        raise ReconciliationError(f"the parser lost or invented lines, nothing was written: {detail}")
    return list(counts)


def check_quarantine_share(
    rows: Sequence[DateCounts], max_share: float, examples: Callable[[], Mapping[str, str]]
) -> None:
    """Raises QuarantineShareError when a date quarantines more than `max_share` of its rows, with the
    top reasons and an example (pseudonymised) record of each; `examples()` is only called then."""
    failing = [r for r in rows if r.input_rows and r.quarantined / r.input_rows > max_share]
    if not failing:
        return
    example_of = examples()
    totals: dict[str, int] = {}
    for r in failing:
        for reason, n in r.quarantined_by_reason.items():
            totals[reason] = totals.get(reason, 0) + n
    top = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
    dates = "; ".join(f"{r.dt}: {r.quarantined} of {r.input_rows} rows" for r in failing[:10])
    reasons = "; ".join(f"{reason} x{n}, e.g. {example_of.get(reason, '?')!r}" for reason, n in top)
    raise QuarantineShareError(
        f"more than cleaning.max_quarantine_share = {max_share} of the rows quarantined ({dates}); "
        f"top reasons: {reasons}. Nothing was written: fix the config (formats, cleaning.min_event_time, "
        f"mapping) or raise the share."
    )


def quarantine_examples(quarantine: DataFrame) -> dict[str, str]:
    """One raw record per quarantine reason (as many rows as reasons)."""
    rows = quarantine.groupBy("reason").agg(F.min("raw_record").alias("example")).collect()
    return {row["reason"]: (row["example"] or "")[:EXAMPLE_CHARS] for row in rows}


def files_frame(
    spark: SparkSession, counts: Sequence[FileCounts], dates: Sequence[dt.date], run_id: str, source: str,
) -> DataFrame:
    """The `ingest_files` rows: dt = the file's path date when inside the run, else the run's first date."""
    inside = {d.isoformat(): d for d in dates}

    def day(name: str) -> dt.date:
        found = re.search(PATH_DATE_REGEX, name)
        return inside.get(found.group(1) if found else "", min(dates))

    return spark.createDataFrame(
        [
            (day(c.file), run_id, source, c.file, c.role, c.raw_lines, c.header_lines, c.blank_lines,
             c.parsed_rows, c.orders_without_lines)
            for c in counts
        ],
        INGEST_FILES_SCHEMA,
    )


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
    event_time_from: str | None = None,
    repeated_lines: str | None = None,
) -> DataFrame:
    """`input_path`: one path for every date, or each date's own path."""
    path_of = input_path if isinstance(input_path, Mapping) else {r.dt: input_path for r in rows}
    return spark.createDataFrame(
        [
            (r.dt, run_id, source, path_of[r.dt], started_at, r.input_rows, r.accepted, r.duplicates,
             r.quarantined, dict(r.quarantined_by_reason), event_time_from, repeated_lines)
            for r in rows
        ],
        INGEST_AUDIT_SCHEMA,
    )
