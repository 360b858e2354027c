"""Worker event files -> chunk attempts, and which SIGKILLs landed between a Graph write and the
outcome write (pure, but for reading the files).

A kill counts as *between a Graph write and the outcome write* when the killed process had a chunk in
flight that had not yet announced its outcome write (``outcomes`` event), and the sandbox's history
holds a change to one of that chunk's users between the attempt's start and the kill, while no other
attempt of the same chunk was running in that window (so the write was the killed attempt's).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHUNK_FUNCTION = "chunk_worker"
POISON_FUNCTION = "poison_handler"


@dataclass(frozen=True)
class Kill:
    """One SIGKILL the driver sent: which worker incarnation, when (``time.time()``), at what progress."""

    worker: str
    pid: int
    at: float
    progress: float
    aimed: bool = False  # chosen because the sandbox had just recorded a write of its chunk


@dataclass
class Attempt:
    """One delivery of one chunk to one worker incarnation."""

    worker: str
    job: str | None
    chunk: int
    start: float
    end: float | None = None
    ok: bool | None = None
    outcomes_at: float | None = None


def read_events(path: Path) -> list[dict[str, Any]]:
    """The JSON events of one file; a line cut by a kill (never expected: one write per line) is skipped."""
    events = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
    return events


def attempts_of(worker: str, events: Iterable[Mapping[str, Any]]) -> list[Attempt]:
    """The chunk attempts of one worker incarnation, in start order (a message of several chunks
    starts an attempt of each)."""
    open_: dict[tuple[object, object], list[Attempt]] = {}
    by_chunk: dict[tuple[object, object], Attempt] = {}
    out: list[Attempt] = []
    for event in events:
        kind = event.get("ev")
        key = (event.get("msg"), event.get("dequeue"))
        if kind == "start" and event.get("fn") == CHUNK_FUNCTION:
            started = [Attempt(worker, event.get("job"), c, float(event["t"])) for c in _chunks(event)]
            open_[key] = started
            by_chunk |= {(event.get("job"), a.chunk): a for a in started}
            out += started
        elif (
            kind == "outcomes" and (found := by_chunk.get((event.get("job"), event.get("chunk")))) is not None
        ):
            found.outcomes_at = found.outcomes_at or float(event["t"])
        elif kind == "end" and event.get("fn") == CHUNK_FUNCTION:
            for done in open_.pop(key, []):
                done.end, done.ok = float(event["t"]), bool(event.get("ok"))
    return out


def _chunks(event: Mapping[str, Any]) -> list[int]:
    listed = event.get("chunks")
    return [c for c in listed if isinstance(c, int)] if isinstance(listed, list) else []


def attribute_kills(
    kills: Sequence[Kill],
    attempts: Sequence[Attempt],
    chunk_users: Mapping[int, Sequence[str]],
    history: Mapping[str, Sequence[Mapping[str, Any]]],
) -> list[dict[str, Any]]:
    """Per kill: the chunks it cut and whether it landed between a Graph write and the outcome write."""
    changes = {user.lower(): [float(c["time"]) for c in entries] for user, entries in history.items()}
    died = {kill.worker: kill.at for kill in kills}
    for attempt in attempts:  # a killed attempt ended when its process did
        if attempt.end is None and attempt.worker in died:
            attempt.end = died[attempt.worker]
    report = []
    for kill in kills:
        cut = [a for a in attempts if a.worker == kill.worker and a.ok is None and a.start <= kill.at]
        between = [a.chunk for a in cut if _wrote_before_outcome(a, kill, attempts, chunk_users, changes)]
        report.append(
            {
                "worker": kill.worker,
                "at": round(kill.at, 3),
                "progress": round(kill.progress, 3),
                "aimed": kill.aimed,
                "chunks_in_flight": sorted(a.chunk for a in cut),
                "chunks_between_write_and_outcome": sorted(between),
                "between_graph_write_and_outcome_write": bool(between),
            }
        )
    return report


def _wrote_before_outcome(
    attempt: Attempt,
    kill: Kill,
    attempts: Sequence[Attempt],
    chunk_users: Mapping[int, Sequence[str]],
    changes: Mapping[str, Sequence[float]],
) -> bool:
    if attempt.outcomes_at is not None:
        return False
    others = [
        b
        for b in attempts
        if b is not attempt and b.chunk == attempt.chunk and b.start <= kill.at
        and (b.end is None or b.end >= attempt.start)
    ]  # fmt: skip
    if others:
        return False
    users = chunk_users.get(attempt.chunk, ())
    return any(attempt.start <= t <= kill.at for user in users for t in changes.get(user.lower(), ()))


def deliveries(attempts: Sequence[Attempt], poison_events: int) -> dict[str, int]:
    """How often chunks were delivered: more than once (kills, duplicates, failures) and poisoned."""
    starts = Counter((a.job, a.chunk) for a in attempts)
    return {
        "attempts": len(attempts),
        "chunks": len(starts),
        "chunks_delivered_more_than_once": sum(1 for n in starts.values() if n > 1),
        "redeliveries": sum(n - 1 for n in starts.values()),
        "attempts_failed": sum(1 for a in attempts if a.ok is False),
        "attempts_killed": sum(1 for a in attempts if a.ok is None),
        "poison_handled": poison_events,
    }
