"""Throttling per app and tenant: 429 with Retry-After and scope headers, recovery, batch items."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.sandbox import Sandbox, SandboxConfig
from tests.sandbox_tests.conftest import phones


@pytest.fixture
def config() -> SandboxConfig:
    # 10 RU per 10 s, shrunk 10x: 10 RU per second.
    return SandboxConfig(resource_units=10, writes=3, time_scale=10.0, shuffle_batch=False)


def _until_throttled(graph: httpx.Client, limit: int = 50) -> httpx.Response:
    for _ in range(limit):
        response = graph.get(phones("mob@contoso.test"))
        if response.status_code == 429:
            return response
    pytest.fail("never throttled")


def test_going_over_the_resource_unit_budget_is_429_with_retry_after(graph: httpx.Client) -> None:
    """Past the RU budget Graph answers 429 TooManyRequests with Retry-After and throttle headers."""
    response = _until_throttled(graph)

    assert response.json()["error"]["code"] == "TooManyRequests"
    assert int(response.headers["Retry-After"]) >= 1
    assert response.headers["x-ms-throttle-information"] == "ResourceUnitLimitExceeded"
    assert response.headers["x-ms-throttle-scope"].startswith("Tenant_Application/ReadWrite/")
    assert float(response.headers["x-ms-throttle-limit-percentage"]) > 0.8


def test_waiting_the_retry_after_recovers(graph: httpx.Client, sandbox: Sandbox) -> None:
    """After sleeping Retry-After seconds the next request succeeds."""
    throttled = _until_throttled(graph)

    time.sleep(float(throttled.headers["Retry-After"]))

    assert graph.get(phones("mob@contoso.test")).status_code == 200
    assert sandbox.stats()["throttled"] >= 1


def test_writes_have_their_own_budget(graph: httpx.Client) -> None:
    """The fourth write within the (scaled) 15 s window is WriteLimitExceeded."""
    url = f"{phones('mob@contoso.test')}/3179e48a-750b-4051-897c-87b9720928f7"
    statuses = [graph.patch(url, json={"phoneNumber": f"+31 60000000{i}"}) for i in range(4)]

    assert [r.status_code for r in statuses] == [204, 204, 204, 429]
    assert statuses[-1].headers["x-ms-throttle-information"] == "WriteLimitExceeded"


def test_every_response_reports_its_resource_units(graph: httpx.Client) -> None:
    """GET users costs 2 RU, 1 with $select; one user and method reads cost 1 (the table's "any other")."""
    users = graph.get("/users")
    selected = graph.get("/users", params={"$select": "id"})
    user = graph.get("/users/mob@contoso.test")
    methods = graph.get(phones("mob@contoso.test"))

    units = [r.headers["x-ms-resource-unit"] for r in (users, selected, user, methods)]
    assert units == ["2", "1", "1", "1"]


def test_batch_items_are_throttled_individually(graph: httpx.Client) -> None:
    """Inside a batch, items past the budget get inner 429s with their own Retry-After."""
    requests = [{"id": str(i), "method": "GET", "url": phones("mob@contoso.test")} for i in range(15)]

    items = graph.post("/$batch", json={"requests": requests}).json()["responses"]

    statuses = [i["status"] for i in items]
    assert statuses.count(200) == 10
    assert statuses.count(429) == 5
    assert all("Retry-After" in i["headers"] for i in items if i["status"] == 429)


def test_throttling_can_be_switched_off(graph: httpx.Client, sandbox: Sandbox) -> None:
    """configure(throttle=False) lets everything through."""
    sandbox.configure(throttle=False)

    statuses = {graph.get(phones("mob@contoso.test")).status_code for _ in range(30)}

    assert statuses == {200}
