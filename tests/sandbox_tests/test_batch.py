"""JSON batching: limits, duplicate ids, dependsOn with 424, Content-Type, beta paths, counting."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox import Sandbox, SandboxConfig
from tests.sandbox_tests.conftest import MOBILE_ID

JSON = {"Content-Type": "application/json"}


def _get(item_id: str, url: str = "/users/mob@contoso.test/authentication/phoneMethods") -> dict[str, Any]:
    return {"id": item_id, "method": "GET", "url": url}


def _by_id(response: httpx.Response) -> dict[str, dict[str, Any]]:
    assert response.status_code == 200
    return {item["id"]: item for item in response.json()["responses"]}


def test_a_batch_runs_each_request_and_answers_200(graph: httpx.Client, sandbox: Sandbox) -> None:
    """Inner requests get their own statuses; the envelope is 200 and counts once in batches."""
    sandbox.reset_stats()
    requests = [_get("1"), _get("2", "/users/ghost@contoso.test")]

    items = _by_id(graph.post("/$batch", json={"requests": requests}))

    assert (items["1"]["status"], items["2"]["status"]) == (200, 404)
    assert items["1"]["body"]["value"][0]["id"] == MOBILE_ID
    stats = sandbox.stats()
    assert (stats["batches"], stats["requests"], stats["by_status"]) == (1, 2, {"200": 1, "404": 1})


def test_more_than_twenty_requests_is_rejected(graph: httpx.Client) -> None:
    """21 requests make the whole batch a 400."""
    response = graph.post("/$batch", json={"requests": [_get(str(i)) for i in range(21)]})

    assert response.status_code == 400


def test_duplicate_ids_are_rejected_case_insensitively(graph: httpx.Client) -> None:
    """Ids 'a' and 'A' collide: 400 for the batch."""
    response = graph.post("/$batch", json={"requests": [_get("a"), _get("A")]})

    assert response.status_code == 400


def test_dependents_of_a_failed_request_get_424(graph: httpx.Client, sandbox: Sandbox) -> None:
    """alternateMobile dependsOn a failing mobile POST: the mobile gets 400 and the alternate 424."""
    url = "/users/mob@contoso.test/authentication/phoneMethods"
    requests = [
        {"id": "alt", "method": "POST", "url": url, "dependsOn": ["mob"], "headers": JSON,
         "body": {"phoneNumber": "+31 600000001", "phoneType": "alternateMobile"}},
        {"id": "mob", "method": "POST", "url": url, "headers": JSON,
         "body": {"phoneNumber": "+31 600000002", "phoneType": "mobile"}},
    ]  # fmt: skip

    items = _by_id(graph.post("/$batch", json={"requests": requests}))

    assert (items["mob"]["status"], items["alt"]["status"]) == (400, 424)
    assert "alternateMobile" not in sandbox.user("mob@contoso.test")["phoneMethods"]


def test_depends_on_orders_execution(graph: httpx.Client, sandbox: Sandbox) -> None:
    """An alternateMobile listed first but depending on the mobile is created after it."""
    url = "/users/empty@contoso.test/authentication/phoneMethods"
    requests = [
        {"id": "2", "method": "POST", "url": url, "dependsOn": ["1"], "headers": JSON,
         "body": {"phoneNumber": "+31 600000001", "phoneType": "alternateMobile"}},
        {"id": "1", "method": "POST", "url": url, "headers": JSON,
         "body": {"phoneNumber": "+31 600000002", "phoneType": "mobile"}},
    ]  # fmt: skip

    items = _by_id(graph.post("/$batch", json={"requests": requests}))

    assert (items["1"]["status"], items["2"]["status"]) == (201, 201)
    assert set(sandbox.user("empty@contoso.test")["phoneMethods"]) == {"mobile", "alternateMobile"}


def test_a_body_without_content_type_fails_that_item(graph: httpx.Client, sandbox: Sandbox) -> None:
    """An inner body without a Content-Type header is a 400 for that item only, and nothing is written."""
    request = {"id": "1", "method": "POST", "url": "/users/empty@contoso.test/authentication/phoneMethods",
               "body": {"phoneNumber": "+31 600000002", "phoneType": "mobile"}}  # fmt: skip

    items = _by_id(graph.post("/$batch", json={"requests": [request, _get("2")]}))

    assert (items["1"]["status"], items["2"]["status"]) == (400, 200)
    assert sandbox.user("empty@contoso.test")["phoneMethods"] == {}


def test_a_beta_path_in_a_v1_batch_is_405(graph: httpx.Client, beta: httpx.Client) -> None:
    """signInPreferences inside a v1.0 batch is 405; inside a beta batch it works."""
    request = _get("1", "/users/full@contoso.test/authentication/signInPreferences")

    v1 = _by_id(graph.post("/$batch", json={"requests": [request]}))
    b = _by_id(beta.post("/$batch", json={"requests": [request]}))

    assert (v1["1"]["status"], b["1"]["status"]) == (405, 200)


@pytest.fixture
def config() -> SandboxConfig:
    return SandboxConfig(shuffle_batch=True)


def test_responses_may_come_back_in_another_order(graph: httpx.Client) -> None:
    """With shuffling on, responses are not always in request order, so clients must correlate by id."""
    orders = set()
    for _ in range(5):
        response = graph.post("/$batch", json={"requests": [_get(str(i)) for i in range(10)]})
        orders.add(tuple(item["id"] for item in response.json()["responses"]))

    assert len(orders) > 1
