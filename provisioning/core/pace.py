"""How long a run takes at Graph's write quota, and how far a running one has got (pure).

``minimum_duration`` is the floor Graph's quota sets for a number of writes, whoever sends them;
``progress_line`` is what the CLI's progress bar says as chunks finish.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Graph's budgets for one app in one tenant (graph-api.md section 7): 3,000 writes per 150 s, and
# 3,500 resource units per 10 s for the smallest tenants. The settings' defaults and the pacer's
# windows come from here.
QUOTA_WRITES = 3000
QUOTA_WINDOW_S = 150.0
QUOTA_REQUESTS = 3500
REQUEST_WINDOW_S = 10.0


def format_duration(seconds: float) -> str:
    """``2 h 05 min``, ``3 min 20 s``, ``45 s`` (rounded up to the second)."""
    total = max(math.ceil(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def minimum_duration(writes: int, *, quota: int = QUOTA_WRITES, window_s: float = QUOTA_WINDOW_S) -> float:
    """The fewest seconds Graph's quota allows for *writes*: a window holds *quota* writes at most."""
    return writes * window_s / quota


def quota_note(writes: int) -> str:
    """The line ``plan`` prints under its summary: the writes and the time the quota needs for them."""
    return (
        f"{writes} {'write' if writes == 1 else 'writes'} to make: at Graph's quota of {QUOTA_WRITES:,} writes "
        f"per {QUOTA_WINDOW_S:g} s per app and tenant they need at least {format_duration(minimum_duration(writes))}"
    )


@dataclass(frozen=True)
class Pace:
    """How fast a run goes and how long it has left at that pace (None until a row is done)."""

    writes_per_s: float | None
    seconds_left: float | None


def pace_of(done: int, total: int, writes: int, elapsed_s: float) -> Pace:
    """The pace of a run that did *done* of *total* rows and *writes* writes in *elapsed_s* seconds."""
    if elapsed_s <= 0 or done == 0:
        return Pace(None, None)
    return Pace(writes / elapsed_s, max(elapsed_s / done * (total - done), 0.0))


def progress_line(done: int, total: int, writes: int, elapsed_s: float, *, width: int = 30) -> str:
    """``[#####.....] 400/2,000 rows  18.5 writes/s  about 2 min 10 s left`` (no time left until a row is done)."""
    filled = width * done // max(total, 1)
    bar = f"[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} rows"
    pace = pace_of(done, total, writes, elapsed_s)
    if pace.writes_per_s is None or pace.seconds_left is None:
        return bar
    if done >= total:
        return f"{bar}  {pace.writes_per_s:.1f} writes/s  done in {format_duration(elapsed_s)}"
    return f"{bar}  {pace.writes_per_s:.1f} writes/s  about {format_duration(pace.seconds_left)} left"
