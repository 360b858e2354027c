"""Graph's identity-and-access throttling per (app, tenant): a resource-unit bucket and a write bucket.

Token buckets refill continuously (capacity per window). Every evaluated request is charged its
resource units, throttled or not, as Graph documents; so a client that ignores ``Retry-After`` keeps
pushing its own recovery back. The debt is capped at one window's capacity, so after at most two
windows of silence any client recovers, and a client that waits the ``Retry-After`` of its latest
429 gets through. A throttled request is not charged a write (nothing was written).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Capacities and windows (seconds, before ``time_scale``)."""

    resource_units: int = 5000
    ru_window_s: float = 10.0
    writes: int = 3000
    write_window_s: float = 150.0
    time_scale: float = 1.0


@dataclass(frozen=True)
class Verdict:
    """The outcome of charging one request."""

    allowed: bool
    retry_after_s: int = 0
    reason: str = ""  # ResourceUnitLimitExceeded | WriteLimitExceeded
    usage: float = 0.0  # highest fraction of a limit in use, after this request


class _Bucket:
    def __init__(self, capacity: float, window_s: float, now: float) -> None:
        self.capacity = capacity
        self.rate = capacity / window_s
        self.tokens = capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, cost: float) -> float:
        return max(0.0, (cost - self.tokens) / self.rate)

    def usage(self) -> float:
        return (self.capacity - self.tokens) / self.capacity


class Throttle:
    """Thread-safe budgets keyed by (app id, tenant id)."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[_Bucket, _Bucket]] = {}

    def reset(self, limits: Limits | None = None) -> None:
        """Forget all usage (and optionally change the limits)."""
        with self._lock:
            self.limits = limits or self.limits
            self._buckets.clear()

    def charge(self, app_id: str, tenant_id: str, units: int, write: bool) -> Verdict:
        """Charge one request; refuse it if either budget is short."""
        now = self._clock()
        with self._lock:
            ru, writes = self._pair(app_id, tenant_id, now)
            ru.refill(now)
            writes.refill(now)
            short = ru.tokens < units or (write and writes.tokens < 1)
            ru.tokens = max(ru.tokens - units, -ru.capacity)
            if short:
                # The time until the same request would fit, now that this one has been charged.
                ru_wait = ru.wait_for(units)
                write_wait = writes.wait_for(1) if write else 0.0
                reason = "WriteLimitExceeded" if write_wait > ru_wait else "ResourceUnitLimitExceeded"
                return Verdict(
                    False, max(1, math.ceil(max(ru_wait, write_wait))), reason, self._usage(ru, writes)
                )
            if write:
                writes.tokens -= 1
            return Verdict(True, usage=self._usage(ru, writes))

    def _pair(self, app_id: str, tenant_id: str, now: float) -> tuple[_Bucket, _Bucket]:
        key = (app_id, tenant_id)
        pair = self._buckets.get(key)
        if pair is None:
            scale = self.limits.time_scale
            pair = (
                _Bucket(self.limits.resource_units, self.limits.ru_window_s / scale, now),
                _Bucket(self.limits.writes, self.limits.write_window_s / scale, now),
            )
            self._buckets[key] = pair
        return pair

    @staticmethod
    def _usage(ru: _Bucket, writes: _Bucket) -> float:
        return max(ru.usage(), writes.usage())


def resource_units(endpoint_name: str, query: dict[str, str]) -> int:
    """Graph's identity cost: GET users (collection, one, delta page) 2, other GET 1, writes 1; ``$select``
    -1, min 1."""
    base = 2 if endpoint_name in ("GET users", "GET user", "GET users/delta") else 1
    if "$select" in query:
        base -= 1
    if "$expand" in query:
        base += 1
    return max(1, base)
