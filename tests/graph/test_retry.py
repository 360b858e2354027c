"""The retry policy: transient errors only, Retry-After honoured and capped, else jittered backoff."""

from __future__ import annotations

import datetime as dt

import pytest

from provisioning.errors import PermanentGraphError, TransientGraphError
from provisioning.graph.retry import graph_retrying, parse_retry_after


class _Flaky:
    """Raises the given errors in turn, then returns "ok"."""

    def __init__(self, *errors: Exception) -> None:
        self._errors = list(errors)

    def __call__(self) -> str:
        if self._errors:
            raise self._errors.pop(0)
        return "ok"


def _throttled(retry_after: float | None = None) -> TransientGraphError:
    return TransientGraphError("throttled", status=429, retry_after=retry_after)


def test_retry_after_is_waited_before_the_next_try() -> None:
    """Graph's Retry-After seconds are the wait."""
    sleeps: list[float] = []
    retrying = graph_retrying(attempts=3, sleep=sleeps.append)

    result = retrying(_Flaky(_throttled(2.0), _throttled(0.5)))

    assert result == "ok"
    assert sleeps == [2.0, 0.5]


def test_a_long_retry_after_is_capped() -> None:
    """A Retry-After beyond max_wait waits max_wait."""
    sleeps: list[float] = []
    retrying = graph_retrying(attempts=2, sleep=sleeps.append, max_wait=60.0)

    retrying(_Flaky(_throttled(3600.0)))

    assert sleeps == [60.0]


def test_without_retry_after_the_wait_backs_off_exponentially_with_jitter() -> None:
    """Waits grow from 1 s (plus up to 1 s jitter) and never exceed 30 s."""
    sleeps: list[float] = []
    retrying = graph_retrying(attempts=8, sleep=sleeps.append)

    retrying(_Flaky(*[_throttled() for _ in range(7)]))

    assert 1.0 <= sleeps[0] <= 2.0
    assert 2.0 <= sleeps[1] <= 3.0
    assert 4.0 <= sleeps[2] <= 5.0
    assert all(wait <= 30.0 for wait in sleeps)
    assert sleeps[-1] == 30.0


def test_the_last_transient_error_is_reraised_after_the_attempts() -> None:
    """After N tries the original TransientGraphError escapes, not a tenacity wrapper."""
    sleeps: list[float] = []
    retrying = graph_retrying(attempts=3, sleep=sleeps.append)
    last = _throttled(1.0)

    with pytest.raises(TransientGraphError) as info:
        retrying(_Flaky(_throttled(1.0), _throttled(1.0), last))

    assert info.value is last
    assert sleeps == [1.0, 1.0]


def test_permanent_errors_are_not_retried() -> None:
    """A PermanentGraphError escapes at once, with no wait."""
    sleeps: list[float] = []
    retrying = graph_retrying(attempts=5, sleep=sleeps.append)

    with pytest.raises(PermanentGraphError):
        retrying(_Flaky(PermanentGraphError("bad request", status=400)))

    assert sleeps == []


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("10", 10.0, id="seconds"),
        pytest.param("2.128", 2.128, id="fraction"),
        pytest.param("-3", 0.0, id="negative-is-now"),
        pytest.param("Wed, 21 Oct 2015 07:28:30 GMT", 30.0, id="http-date"),
        pytest.param("Wed, 21 Oct 2015 07:27:00 GMT", 0.0, id="past-date"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="absent"),
        pytest.param("inf", None, id="infinite"),
    ],
)
def test_retry_after_parses_seconds_and_http_dates(value: str | None, expected: float | None) -> None:
    """Float seconds and HTTP-dates are understood; anything else is None."""
    now = dt.datetime(2015, 10, 21, 7, 28, 0, tzinfo=dt.UTC)

    seconds = parse_retry_after(value, now=now)

    assert seconds == expected
