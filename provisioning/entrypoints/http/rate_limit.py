"""Per-caller request rate limit for the HTTP endpoint: one token bucket per caller, in this process.

Pure apart from a lock: the clock is a parameter, so tests step time by hand. The buckets live in
one Function App instance; several instances each keep their own (the platform's own limits apply on
top), which bounds a caller to about ``instances x rate`` at worst.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_PER_MINUTE = 300.0
DEFAULT_BURST = 30
MAX_CALLERS = 10_000  # buckets kept; beyond it the least recently seen caller is forgotten


@dataclass(frozen=True)
class RateLimit:
    """*per_minute* requests sustained per caller, with bursts of up to *burst* at once."""

    per_minute: float = DEFAULT_PER_MINUTE
    burst: int = DEFAULT_BURST

    def __post_init__(self) -> None:
        if not (self.per_minute > 0 and self.burst >= 1):
            msg = f"a rate limit needs a positive rate and a burst of at least 1, not {self}"
            raise ValueError(msg)

    @property
    def per_second(self) -> float:
        return self.per_minute / 60.0


@dataclass
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by caller identity; ``acquire`` takes one token or says how long to wait.

    Thread-safe (the Functions worker may run synchronous functions on several threads). Memory is
    bounded by *max_callers*: the least recently seen caller's bucket is dropped first, which at worst
    hands a long-idle caller a fresh burst.
    """

    def __init__(
        self,
        limit: RateLimit,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_callers: int = MAX_CALLERS,
    ) -> None:
        self.limit = limit
        self._clock = clock
        self._max_callers = max_callers
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def acquire(self, caller: str) -> float | None:
        """None when *caller* may go ahead (one token taken); else the seconds until a token is free."""
        now = self._clock()
        with self._lock:
            bucket = self._refilled(caller, now)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return None
            return (1.0 - bucket.tokens) / self.limit.per_second

    def _refilled(self, caller: str, now: float) -> _Bucket:
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = self._buckets[caller] = _Bucket(float(self.limit.burst), now)
            while len(self._buckets) > self._max_callers:
                self._buckets.popitem(last=False)
        else:
            elapsed = max(0.0, now - bucket.stamp)  # a clock never runs back, but be safe
            bucket.tokens = min(float(self.limit.burst), bucket.tokens + elapsed * self.limit.per_second)
            bucket.stamp = now
            self._buckets.move_to_end(caller)
        return bucket


def retry_after_header(wait_s: float) -> str:
    """``Retry-After`` in whole seconds, rounded up and at least 1 (RFC 9110 section 10.2.3)."""
    return str(max(1, math.ceil(wait_s)))
