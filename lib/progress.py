"""A progress line per stage of a long job: stage, rows, seconds — what a person follows in the log
instead of Spark's INFO noise (jobkit sets Spark to WARN).

    progress = Progress("report", log)
    with progress.stage("read rules") as stage:
        rows = frame.collect()
        stage.rows = len(rows)
    # INFO cobuy: report | read rules              |        412 rows |    1.3 s
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field


@dataclass
class Stage:
    name: str
    rows: int | None = None  # set by the stage when it knows a row count
    seconds: float = 0.0


@dataclass
class Progress:
    job: str
    logger: logging.Logger
    stages: list[Stage] = field(default_factory=list)

    @contextmanager
    def stage(self, name: str) -> Iterator[Stage]:
        """Time the block and log one line when it ends (also when it fails, marked FAILED)."""
        record = Stage(name)
        started = time.monotonic()
        failed = True
        try:
            yield record
            failed = False
        finally:
            record.seconds = time.monotonic() - started
            self.stages.append(record)
            self.logger.info(format_line(self.job, record, failed))

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.stages)


def format_line(job: str, stage: Stage, failed: bool = False) -> str:
    rows = "" if stage.rows is None else f"{stage.rows:,} rows"
    suffix = " | FAILED" if failed else ""
    return f"{job} | {stage.name:<28} | {rows:>14} | {stage.seconds:7.1f} s{suffix}"
