"""The $batch sender and pacer against the Graph sandbox with its write limit on: 300 writes in
dependsOn chains arrive, paced under the quota (next to no 429s) or recovering when sent too fast."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning.graph.batch import BatchRequest
from provisioning.graph.pacer import Pacer
from provisioning.graph.stack import build_graph_stack
from provisioning.settings import Settings
from tests.fakes import SandboxTokens
from tests.sandbox import Sandbox, SandboxConfig

pytestmark = pytest.mark.e2e

USERS = 100
QUOTA = 100.0  # writes per second: 100 per 10 s window, windows scaled down 10x
PHONES = (("mobile", "+31 6100"), ("alternateMobile", "+31 6200"), ("office", "+31 20300"))


@pytest.fixture(name="sandbox")
def _sandbox(sandbox_state_dir: Path) -> Iterator[Sandbox]:
    """A tenant of 100 users without methods; writes limited to QUOTA per second, 5 ms per HTTP call."""
    seed = {"users": [{"userPrincipalName": f"u{i:03}@contoso.test"} for i in range(USERS)]}
    config = SandboxConfig(writes=100, write_window_s=10.0, time_scale=10.0, latency_ms=5)
    with Sandbox.start(seed=seed, config=config, state_dir=sandbox_state_dir) as sb:
        yield sb


def _writes() -> list[BatchRequest]:
    """Per user: mobile, then alternateMobile, then office, as one dependsOn chain (300 writes in all)."""
    requests = []
    for i in range(USERS):
        url = f"/users/u{i:03}%40contoso.test/authentication/phoneMethods"
        previous: tuple[str, ...] = ()
        for kind, prefix in PHONES:
            body = {"phoneNumber": f"{prefix}{i:04}", "phoneType": kind}
            requests.append(
                BatchRequest(f"{kind}-{i}", "POST", url, body=body, depends_on=previous, is_write=True)
            )
            previous = (f"{kind}-{i}",)
    return requests


def _settings(sandbox: Sandbox, write_rate: float) -> Settings:
    return Settings.from_env({**sandbox.env, "PROVISIONING_WRITE_RATE": str(write_rate)})


def test_300_writes_paced_under_the_quota_arrive_with_next_to_no_429s(sandbox: Sandbox) -> None:
    """At 90% of the write quota every chained write ends 2xx, in order, with at most a few 429s."""
    with build_graph_stack(_settings(sandbox, 0.9 * QUOTA), tokens=SandboxTokens(sandbox)) as stack:
        responses = stack.batch.send(_writes())

        sent = stack.batch.requests_sent

    assert sorted({r.status for r in responses.values()}) == [201]
    assert sandbox.stats()["throttled"] <= 3
    assert sent <= 300 + 3
    assert all(len(sandbox.user(f"u{i:03}@contoso.test")["phoneMethods"]) == 3 for i in range(USERS))


def test_writes_sent_too_fast_are_throttled_then_all_arrive(sandbox: Sandbox) -> None:
    """At four times the quota Graph answers 429s; the sender waits them out, the pacer slows down,
    and every write still ends 2xx."""
    pacer = Pacer(write_rate=4 * QUOTA)
    with build_graph_stack(
        _settings(sandbox, 4 * QUOTA), tokens=SandboxTokens(sandbox), pacer=pacer
    ) as stack:
        responses = stack.batch.send(_writes())

    assert sorted({r.status for r in responses.values()}) == [201]
    assert sandbox.stats()["throttled"] > 0
    assert (pacer.current_write_rate or 0.0) < 4 * QUOTA
    assert all(len(sandbox.user(f"u{i:03}@contoso.test")["phoneMethods"]) == 3 for i in range(USERS))
