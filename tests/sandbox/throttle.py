"""Graph's identity-and-access throttling (graph-api.md 7, 15): per (app, tenant) a resource-unit bucket
sized by the tenant's tier and a write bucket, and per tenant (all apps) a write bucket.

The resource units are a token bucket (capacity per window, refilled continuously). Writes are counted
in a sliding window by default (``write_model="sliding"``: no window of ``write_window_s``, whatever
its start, may hold more than ``writes``), the stricter reading of what Graph does not document; a token
bucket (``"bucket"``, which lets a full bucket's burst and the refill add up) is the kinder option. Every evaluated request is charged its
resource units, throttled or not, as Graph documents; so a client that ignores ``Retry-After`` keeps
pushing its own recovery back. The debt is capped at one window's capacity, so after at most two
windows of silence any client recovers, and a client that waits the ``Retry-After`` of its latest
429 gets through. A throttled request is charged no write (nothing was written).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# Resource units per 10 s per (app, tenant) by tenant size: S < 50 users, M 50-500, L > 500.
TIER_UNITS: dict[str, int] = {"S": 3500, "M": 5000, "L": 8000}
TIERS = ("auto", *TIER_UNITS)


@dataclass(frozen=True)
class Limits:
    """Capacities and windows (seconds, before ``time_scale``).

    ``resource_units`` None means the tier's quota; ``tier`` "auto" picks the tier from the tenant's
    user count when a request is charged.
    """

    resource_units: int | None = None
    ru_window_s: float = 10.0
    writes: int = 3000
    write_window_s: float = 150.0
    time_scale: float = 1.0
    tier: str = "auto"
    tenant_writes: int = 18000
    tenant_window_s: float = 300.0
    write_model: str = "sliding"  # "sliding" (the strict reading) or "bucket"

    def units_for(self, users: int) -> int:
        """The resource-unit capacity for a tenant of ``users`` users."""
        if self.resource_units is not None:
            return self.resource_units
        return TIER_UNITS[tier_for(users) if self.tier == "auto" else self.tier]


def tier_for(users: int) -> str:
    """The documented tenant size: S under 50 users, M 50 to 500, L above 500."""
    if users < 50:
        return "S"
    return "M" if users <= 500 else "L"


@dataclass(frozen=True)
class Verdict:
    """The outcome of charging one request."""

    allowed: bool
    retry_after_s: int = 0
    reason: str = ""  # ResourceUnitLimitExceeded | WriteLimitExceeded
    usage: float = 0.0  # highest fraction of a limit in use, after this request
    scope: str = "Tenant_Application"  # or "Tenant" when the tenant-wide write cap refused it


WRITE_MODELS = ("sliding", "bucket")


class _Bucket:
    def __init__(self, capacity: float, window_s: float, now: float) -> None:
        self.window_s = window_s
        self.capacity = capacity
        self.rate = capacity / window_s
        self.tokens = capacity
        self.stamp = now

    def resize(self, capacity: float) -> None:
        """A new capacity (the tenant changed tier): what was used in the window stays used."""
        if capacity != self.capacity:
            used = self.capacity - self.tokens
            self.capacity, self.rate = capacity, capacity / self.window_s
            self.tokens = max(capacity - used, -capacity)

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, cost: float) -> float:
        return max(0.0, (cost - self.tokens) / self.rate)

    def usage(self) -> float:
        return (self.capacity - self.tokens) / self.capacity

    def spend(self, count: float, now: float) -> None:
        self.tokens -= count


class _SlidingWindow:
    """Writes accepted in the last ``window_s`` seconds; ``tokens`` is what the window still admits."""

    def __init__(self, capacity: float, window_s: float, now: float) -> None:
        self.window_s = window_s
        self.capacity = capacity
        self.stamps: deque[float] = deque()
        self.tokens = capacity
        self._now = now

    def refill(self, now: float) -> None:
        while self.stamps and self.stamps[0] <= now - self.window_s:
            self.stamps.popleft()
        self.tokens = self.capacity - len(self.stamps)
        self._now = now

    def wait_for(self, cost: float) -> float:
        """Until the oldest writes leave the window and *cost* more fit."""
        over = len(self.stamps) + int(cost) - int(self.capacity)
        if over <= 0:
            return 0.0
        return max(0.0, self.stamps[over - 1] + self.window_s - self._now)

    def usage(self) -> float:
        return len(self.stamps) / self.capacity

    def spend(self, count: float, now: float) -> None:
        self.stamps.extend([now] * int(count))
        self.tokens = self.capacity - len(self.stamps)


class Throttle:
    """Thread-safe budgets keyed by (app id, tenant id), plus one write budget per tenant."""

    def __init__(self, limits: Limits, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[tuple[str, str], tuple[_Bucket, _Bucket | _SlidingWindow]] = {}
        self._tenants: dict[str, _Bucket | _SlidingWindow] = {}

    def reset(self, limits: Limits | None = None) -> None:
        """Forget all usage (and optionally change the limits)."""
        with self._lock:
            self.limits = limits or self.limits
            self._buckets.clear()
            self._tenants.clear()

    def charge(self, app_id: str, tenant_id: str, units: int, write: bool, users: int = 0) -> Verdict:
        """Charge one request of a tenant with ``users`` users; refuse it if any budget is short."""
        now = self._clock()
        with self._lock:
            ru, writes = self._pair(app_id, tenant_id, users, now)
            tenant = self._tenant(tenant_id, now)
            ru.resize(self.limits.units_for(users))  # the tier follows the tenant's size as it changes
            for bucket in (ru, writes, tenant):
                bucket.refill(now)
            short = ru.tokens < units or (write and (writes.tokens < 1 or tenant.tokens < 1))
            ru.tokens = max(ru.tokens - units, -ru.capacity)
            usage = max(ru.usage(), writes.usage(), tenant.usage())
            if short:
                return self._refusal(ru, writes, tenant, units, write, usage)
            if write:
                writes.spend(1, now)
                tenant.spend(1, now)
            return Verdict(True, usage=max(ru.usage(), writes.usage(), tenant.usage()))

    @staticmethod
    def _refusal(
        ru: _Bucket,
        writes: _Bucket | _SlidingWindow,
        tenant: _Bucket | _SlidingWindow,
        units: int,
        write: bool,
        usage: float,
    ) -> Verdict:
        # The time until the same request would fit, now that this one has been charged.
        waits = {("ResourceUnitLimitExceeded", "Tenant_Application"): ru.wait_for(units)}
        if write:
            waits[("WriteLimitExceeded", "Tenant_Application")] = writes.wait_for(1)
            waits[("WriteLimitExceeded", "Tenant")] = tenant.wait_for(1)
        (reason, scope), wait = max(waits.items(), key=lambda kv: kv[1])
        return Verdict(False, max(1, math.ceil(wait)), reason, usage, scope)

    def _writes(self, capacity: float, window_s: float, now: float) -> _Bucket | _SlidingWindow:
        if self.limits.write_model == "bucket":
            return _Bucket(capacity, window_s, now)
        return _SlidingWindow(capacity, window_s, now)

    def _pair(
        self, app_id: str, tenant_id: str, users: int, now: float
    ) -> tuple[_Bucket, _Bucket | _SlidingWindow]:
        key = (app_id, tenant_id)
        pair = self._buckets.get(key)
        if pair is None:
            scale = self.limits.time_scale
            pair = (
                _Bucket(self.limits.units_for(users), self.limits.ru_window_s / scale, now),
                self._writes(self.limits.writes, self.limits.write_window_s / scale, now),
            )
            self._buckets[key] = pair
        return pair

    def _tenant(self, tenant_id: str, now: float) -> _Bucket | _SlidingWindow:
        bucket = self._tenants.get(tenant_id)
        if bucket is None:
            window = self.limits.tenant_window_s / self.limits.time_scale
            bucket = self._tenants[tenant_id] = self._writes(self.limits.tenant_writes, window, now)
        return bucket


def resource_units(base: int, query: Mapping[str, str]) -> int:
    """Graph's identity cost of one request: the path's base cost (writes 1), ``$select`` -1,
    ``$expand`` +1, ``$top`` below 20 -1, never below 1 (graph-api.md 15)."""
    names = {key.lower(): value for key, value in query.items()}
    cost = base
    if "$select" in names:
        cost -= 1
    if "$expand" in names:
        cost += 1
    top = names.get("$top", "")
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return max(1, cost)
