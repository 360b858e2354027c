"""The pacer on a fake clock: rates honoured, a shared pause after a 429, slow-down and recovery (AIMD),
and the httpx hooks that pace one-request-at-a-time calls."""

from __future__ import annotations

import httpx
import pytest

from provisioning.errors import ConfigurationError
from provisioning.graph.pacer import QUIET_S, Pacer, SingleRequestPacing, limit_percentage
from provisioning.settings import Settings
from tests.fakes import FakeClock, busiest_window


def _pacer(clock: FakeClock, *, write_rate: float | None = 20.0, request_rate: float | None = None) -> Pacer:
    return Pacer(write_rate=write_rate, request_rate=request_rate, clock=clock, sleep=clock.sleep)


def test_the_write_rate_is_honoured_over_many_acquisitions():
    """100 single writes at 10/s with a bucket of one envelope (20): it starts empty and refills at
    10 - 20/150 per second (so no 150 s window holds more than 1,500), so they take 100 / (10 - 20/150) s."""
    clock = FakeClock()
    pacer = _pacer(clock, write_rate=10.0)
    start = clock.now

    for _ in range(100):
        pacer.acquire(writes=1)

    assert clock.now - start == pytest.approx(100 / (10 - 20 / 150))


def test_an_envelope_larger_than_the_bucket_goes_into_debt_and_keeps_the_rate():
    """Three envelopes of 20 writes at 5/s (a bucket of 20, starting empty) take 60 / (5 - 20/150) s."""
    clock = FakeClock()
    pacer = _pacer(clock, write_rate=5.0)
    start = clock.now

    for _ in range(3):
        pacer.acquire(writes=20, requests=20)

    assert clock.now - start == pytest.approx(60 / (5 - 20 / 150))


def test_the_request_rate_counts_reads_too():
    """Ten envelopes of 20 reads at 50 requests/s (a bucket of 20 over a 10 s window) take
    200 / (50 - 20/10) s; writes are not limited."""
    clock = FakeClock()
    pacer = _pacer(clock, write_rate=None, request_rate=50.0)
    start = clock.now

    for _ in range(10):
        pacer.acquire(writes=0, requests=20)

    assert clock.now - start == pytest.approx(200 / (50 - 20 / 10))


def test_reads_do_not_spend_the_write_budget():
    """With only a write rate, any number of reads goes without waiting."""
    clock = FakeClock()
    pacer = _pacer(clock, write_rate=1.0)

    for _ in range(50):
        pacer.acquire(writes=0, requests=20)

    assert clock.slept == []


def test_everyone_waits_out_the_pause_after_a_429():
    """throttled(2.5) makes the next acquire wait 2.5 s, even with budget left."""
    clock = FakeClock()
    pacer = _pacer(clock, write_rate=None)

    pacer.throttled(2.5)
    pacer.acquire(requests=1)

    assert clock.slept == [2.5]


def test_a_429_cuts_the_rate_by_thirty_percent_once_for_a_burst_of_429s():
    """Twenty 429s of one envelope cut 20/s to 14/s, not to 20 * 0.7 ** 20."""
    clock = FakeClock()
    pacer = _pacer(clock)

    for _ in range(20):
        pacer.throttled(1.0)

    assert pacer.current_write_rate == pytest.approx(14.0)


def test_a_429_after_the_pause_cuts_again():
    """A fresh 429 once the previous pause is over is a new signal: 20 -> 14 -> 9.8."""
    clock = FakeClock()
    pacer = _pacer(clock)
    pacer.throttled(1.0)
    clock.advance(1.5)

    pacer.throttled(1.0)

    assert pacer.current_write_rate == pytest.approx(9.8)


def test_after_a_pause_sending_resumes_at_the_reduced_rate_without_a_burst():
    """After throttled(1) at 10/s, ten writes take the 1 s pause plus 10 writes at 70% of the rate."""
    clock = FakeClock()
    pacer = _pacer(clock, write_rate=10.0)
    start = clock.now

    pacer.throttled(1.0)
    for _ in range(10):
        pacer.acquire(writes=1)

    assert clock.now - start == pytest.approx(1.0 + 10 / (0.7 * (10 - 20 / 150)))


@pytest.mark.parametrize(
    ("observations", "expected"),
    [
        pytest.param([None, 0.5, 0.8, 0.95, 1.0], 20.0, id="none-or-up-to-the-limit-is-no-signal"),
        pytest.param([1.05], 18.0, id="above-1-slows-by-10-percent"),
        pytest.param([1.2, 1.5, 1.8], 18.0, id="at-most-once-per-second"),
    ],
)
def test_a_high_limit_percentage_slows_down(observations, expected):
    """x-ms-throttle-limit-percentage above 1.0 cuts the rate by 10%, at most once per second; up to 1.0 is
    this app's own pace at the ceiling, which the window guarantee already keeps within the quota."""
    clock = FakeClock()
    pacer = _pacer(clock)

    for value in observations:
        pacer.observe(value)

    assert pacer.current_write_rate == pytest.approx(expected)


def test_a_high_limit_percentage_a_second_later_slows_again():
    """Two readings above 1.0 one second apart: 20 -> 18 -> 16.2."""
    clock = FakeClock()
    pacer = _pacer(clock)
    pacer.observe(1.1)
    clock.advance(1.0)

    pacer.observe(1.1)

    assert pacer.current_write_rate == pytest.approx(16.2)


def test_the_rate_creeps_back_to_the_configured_rate_when_quiet():
    """After a 429 (20 -> 14/s) and a quiet spell the rate climbs 2% of 20/s per second, up to 20/s."""
    clock = FakeClock()
    pacer = _pacer(clock)
    pacer.throttled(1.0)

    clock.advance(1.0 + QUIET_S)
    at_quiet = pacer.current_write_rate
    clock.advance(5.0)
    partway = pacer.current_write_rate
    clock.advance(60.0)

    assert (at_quiet, partway, pacer.current_write_rate) == pytest.approx((14.0, 16.0, 20.0))


def test_a_shorter_write_window_recovers_in_the_same_share_of_it():
    """A window of 30 s (Graph's 150 s scaled by 5, as the benchmark does): quiet for 1 s, back to the
    full rate 3 s later, as 5 s and 15 s are of 150 s; a 429 costs the same share of either window."""
    clock = FakeClock()
    pacer = Pacer(write_rate=100.0, write_window_s=30.0, clock=clock, sleep=clock.sleep)
    pacer.throttled(1.0)

    clock.advance(1.0 + QUIET_S / 5)
    at_quiet = pacer.current_write_rate
    clock.advance(1.5)
    partway = pacer.current_write_rate
    clock.advance(1.5)

    assert (at_quiet, partway, pacer.current_write_rate) == pytest.approx((70.0, 85.0, 100.0))


def test_a_high_limit_percentage_holds_off_recovery():
    """Readings above 1.0 keep coming: no creeping back while Graph says the limit is passed."""
    clock = FakeClock()
    pacer = _pacer(clock)
    pacer.throttled(1.0)

    for _ in range(10):
        clock.advance(1.0)
        pacer.observe(1.05)

    assert pacer.current_write_rate == pytest.approx(14.0 * 0.9**10)


def test_an_unpaced_pacer_has_no_write_rate():
    """write_rate=None: current_write_rate is None, and only a 429's pause makes callers wait."""
    clock = FakeClock()
    pacer = _pacer(clock, write_rate=None)

    pacer.acquire(writes=1000, requests=1000)

    assert (pacer.current_write_rate, clock.slept) == (None, [])


@pytest.mark.parametrize("rate", [0.0, -1.0, float("nan"), float("inf")])
def test_a_rate_must_be_positive_and_finite(rate):
    """A zero, negative or non-finite rate is a programming error."""
    with pytest.raises(ValueError, match="write_rate"):
        Pacer(write_rate=rate)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        pytest.param({"x-ms-throttle-limit-percentage": "1.2"}, 1.2, id="value"),
        pytest.param({"X-MS-Throttle-Limit-Percentage": "0.85"}, 0.85, id="any-case"),
        pytest.param({}, None, id="absent"),
        pytest.param({"x-ms-throttle-limit-percentage": "high"}, None, id="garbage"),
        pytest.param({"x-ms-throttle-limit-percentage": "nan"}, None, id="nan"),
    ],
)
def test_limit_percentage_reads_the_header(headers, expected):
    """The header is parsed as a float, case-insensitively; anything else is None."""
    assert limit_percentage(headers) == expected


# --- SingleRequestPacing -------------------------------------------------------------------------


def test_single_requests_wait_out_the_pause_of_a_429():
    """A 429 with Retry-After 3 on one request pauses the next one for 3 s."""
    clock = FakeClock()
    pacer = _pacer(clock, write_rate=None)
    replies = iter([httpx.Response(429, headers={"Retry-After": "3"}), httpx.Response(200)])
    http = httpx.Client(transport=httpx.MockTransport(lambda request: next(replies)))
    SingleRequestPacing(pacer).install(http)

    first = http.post("https://graph.test/v1.0/users/a/authentication/phoneMethods", json={})
    second = http.get("https://graph.test/v1.0/users/a/authentication/methods")

    assert (first.status_code, second.status_code, clock.slept) == (429, 200, [3.0])


def test_single_writes_spend_the_write_budget_and_reads_do_not():
    """At 1 write/s (a bucket of 20 that starts empty), each of three PATCHes waits 1 / (1 - 20/150) s;
    GETs in between wait nothing."""
    clock = FakeClock()
    pacer = _pacer(clock, write_rate=1.0)
    http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(204)))
    SingleRequestPacing(pacer).install(http)

    for _ in range(3):
        http.get("https://graph.test/v1.0/users/a/authentication/methods")
        http.patch("https://graph.test/v1.0/users/a/authentication/phoneMethods/x", json={})

    assert clock.slept == pytest.approx([1 / (1 - 20 / 150)] * 3)


def test_single_request_pacing_leaves_batch_envelopes_to_the_sender():
    """$batch envelopes pass the hooks untouched: the BatchSender paces them per inner request."""
    clock = FakeClock()
    pacer = _pacer(clock, write_rate=1.0)
    throttled = httpx.Response(429, headers={"Retry-After": "9"})
    http = httpx.Client(transport=httpx.MockTransport(lambda request: throttled))
    SingleRequestPacing(pacer).install(http)

    for _ in range(3):
        http.post("https://graph.test/v1.0/$batch", json={"requests": []})
    http.get("https://graph.test/v1.0/users/a/authentication/methods")

    assert clock.slept == []


def test_install_keeps_the_hooks_a_client_already_has():
    """Hooks given to the client before install still run."""
    seen: list[str] = []
    http = httpx.Client(
        transport=httpx.MockTransport(lambda request: httpx.Response(200)),
        event_hooks={"request": [lambda request: seen.append(request.method)]},
    )
    SingleRequestPacing(_pacer(FakeClock(), write_rate=None)).install(http)

    http.get("https://graph.test/v1.0/users")

    assert seen == ["GET"]


# --- settings ------------------------------------------------------------------------------------

_ENV = {
    "PROVISIONING_TENANT_ID": "contoso.onmicrosoft.com",
    "PROVISIONING_CLIENT_ID": "0f0e0d0c-0b0a-4908-8706-050403020100",
    "PROVISIONING_CLIENT_SECRET": "s",
}


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param({}, (1, 20.0, 350.0), id="defaults-are-graphs-quota"),
        pytest.param({"PROVISIONING_INSTANCES": "4"}, (4, 5.0, 87.5), id="split-over-instances"),
        pytest.param(
            {"PROVISIONING_INSTANCES": "4", "PROVISIONING_WRITE_RATE": "12.5"},
            (4, 12.5, 87.5),
            id="explicit-rate",
        ),
        pytest.param(
            {"PROVISIONING_WRITE_RATE": "off", "PROVISIONING_REQUEST_RATE": "OFF"}, (1, None, None), id="off"
        ),
    ],
)
def test_pacing_settings_default_to_graphs_quota_split_over_the_instances(given, expected):
    """3,000 writes / 150 s and 3,500 RU / 10 s per app and tenant, divided by PROVISIONING_INSTANCES;
    the fan-out, which reads no Graph settings, knows whether writes are paced (it tapers if so)."""
    settings = Settings.from_env({**_ENV, **given})

    assert (settings.instances, settings.write_rate, settings.request_rate) == expected
    assert Settings.offline({**_ENV, **given}).paced_writes is (settings.write_rate is not None)


@pytest.mark.parametrize("value", ["0", "-3", "fast", "nan"])
def test_a_bad_write_rate_is_a_configuration_problem(value):
    """A rate must be a positive number per second or off; anything else fails fast, naming the setting."""
    with pytest.raises(ConfigurationError, match="PROVISIONING_WRITE_RATE"):
        Settings.from_env({**_ENV, "PROVISIONING_WRITE_RATE": value})


# --- the window guarantee ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("envelope", "share", "idle_every"),
    [
        pytest.param(20, 1, 0, id="envelopes-of-20"),
        pytest.param(1, 1, 0, id="single-writes"),
        pytest.param(20, 3, 0, id="a-third-share"),
        pytest.param(7, 1, 50, id="bursts-after-idle-spells"),
    ],
)
def test_no_150_second_window_holds_more_than_the_quota(envelope, share, idle_every):
    """From the first write on, no 150 s window (any start) holds more than 3,000 writes (this process's
    share of them), and the steady state sits within 1% of the quota."""
    clock = FakeClock()
    pacer = _pacer(clock, write_rate=3000 / 150)
    pacer.set_share(share)
    stamps: list[tuple[float, int]] = []

    for n in range(1, 6000 // (envelope * share) + 1):  # two windows' worth of writes
        if idle_every and n % idle_every == 0:
            clock.advance(90.0)  # a quiet spell refills the bucket: the burst after it must still fit
        pacer.acquire(writes=envelope, requests=envelope)
        stamps.append((clock.now, envelope))

    quota = 3000 / share
    assert busiest_window(stamps, 150.0) <= quota
    if not idle_every:
        assert busiest_window(stamps, 150.0) >= 0.99 * quota - envelope


def test_single_requests_spend_resource_units_at_graphs_documented_cost():
    """Ten GETs of the user list (2 units each) take twice as long as ten GETs of one user (1 unit)."""

    def elapsed(url: str) -> float:
        clock = FakeClock()
        pacer = _pacer(clock, write_rate=None, request_rate=10.0)
        http = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(200)))
        SingleRequestPacing(pacer).install(http)
        start = clock.now
        for _ in range(10):
            http.get(url)
        return clock.now - start

    one_user = elapsed("https://graph.test/v1.0/users/a?$select=id")
    user_list = elapsed("https://graph.test/v1.0/users")

    assert one_user == pytest.approx(10 / (10 - 20 / 10))
    assert user_list == pytest.approx(2 * one_user)


def test_a_joining_process_holds_only_when_it_paces():
    """The hold keeps a joiner's share out of the others' window; without rates there is none to keep."""
    paced_clock, unpaced_clock = FakeClock(), FakeClock()
    paced = _pacer(paced_clock, write_rate=20.0)
    unpaced = _pacer(unpaced_clock, write_rate=None)
    for pacer in (paced, unpaced):
        pacer.follow(lambda: (2, 20.0))

    paced.acquire(writes=1)
    unpaced.acquire(writes=1)

    assert paced_clock.now - 100.0 > 20.0
    assert unpaced_clock.slept == []
