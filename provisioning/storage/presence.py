"""How many worker processes share Graph's per-app budget right now, from heartbeat blobs.

Every worker process writes ``presence/<instance>.json`` in the state container at most every
``interval_s`` and counts the heartbeats younger than ``ttl_s``. The pacer divides the app's rates by
that count, so one instance runs at the whole quota and forty instances at a fortieth each, without
a coordinator. A listing every ``interval_s`` per process keeps the cost constant, not per chunk.

Joining without a burst: the processes already running learn of a newcomer only at their next
refresh, up to ``interval_s`` later, and until then they still spend the whole budget between them.
So a process whose first count finds others holds its writes for ``settle_s`` (one interval and a
third) before it takes its share. Two processes that start together cannot both miss each other:
each writes its heartbeat before it lists, so the later lister sees the earlier one and holds, while
the earlier one, alone so far, meets the later one at its next refresh, within the hold.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from provisioning.storage.blobs import BlobStore

log = logging.getLogger(__name__)

PREFIX = "presence/"


class Presence:
    """This process's heartbeat, and the count of live processes (itself included)."""

    def __init__(
        self,
        blobs: BlobStore,
        container: str,
        *,
        instance: str | None = None,
        interval_s: float = 15.0,
        ttl_s: float = 45.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._blobs = blobs
        self._container = container
        self._instance = instance or uuid.uuid4().hex
        self._interval_s = interval_s
        self._ttl = timedelta(seconds=ttl_s)
        self._clock = clock
        self._now = now
        self._lock = threading.Lock()
        self._checked: float | None = None
        self._count = 1
        self._hold_until: float | None = None  # set by the first count: when this process may write

    @property
    def settle_s(self) -> float:
        """How long a process that finds others already running holds its writes (module docstring)."""
        return self._interval_s * 4 / 3

    def share(self) -> tuple[int, float]:
        """(live processes, seconds this process must still hold its writes), for ``Pacer.follow``."""
        count = self.live()
        with self._lock:
            hold_until = self._hold_until
        return count, 0.0 if hold_until is None else max(hold_until - self._clock(), 0.0)

    def live(self) -> int:
        """Live worker processes; refreshed (one write, one listing) at most every ``interval_s``."""
        with self._lock:
            if self._checked is not None and self._clock() - self._checked < self._interval_s:
                return self._count
            self._checked = self._clock()
        try:
            now = self._now()
            self._blobs.put_json(self._container, f"{PREFIX}{self._instance}.json", {"seen": now.isoformat()})
            announced = self._clock()  # others can count this process from here on
            count = len(self._blobs.modified_since(self._container, PREFIX, now - self._ttl))
        except Exception:  # the budget split is an optimisation: keep the last count on storage trouble
            log.warning("could not refresh the worker presence count; keeping %d", self._count, exc_info=True)
            return self._count
        with self._lock:
            if max(1, count) != self._count:
                log.info("worker processes sharing Graph's budget: %d (was %d)", max(1, count), self._count)
            self._count = max(1, count)
            if self._hold_until is None:  # the first count: others already running have not seen us yet
                self._hold_until = announced + (self.settle_s if self._count > 1 else 0.0)
            return self._count
