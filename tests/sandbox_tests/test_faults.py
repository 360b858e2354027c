"""Fault injection: seeded determinism, no state change on failure, and fail-after-commit writes."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox import FaultConfig, Sandbox
from tests.sandbox_tests.conftest import client_for, phones


def _statuses(sandbox: Sandbox, seed: int, count: int = 30) -> list[int | str]:
    sandbox.configure(
        faults=FaultConfig(rate=0.5, seed=seed, mix={"429": 1, "500": 1, "503": 1, "504": 1, "drop": 1})
    )
    out: list[int | str] = []
    with client_for(sandbox, timeout=5) as graph:
        for _ in range(count):
            try:
                out.append(graph.get(phones("mob@contoso.test")).status_code)
            except httpx.TransportError:
                out.append("dropped")
    return out


def test_the_same_seed_gives_the_same_faults(sandbox: Sandbox) -> None:
    """Two runs with one seed meet identical faults; another seed differs."""
    first, second, other = _statuses(sandbox, 7), _statuses(sandbox, 7), _statuses(sandbox, 8)

    assert first == second
    assert first != other
    assert {429, 500, 503, 504, "dropped"} & set(first)
    assert 200 in first


def test_faults_are_off_by_default(graph: httpx.Client) -> None:
    """Without configuration every request succeeds."""
    assert {graph.get(phones("mob@contoso.test")).status_code for _ in range(20)} == {200}


def test_a_failed_write_changes_nothing(sandbox: Sandbox, graph: httpx.Client) -> None:
    """A 500 fault on a POST leaves the user untouched."""
    sandbox.configure(faults={"rate": 1.0, "mix": {"500": 1}})

    response = graph.post(
        phones("empty@contoso.test"), json={"phoneNumber": "+31 600000000", "phoneType": "mobile"}
    )

    assert response.status_code == 500
    assert sandbox.user("empty@contoso.test")["phoneMethods"] == {}


@pytest.mark.parametrize("kind", ["500", "drop"])
def test_fail_after_commit_applies_the_write_then_fails(
    sandbox: Sandbox, graph: httpx.Client, kind: str
) -> None:
    """In after-commit mode the POST is applied although the client sees a 500 or a dropped connection."""
    sandbox.configure(faults={"rate": 1.0, "mix": {kind: 1}, "after_commit": True})

    try:
        status: int | str = graph.post(
            phones("empty@contoso.test"), json={"phoneNumber": "+31 600000000", "phoneType": "mobile"}
        ).status_code
    except httpx.TransportError:
        status = "dropped"

    assert status == (500 if kind == "500" else "dropped")
    assert sandbox.user("empty@contoso.test")["phoneMethods"] == {"mobile": "+31 600000000"}


def test_a_timeout_fault_outlasts_the_client_timeout(sandbox: Sandbox) -> None:
    """A 'timeout' fault hangs longer than the client waits, and the write is not applied."""
    sandbox.configure(faults={"rate": 1.0, "mix": {"timeout": 1}, "timeout_s": 1.0})

    with client_for(sandbox, timeout=0.3) as graph, pytest.raises(httpx.ReadTimeout):
        graph.post(phones("empty@contoso.test"), json={"phoneNumber": "+31 600000000", "phoneType": "mobile"})

    assert sandbox.user("empty@contoso.test")["phoneMethods"] == {}


def test_throttle_faults_carry_retry_after(sandbox: Sandbox, graph: httpx.Client) -> None:
    """An injected 429 has Retry-After like a real one."""
    sandbox.configure(faults={"rate": 1.0, "mix": {"429": 1}, "retry_after_s": 2})

    response = graph.get(phones("mob@contoso.test"))

    assert (response.status_code, response.headers["Retry-After"]) == (429, "2")


def _batch_post(graph: httpx.Client) -> int | str:
    body = {
        "requests": [
            {"id": "1", "method": "POST", "url": "/users/empty@contoso.test/authentication/phoneMethods",
             "headers": {"Content-Type": "application/json"},
             "body": {"phoneNumber": "+31 600000000", "phoneType": "mobile"}},
        ]
    }  # fmt: skip
    try:
        return graph.post("/$batch", json=body).status_code
    except httpx.TransportError:
        return "dropped"


@pytest.mark.parametrize(
    ("kind", "after_commit", "seen", "applied"),
    [
        pytest.param("drop", True, "dropped", True, id="drop-after-commit-applies-the-items"),
        pytest.param("500", False, 500, False, id="500-before-the-items-applies-nothing"),
        pytest.param("503", True, 503, False, id="503-refuses-the-envelope-even-after-commit"),
    ],
)
def test_batch_faults_strike_whole_envelopes(
    sandbox: Sandbox, graph: httpx.Client, kind: str, after_commit: bool, seen: int | str, applied: bool
) -> None:
    """With batch_rate, an envelope meets its own fault: a 503 is refused before any item runs, a drop
    after commit loses the answer of a write that was applied; the fault is counted by kind."""
    sandbox.configure(faults={"batch_rate": 1.0, "mix": {kind: 1}, "after_commit": after_commit})

    status = _batch_post(graph)

    assert status == seen
    has_mobile = sandbox.user("empty@contoso.test")["phoneMethods"] == {"mobile": "+31 600000000"}
    assert has_mobile is applied
    assert sandbox.stats()["batch_faults_by_kind"] == {kind: 1}


def test_operation_faults_are_counted_by_kind(sandbox: Sandbox, graph: httpx.Client) -> None:
    """Each fault drawn for an operation is counted under its kind in the stats."""
    sandbox.configure(faults={"rate": 1.0, "mix": {"429": 1}})

    graph.get(phones("mob@contoso.test"))
    graph.get(phones("mob@contoso.test"))

    stats = sandbox.stats()
    assert (stats["faults"], stats["faults_by_kind"], stats["batch_faults_by_kind"]) == (2, {"429": 2}, {})
