"""The one retry policy for single Graph calls: only transient errors, Retry-After first, else jittered backoff."""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import time
from collections.abc import Callable

import tenacity

from provisioning.errors import TransientGraphError

logger = logging.getLogger(__name__)

BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 30.0


def graph_retrying(
    *, attempts: int, sleep: Callable[[float], None] = time.sleep, max_wait: float = 120.0
) -> tenacity.Retrying:
    """A policy retrying ``TransientGraphError`` up to *attempts* tries in all, then re-raising it.

    The wait is the error's ``retry_after`` (Graph's Retry-After, capped at *max_wait*) or, without
    one, exponential backoff with jitter from 1 s up to 30 s (learn.microsoft.com/graph/throttling).
    Use a fresh ``.copy()`` per call when calls may nest or run in threads.
    """
    backoff = tenacity.wait_exponential_jitter(initial=BACKOFF_INITIAL, max=BACKOFF_MAX)

    def wait(state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, TransientGraphError) and exc.retry_after is not None:
            return min(max(exc.retry_after, 0.0), max_wait)
        return min(backoff(state), max_wait)

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientGraphError),
        wait=wait,
        stop=tenacity.stop_after_attempt(attempts),
        sleep=sleep,
        reraise=True,
        before_sleep=_log_retry,
    )


def _log_retry(state: tenacity.RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome is not None else None
    wait = state.next_action.sleep if state.next_action is not None else 0.0
    if isinstance(exc, TransientGraphError):
        logger.info(
            "transient Graph error (status %s, code %s, request-id %s); attempt %d, retrying in %.1f s",
            exc.status,
            exc.code,
            exc.request_id,
            state.attempt_number,
            wait,
        )


def parse_retry_after(value: str | None, *, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: float seconds or an HTTP-date; None if absent or bad.

    Graph sends whole seconds (``10``) and has sent fractions (``2.128``); dates are tolerated too.
    """
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value)
    except ValueError:
        return _seconds_until(value, now)
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    return max(seconds, 0.0)


def _seconds_until(value: str, now: dt.datetime | None) -> float | None:
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" dates parse naive; HTTP-dates are always GMT
        when = when.replace(tzinfo=dt.UTC)
    delta = (when - (now or dt.datetime.now(dt.UTC))).total_seconds()
    return max(delta, 0.0)
