"""Process-wide pacing of Graph calls: token buckets for writes and requests, a shared pause after a 429,
and AIMD on ``x-ms-throttle-limit-percentage`` (graph-api.md section 7).

The window guarantee: Graph counts writes over 150 s (3,000 per app and tenant) and requests over 10 s,
and does not say whether its window slides. A token bucket of capacity ``b`` that refills at ``r`` lets
at most ``b + r * W`` through in any window of ``W`` seconds, whatever its start. So each bucket starts
empty and refills at ``rate - b / W``: no window of ``W`` seconds, sliding or fixed, from the first
second on, holds more than ``rate * W`` (the quota), and the steady state is ``1 - b / (rate * W)`` of it
(99.3% for 20 writes/s with a one-envelope burst of 20). Processes sharing the budget divide both the
rate and the burst (``set_share``, or ``follow`` a live count), so their sum keeps the same bound; a
process that joins holds its writes until the others have counted it (storage/presence.py), so a join
never puts a share too many into a window.

Build one ``Pacer`` per process and share it between the ``$batch`` sender and, through
``SingleRequestPacing``, the one-request-at-a-time ``GraphClient``.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Mapping

import httpx

from provisioning.core.pace import QUOTA_WINDOW_S, REQUEST_WINDOW_S
from provisioning.graph.costs import resource_units
from provisioning.graph.retry import BACKOFF_INITIAL, parse_retry_after

ShareSource = Callable[[], tuple[int, float]]  # (live processes, seconds this one must hold its writes)

# Graph sends x-ms-throttle-limit-percentage above 0.8 of a limit (1.2 means ~20% throttled). The window
# guarantee keeps this app's own writes at or below 1.0 by construction, so 0.8..1.0 is its own pace at
# the ceiling; only above 1.0 does someone else (another app, the tenant's cap, resource units this pacer
# does not count) spend the budget, and the pacer slows.
SLOW_ABOVE = 1.0
THROTTLED_FACTOR = 0.7  # multiplicative decrease on a 429
SLOW_FACTOR = 0.9  # gentler decrease when Graph says we are close to a limit
SLOW_INTERVAL_S = 1.0  # at most one SLOW_FACTOR cut per second
MIN_FACTOR = 0.02  # never below 2% of the configured rate (20 writes/s -> 0.4/s)
# The recovery's clock is the write window's: at Graph's 150 s, quiet for 5 s, then regain 2% of the
# configured rate a second (0.7 -> 1.0 in 15 s). A shorter window (the benchmark scales Graph's windows
# down) shortens both alike, so a 429 costs the same share of a window whatever its length.
QUIET_SHARE = 1 / 30  # of the write window: no 429 and no high limit percentage for this long, then creep up
RECOVERY_SHARE = 1 / 10  # of the write window: from 0.7 back to 1.0 of the rate in this long
QUIET_S = QUOTA_WINDOW_S * QUIET_SHARE  # 5 s at Graph's window
RECOVERY_PER_S = (1.0 - THROTTLED_FACTOR) / (QUOTA_WINDOW_S * RECOVERY_SHARE)  # 0.02 at Graph's window
BURST = 20.0  # a bucket holds one $batch envelope: the steady state is 1 - 20 / quota (99.3% of 3,000)
POLL_SHARE = 1 / 75  # of the write window: a caller waiting its turn looks again at its share and the
# rate this often (2 s of Graph's 150), well inside a heartbeat's lifetime (presence.py)
_EPSILON_S = 1e-9  # waits shorter than this are float rounding


class _Bucket:
    """A token bucket that lends: a taker may go into debt and waits until the debt is repaid.

    It starts empty and refills at ``rate - capacity / window_s``, so that no *window_s* seconds hold
    more than ``rate * window_s`` takes (the module's docstring). *factor* scales rate and capacity alike
    (a slow-down, or this process's share of the budget). A taker in debt holds a ticket, the refill
    total at which its debt is repaid, so a rate that drops while it waits (a 429, a process joining)
    makes it wait longer: nothing goes out before it is earned.
    """

    def __init__(self, rate: float, burst: float, window_s: float, now: float) -> None:
        self.rate = rate
        self.capacity = min(max(burst, 1.0), rate * window_s / 2)
        self.fill = rate - self.capacity / window_s
        self.tokens = 0.0
        self.earned = 0.0  # every token ever refilled: tickets are counted on it
        self.stamp = now

    def refill(self, now: float, factor: float) -> None:
        added = max(now - self.stamp, 0.0) * self.fill * factor
        self.earned += added
        self.tokens = min(self.capacity * factor, self.tokens + added)
        self.stamp = now

    def take(self, count: float) -> float:
        """Take *count* tokens; the ticket: the ``earned`` total at which the taker may go."""
        self.tokens -= count
        return self.earned + max(-self.tokens, 0.0)

    def wait(self, ticket: float, factor: float) -> float:
        """Seconds until *ticket* is earned at the rate in force now."""
        return max(ticket - self.earned, 0.0) / (self.fill * factor)


class Pacer:
    """Process-wide, thread-safe. Token bucket for writes (and optionally for all requests), a shared
    pause after a 429, and AIMD on ``x-ms-throttle-limit-percentage``.

    *write_rate* and *request_rate* are per second for this process (``None``: not paced, though a 429
    still pauses everyone): the quota over *write_window_s* (150 s) and *request_window_s* (10 s)
    divided by the window. A bucket holds *burst* tokens (one envelope of 20, and never more than half a
    window's quota), so after a quiet spell an envelope may go at once; a taker larger than what the
    bucket holds goes into debt, and no window ever holds more than the quota (the module's docstring).
    """

    def __init__(
        self,
        *,
        write_rate: float | None,
        request_rate: float | None = None,
        burst: float = BURST,
        write_window_s: float = QUOTA_WINDOW_S,
        request_window_s: float = REQUEST_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        for name, rate in (("write_rate", write_rate), ("request_rate", request_rate)):
            if rate is not None and not (rate > 0 and math.isfinite(rate)):
                msg = f"{name} must be a positive number or None"
                raise ValueError(msg)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        now = clock()
        self._writes = _Bucket(write_rate, burst, write_window_s, now) if write_rate is not None else None
        self._requests = (
            _Bucket(request_rate, burst, request_window_s, now) if request_rate is not None else None
        )
        self._factor = 1.0
        self._share = 1  # live worker processes sharing the app+tenant budget (see presence.py)
        self._share_source: ShareSource | None = None
        self._poll_s = write_window_s * POLL_SHARE
        self._quiet_s = write_window_s * QUIET_SHARE
        self._recovery_per_s = (1.0 - THROTTLED_FACTOR) / (write_window_s * RECOVERY_SHARE)
        self._pause_until = now
        self._last_signal = -math.inf  # last 429 or high limit percentage
        self._last_slow = -math.inf
        self._cut_allowed_at = -math.inf
        self._recovered_to = now

    @property
    def current_write_rate(self) -> float | None:
        """Writes per second this process may send now (the configured rate after any slow-down)."""
        with self._lock:
            self._update(self._clock())
            return None if self._writes is None else self._writes.rate * self._factor / self._share

    def set_share(self, processes: int) -> None:
        """Divide the configured rates among *processes* live worker processes (1 or more)."""
        self._apply_share(processes, 0.0)

    def follow(self, source: ShareSource) -> None:
        """Take the share from *source* before every acquisition: the live process count, and a hold
        while a joining process waits to be counted (``Presence.share``; it caches between refreshes)."""
        self._share_source = source

    def acquire(self, *, writes: int = 0, requests: int = 1) -> None:
        """Block until the budgets allow *writes* writes among *requests* requests, and no pause is on."""
        self._follow_share()
        self._wait_out_pause()
        with self._lock:
            self._update(self._clock())
            tickets = [
                (bucket, bucket.take(count))
                for bucket, count in ((self._writes, writes), (self._requests, requests))
                if bucket is not None and count > 0
            ]
        while tickets:
            with self._lock:
                self._update(self._clock())
                wait = max(bucket.wait(ticket, self._factor / self._share) for bucket, ticket in tickets)
            if wait <= _EPSILON_S:
                break
            before = self._clock()
            self._sleep(min(wait, self._poll_s))  # then look again: the share or the rate may have changed
            if self._clock() <= before:  # a clock that does not move with sleep (a test's): done
                break
            self._follow_share()
        self._wait_out_pause()  # a 429 may have come in while this caller waited its turn

    def _follow_share(self) -> None:
        if self._share_source is not None:
            self._apply_share(*self._share_source())

    def throttled(self, retry_after: float) -> None:
        """A 429: everyone waits until now + *retry_after*; the rate is cut by 30% (once per pause)."""
        with self._lock:
            now = self._clock()
            self._update(now)
            self._pause_until = max(self._pause_until, now + max(retry_after, 0.0))
            self._last_signal = now
            if now >= self._cut_allowed_at:
                # Many 429s arrive together (20 items of one envelope, concurrent envelopes): one cut.
                self._factor = max(self._factor * THROTTLED_FACTOR, MIN_FACTOR)
                self._cut_allowed_at = max(self._pause_until, now + SLOW_INTERVAL_S)
            self._restart_buckets()

    def _apply_share(self, processes: int, hold_s: float) -> None:
        """Pace at 1/*processes* of the rates from now on, holding everything for *hold_s* (and the
        poll interval, the most a busy process may lag behind its own refresh) if it is above 0 and
        there is a rate to share (an unpaced process has no budget to overshoot)."""
        with self._lock:
            now = self._clock()
            self._update(now)
            self._share = max(1, processes)
            for bucket in (self._writes, self._requests):  # a smaller share: a smaller burst at once
                if bucket is not None:
                    bucket.tokens = min(bucket.tokens, bucket.capacity * self._factor / self._share)
            paced = self._writes is not None or self._requests is not None
            if paced and hold_s > 0 and now + hold_s + self._poll_s > self._pause_until:
                self._pause_until = now + hold_s + self._poll_s
                self._restart_buckets()

    def _restart_buckets(self) -> None:
        """No burst when a pause ends: the buckets resume, empty, at the rate (lock held)."""
        for bucket in (self._writes, self._requests):
            if bucket is not None:
                bucket.stamp = self._pause_until
                bucket.tokens = min(bucket.tokens, 0.0)

    def observe(self, limit_percentage: float | None) -> None:
        """Graph's ``x-ms-throttle-limit-percentage`` of one response: above 1.0, slow down by 10%
        (at most once per second). Quiet for a while (no 429, nothing above 1.0): creep back up."""
        with self._lock:
            now = self._clock()
            self._update(now)
            if limit_percentage is None or limit_percentage <= SLOW_ABOVE:
                return
            self._last_signal = now
            if now - self._last_slow >= SLOW_INTERVAL_S:
                self._factor = max(self._factor * SLOW_FACTOR, MIN_FACTOR)
                self._last_slow = now

    def _update(self, now: float) -> None:
        """Refill the buckets at the rate in force so far, then apply any recovery up to *now*."""
        for bucket in (self._writes, self._requests):
            if bucket is not None and now > bucket.stamp:
                bucket.refill(now, self._factor / self._share)
        start = max(self._last_signal + self._quiet_s, self._pause_until + self._quiet_s, self._recovered_to)
        if now > start:
            self._factor = min(1.0, self._factor + self._recovery_per_s * (now - start))
            self._recovered_to = now

    def _wait_out_pause(self) -> None:
        while True:
            with self._lock:
                remaining = self._pause_until - self._clock()
            if remaining <= 0:
                return
            self._sleep(remaining)


def limit_percentage(headers: Mapping[str, str]) -> float | None:
    """``x-ms-throttle-limit-percentage`` as a float (case-insensitive header name); None if absent or bad."""
    raw = next((v for k, v in headers.items() if k.lower() == "x-ms-throttle-limit-percentage"), None)
    try:
        value = float(raw) if raw is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


class SingleRequestPacing:
    """httpx event hooks that pace one-request-at-a-time calls (the ``GraphClient``) through a ``Pacer``.

    Before each request: ``acquire`` (a write for anything but GET/HEAD). After each response: ``observe``
    its limit percentage, and ``throttled`` on a 429. ``$batch`` envelopes are skipped: the
    ``BatchSender`` paces them itself, per inner request. Plug it into the shared client once::

        SingleRequestPacing(pacer).install(http)  # or httpx.Client(event_hooks=...hooks())

    ``bootstrap.build_graph(settings, pacer=pacer)`` and ``bootstrap.build_graph_stack`` do this.
    """

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer

    def hooks(self) -> dict[str, list[Callable[..., object]]]:
        """The ``event_hooks`` mapping for ``httpx.Client``."""
        return {"request": [self.on_request], "response": [self.on_response]}

    def install(self, http: httpx.Client) -> None:
        """Add the hooks to *http*, keeping any it already has."""
        current = http.event_hooks
        http.event_hooks = {
            "request": [*current.get("request", []), self.on_request],
            "response": [*current.get("response", []), self.on_response],
        }

    def on_request(self, request: httpx.Request) -> None:
        if _is_batch(request):
            return
        write = request.method not in {"GET", "HEAD"}
        self._pacer.acquire(
            writes=1 if write else 0, requests=resource_units(request.method, str(request.url))
        )

    def on_response(self, response: httpx.Response) -> None:
        if _is_batch(response.request):
            return
        self._pacer.observe(limit_percentage(response.headers))
        if response.status_code == 429:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            self._pacer.throttled(BACKOFF_INITIAL if retry_after is None else retry_after)


def _is_batch(request: httpx.Request) -> bool:
    return request.url.path.endswith("/$batch")
