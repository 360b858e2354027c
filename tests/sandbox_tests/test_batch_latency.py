"""The latency model of ``$batch``: one latency per envelope, per dependsOn level, or per inner request."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.sandbox import Sandbox

PHONES = "/users/mob@contoso.test/authentication/phoneMethods"


def _parallel(count: int) -> dict[str, Any]:
    return {"requests": [{"id": str(i), "method": "GET", "url": PHONES} for i in range(count)]}


def _chain(count: int) -> dict[str, Any]:
    requests: list[dict[str, Any]] = [{"id": "0", "method": "GET", "url": PHONES}]
    requests += [
        {"id": str(i), "method": "GET", "url": PHONES, "dependsOn": [str(i - 1)]} for i in range(1, count)
    ]
    return {"requests": requests}


def _timed(graph: httpx.Client, payload: dict[str, Any]) -> float:
    started = time.monotonic()
    response = graph.post("/$batch", json=payload)
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert all(item["status"] == 200 for item in response.json()["responses"])
    return elapsed


def test_per_envelope_charges_a_twenty_item_batch_one_latency(sandbox: Sandbox, graph: httpx.Client) -> None:
    """The default model: 20 inner requests cost the latency of one request."""
    sandbox.configure(latency_ms=100)

    elapsed = _timed(graph, _parallel(20))

    assert sandbox.config.batch_latency == "per-envelope"
    assert 0.1 <= elapsed < 0.5


def test_per_item_serves_a_twenty_item_batch_one_request_after_another(
    sandbox: Sandbox, graph: httpx.Client
) -> None:
    """Under per-item, 20 parallel inner requests take at least 20 latencies."""
    sandbox.configure(latency_ms=50, batch_latency="per-item")

    elapsed = _timed(graph, _parallel(20))

    assert elapsed >= 20 * 0.05


def test_per_level_runs_independent_requests_together_and_a_chain_link_by_link(
    sandbox: Sandbox, graph: httpx.Client
) -> None:
    """Under per-level, a 20-item parallel batch costs about one latency and a 3-level chain about three."""
    sandbox.configure(latency_ms=100, batch_latency="per-level")

    parallel = _timed(graph, _parallel(20))
    chain = _timed(graph, _chain(3))

    assert 0.1 <= parallel < 0.5
    assert 0.3 <= chain < 0.6


def test_a_dependent_of_a_failed_request_never_runs_so_costs_no_latency(
    sandbox: Sandbox, graph: httpx.Client
) -> None:
    """Under per-item, the 424 answers of a failed chain's dependents add nothing."""
    sandbox.configure(latency_ms=100, batch_latency="per-item")
    payload = _chain(4)
    payload["requests"][0]["url"] = "/users/ghost@contoso.test/authentication/phoneMethods"

    started = time.monotonic()
    response = graph.post("/$batch", json=payload)
    elapsed = time.monotonic() - started

    assert sorted(item["status"] for item in response.json()["responses"]) == [404, 424, 424, 424]
    assert elapsed < 0.3


def test_the_config_endpoint_sets_the_batch_latency_model_and_refuses_unknown_ones(sandbox: Sandbox) -> None:
    """POST /_sandbox/config takes batch_latency; a model it does not know is a 400."""
    url = f"{sandbox.url}/_sandbox/config"

    accepted = httpx.post(url, json={"batch_latency": "per-level"}, verify=sandbox.ssl_context())
    refused = httpx.post(url, json={"batch_latency": "per-galaxy"}, verify=sandbox.ssl_context())

    assert accepted.json()["batch_latency"] == "per-level"
    assert refused.status_code == 400
    assert sandbox.config.batch_latency == "per-level"


@pytest.mark.parametrize("model", ["per-envelope", "per-level", "per-item"])
def test_the_command_line_takes_each_batch_latency_model(model: str) -> None:
    """``--batch-latency`` parses every model into the sandbox's config."""
    from tests.sandbox.__main__ import _parser

    args = _parser().parse_args(["--batch-latency", model])

    assert args.batch_latency == model
