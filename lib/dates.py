"""Date windows every job uses: the `days` days ending at (and including) a date."""

from __future__ import annotations

import datetime as dt


def window_first_day(last_day: dt.date, days: int) -> dt.date:
    """The first day of the `days`-day window ending at `last_day` (days >= 1)."""
    if days < 1:
        raise ValueError(f"a window has at least 1 day, got {days}")
    return last_day - dt.timedelta(days=days - 1)
