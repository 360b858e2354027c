"""The per-caller token bucket: bursts, refill, separate callers, bounded memory, Retry-After."""

from __future__ import annotations

import pytest

from provisioning.entrypoints.http.rate_limit import RateLimit, RateLimiter, retry_after_header


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def limiter(per_minute: float = 60, burst: int = 3, **kwargs) -> tuple[RateLimiter, Clock]:
    clock = Clock()
    return RateLimiter(RateLimit(per_minute, burst), clock=clock, **kwargs), clock


def test_a_caller_gets_its_burst_then_waits_for_the_next_token():
    """Three at once pass; the fourth is told to wait one token's time (1 s at 60 per minute)."""
    bucket, _ = limiter(per_minute=60, burst=3)

    answers = [bucket.acquire("a") for _ in range(4)]

    assert answers[:3] == [None, None, None]
    assert answers[3] == pytest.approx(1.0)


def test_tokens_come_back_at_the_sustained_rate():
    """After the burst, one request per second passes at 60 per minute, and no faster."""
    bucket, clock = limiter(per_minute=60, burst=2)
    bucket.acquire("a")
    bucket.acquire("a")

    clock.now += 0.5
    early = bucket.acquire("a")
    clock.now += 0.5
    on_time = bucket.acquire("a")

    assert early == pytest.approx(0.5)
    assert on_time is None


def test_an_idle_caller_refills_to_the_burst_and_no_further():
    """A long pause gives back the burst, never more."""
    bucket, clock = limiter(per_minute=60, burst=2)
    for _ in range(2):
        bucket.acquire("a")

    clock.now += 3_600
    answers = [bucket.acquire("a") for _ in range(3)]

    assert answers[:2] == [None, None]
    assert answers[2] is not None


def test_callers_do_not_share_a_bucket():
    """One caller using up its burst does not slow another."""
    bucket, _ = limiter(burst=1)

    assert bucket.acquire("a") is None
    assert bucket.acquire("a") is not None
    assert bucket.acquire("b") is None


def test_memory_is_bounded_by_forgetting_the_least_recently_seen_caller():
    """Beyond max_callers the oldest bucket goes; a recently seen one is kept."""
    bucket, _ = limiter(burst=1, max_callers=2)
    bucket.acquire("a")
    bucket.acquire("b")
    bucket.acquire("a")  # a is now the most recent (and empty)

    bucket.acquire("c")  # evicts b

    assert bucket.acquire("a") is not None  # still limited: kept
    assert bucket.acquire("b") is None  # forgotten: a fresh burst


def test_a_clock_that_steps_back_gives_no_tokens():
    """A backwards clock step never creates tokens."""
    bucket, clock = limiter(burst=1)
    bucket.acquire("a")

    clock.now -= 100

    assert bucket.acquire("a") is not None


@pytest.mark.parametrize(
    ("wait", "header"),
    [
        pytest.param(0.01, "1", id="at-least-one"),
        pytest.param(1.0, "1", id="whole"),
        pytest.param(1.2, "2", id="rounded-up"),
    ],
)
def test_retry_after_is_whole_seconds_rounded_up(wait, header):
    """Retry-After never tells a caller to come back before a token is free."""
    assert retry_after_header(wait) == header


@pytest.mark.parametrize(("per_minute", "burst"), [(0, 1), (-1, 1), (60, 0)])
def test_a_limit_needs_a_positive_rate_and_burst(per_minute, burst):
    """Nonsense limits are refused where they are made."""
    with pytest.raises(ValueError, match="positive rate"):
        RateLimit(per_minute, burst)
