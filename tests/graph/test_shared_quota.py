"""The window guarantee across processes: worker processes that start together, join later, die or
restart, each with its own ``Pacer`` following its own ``Presence``, never put more than Graph's quota
into any 150 s window between them, and together keep near the quota while they stay.

A discrete-event simulation: every process is a thread that is always busy (an envelope of 20 writes
after another) on one virtual clock; time moves only when every thread sleeps, to the earliest wake-up.
The heartbeats are a small in-memory stand-in for the presence blobs (this is the pacer's logic, not
storage: tests/storage/test_presence.py runs Presence against Azurite).
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from provisioning.graph.pacer import Pacer
from provisioning.storage.presence import Presence
from tests.fakes import busiest_window

QUOTA, WINDOW = 3000, 150.0
INTERVAL, TTL = 15.0, 45.0
ENVELOPE = 20
EPOCH = datetime(2026, 12, 7, tzinfo=UTC)


class VirtualTime:
    """One clock for every thread of the simulation: ``sleep`` blocks until every thread sleeps and
    this one's wake-up is the earliest."""

    def __init__(self, threads: int) -> None:
        self.now = 0.0
        self._running = threads
        self._wakes: list[float] = []
        self._changed = threading.Condition()

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self._changed:
            wake = self.now + max(seconds, 0.0)
            self._wakes.append(wake)
            self._running -= 1
            self._advance()
            while self.now < wake:
                self._changed.wait()

    def leave(self) -> None:
        with self._changed:
            self._running -= 1
            self._advance()

    def _advance(self) -> None:
        if self._running or not self._wakes:
            return
        self.now = max(self.now, min(self._wakes))
        due = [w for w in self._wakes if w <= self.now]
        self._wakes = [w for w in self._wakes if w > self.now]
        self._running += len(due)
        self._changed.notify_all()


class Heartbeats:
    """Presence blobs: the last write of every heartbeat."""

    def __init__(self) -> None:
        self.seen: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def put_json(self, container: str, name: str, value: dict[str, str], **_: object) -> bool:
        with self._lock:
            self.seen[name] = datetime.fromisoformat(value["seen"])
        return True

    def modified_since(self, container: str, prefix: str, since: datetime) -> list[str]:
        with self._lock:
            return [name for name, seen in self.seen.items() if seen >= since]


@dataclass
class Process:
    name: str
    start: float
    stop: float = math.inf
    stamps: list[tuple[float, int]] = field(default_factory=list)

    def run(self, time: VirtualTime, heartbeats: Heartbeats, until: float) -> None:
        try:
            time.sleep(self.start)
            pacer = Pacer(write_rate=QUOTA / WINDOW, clock=time.clock, sleep=time.sleep)
            presence = Presence(
                heartbeats,  # type: ignore[arg-type]  # the two methods Presence uses
                "state",
                instance=self.name,
                interval_s=INTERVAL,
                ttl_s=TTL,
                clock=time.clock,
                now=lambda: EPOCH + timedelta(seconds=time.now),
            )
            pacer.follow(presence.share)
            while time.now < min(self.stop, until):
                pacer.acquire(writes=ENVELOPE, requests=ENVELOPE)
                if time.now < min(self.stop, until):
                    self.stamps.append((time.now, ENVELOPE))
        finally:
            time.leave()


def simulate(processes: list[Process], until: float) -> list[tuple[float, int]]:
    """Every write the fleet sent before *until*, as (time, writes), in time order."""
    time, heartbeats = VirtualTime(len(processes)), Heartbeats()
    threads = [threading.Thread(target=p.run, args=(time, heartbeats, until)) for p in processes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "the simulation is stuck"
    return sorted(stamp for p in processes for stamp in p.stamps)


FLEETS = {
    "four-start-together": [Process(f"w{n}", start=n * 0.05) for n in range(4)],
    "one-then-three-join": [
        Process("w0", 0.0),
        Process("w1", 40.0),
        Process("w2", 95.0),
        Process("w3", 230.0),
    ],
    "one-dies-one-restarts": [
        Process("w0", 0.0),
        Process("w1", 0.2),
        Process("w2", 0.4, stop=170.0),
        Process("w2-again", 200.0),
    ],
    "joins-as-the-first-refreshes": [Process("w0", 0.0), Process("w1", 14.9), Process("w2", 15.1)],
}


@pytest.mark.parametrize("fleet", FLEETS, ids=list(FLEETS))
def test_no_window_holds_more_than_the_quota_whoever_joins_or_leaves(fleet):
    """From the first write to the last, summed over the fleet, no 150 s window exceeds 3,000 writes."""
    processes = [Process(p.name, p.start, p.stop) for p in FLEETS[fleet]]

    stamps = simulate(processes, until=600.0)

    assert busiest_window(stamps, WINDOW) <= QUOTA
    assert all(p.stamps for p in processes)  # every process got its share, none was starved


def test_a_fleet_that_starts_together_keeps_near_the_quota_after_the_first_window():
    """Four processes starting together: past the first window, 97% of the quota or more."""
    processes = [Process(f"w{n}", start=n * 0.05) for n in range(4)]

    stamps = simulate(processes, until=750.0)

    steady = sum(writes for at, writes in stamps if at >= WINDOW)
    assert steady >= 0.97 * QUOTA * (750.0 - WINDOW) / WINDOW
