"""How many worker processes share Graph's per-app budget right now, from heartbeat blobs.

Every worker process writes ``presence/<instance>.json`` in the state container at most every
``interval_s`` and counts the heartbeats younger than ``ttl_s``. The pacer divides the app's rates by
that count, so one instance runs at the whole quota and forty instances at a fortieth each, without
a coordinator. A listing every ``interval_s`` per process keeps the cost constant, not per chunk.
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

    def live(self) -> int:
        """Live worker processes; refreshed (one write, one listing) at most every ``interval_s``."""
        with self._lock:
            if self._checked is not None and self._clock() - self._checked < self._interval_s:
                return self._count
            self._checked = self._clock()
        try:
            now = self._now()
            self._blobs.put_json(self._container, f"{PREFIX}{self._instance}.json", {"seen": now.isoformat()})
            count = len(self._blobs.modified_since(self._container, PREFIX, now - self._ttl))
        except Exception:  # the budget split is an optimisation: keep the last count on storage trouble
            log.warning("could not refresh the worker presence count; keeping %d", self._count, exc_info=True)
            return self._count
        with self._lock:
            self._count = max(1, count)
            return self._count
