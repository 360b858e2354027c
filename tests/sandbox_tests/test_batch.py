"""JSON batching: limits, duplicate ids, the parallel-or-sequential shape, dependsOn order and 424,
write payloads (body and Content-Type), beta paths, counting."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox import Sandbox, SandboxConfig
from tests.sandbox_tests.conftest import MOBILE_ID

JSON = {"Content-Type": "application/json"}


def _get(
    item_id: str, url: str = "/users/mob@contoso.test/authentication/phoneMethods", **extra: Any
) -> dict[str, Any]:
    return {"id": item_id, "method": "GET", "url": url, **extra}


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


def _post(item_id: str, user: str, kind: str, number: str, **extra: Any) -> dict[str, Any]:
    return {"id": item_id, "method": "POST", "url": f"/users/{user}/authentication/phoneMethods",
            "headers": JSON, "body": {"phoneNumber": number, "phoneType": kind}, **extra}  # fmt: skip


def _rejected(response: httpx.Response, message: str) -> None:
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["message"]) == ("BadRequest", message)


def test_dependents_of_a_failed_request_get_424(graph: httpx.Client, sandbox: Sandbox) -> None:
    """In a chain, alternateMobile after a failing mobile POST: the mobile gets 400 and the alternate 424."""
    requests = [
        _post("mob", "mob@contoso.test", "mobile", "+31 600000002"),
        _post("alt", "mob@contoso.test", "alternateMobile", "+31 600000001", dependsOn=["mob"]),
    ]

    items = _by_id(graph.post("/$batch", json={"requests": requests}))

    assert (items["mob"]["status"], items["alt"]["status"]) == (400, 424)
    assert "alternateMobile" not in sandbox.user("mob@contoso.test")["phoneMethods"]


def test_a_424_cascades_down_the_chain(graph: httpx.Client) -> None:
    """Every later link of a chain whose first link failed is a 424."""
    requests = [
        _get("1", "/users/ghost@contoso.test"),
        _get("2", dependsOn=["1"]),
        _get("3", dependsOn=["2"]),
    ]

    items = _by_id(graph.post("/$batch", json={"requests": requests}))

    assert [items[i]["status"] for i in ("1", "2", "3")] == [404, 424, 424]


def test_a_sequential_batch_runs_in_array_order(graph: httpx.Client, sandbox: Sandbox) -> None:
    """A fully sequential chain (each request depends on the one before) runs in order: mobile first."""
    requests = [
        _post("1", "empty@contoso.test", "mobile", "+31 600000002"),
        _post("2", "empty@contoso.test", "alternateMobile", "+31 600000001", dependsOn=["1"]),
        _get("3", "/users/empty@contoso.test/authentication/phoneMethods", dependsOn=["2"]),
    ]

    items = _by_id(graph.post("/$batch", json={"requests": requests}))

    assert [items[i]["status"] for i in ("1", "2", "3")] == [201, 201, 200]
    assert set(sandbox.user("empty@contoso.test")["phoneMethods"]) == {"mobile", "alternateMobile"}


def test_a_fully_parallel_batch_is_accepted(graph: httpx.Client, sandbox: Sandbox) -> None:
    """Independent writes for different users, no dependsOn at all (an empty list counts as none)."""
    requests = [
        _post("1", "empty@contoso.test", "mobile", "+31 600000002"),
        _post("2", "mob@contoso.test", "office", "+31 205550199", dependsOn=[]),
        _get("3"),
    ]

    items = _by_id(graph.post("/$batch", json={"requests": requests}))

    assert [items[i]["status"] for i in ("1", "2", "3")] == [201, 201, 200]


@pytest.mark.parametrize(
    "depends",
    [
        pytest.param([None, ["1"], None], id="chain-plus-independent"),
        pytest.param([None, ["1"], None, ["3"]], id="two-chains"),
        pytest.param([None, None, ["2"]], id="independent-then-chain"),
        pytest.param([None, ["1"], ["1"]], id="fan-out"),
        pytest.param([None, ["1"], ["1", "2"]], id="two-dependencies"),
    ],
)
def test_a_mixed_envelope_is_rejected_as_a_whole(
    graph: httpx.Client, sandbox: Sandbox, depends: list[list[str] | None]
) -> None:
    """Anything but fully parallel or one chain is 400 "Batch should be either fully sequential or fully
    parallel" for the whole envelope (docs-contrib#2339): no item runs."""
    users = ["empty@contoso.test", "empty@contoso.test", "app@contoso.test", "app@contoso.test"]
    kinds = [("mobile", "+31 600000002"), ("office", "+31 205550199")] * 2
    requests = [_post(str(i + 1), users[i], *kinds[i]) for i in range(len(depends))]
    for request, dep in zip(requests, depends, strict=True):
        if dep is not None:
            request["dependsOn"] = dep

    response = graph.post("/$batch", json={"requests": requests})

    _rejected(response, "Batch should be either fully sequential or fully parallel")
    assert sandbox.user("empty@contoso.test")["phoneMethods"] == {}
    assert sandbox.stats()["requests"] == 0


@pytest.mark.parametrize(
    ("first", "second"),
    [
        pytest.param({"dependsOn": ["2"]}, {}, id="forward-reference"),
        pytest.param({}, {"dependsOn": ["nope"]}, id="unknown-id"),
        pytest.param({}, {"dependsOn": ["2"]}, id="self-reference"),
        pytest.param({}, {"dependsOn": "1"}, id="not-a-list"),
    ],
)
def test_a_dependency_not_earlier_in_the_array_is_rejected(
    graph: httpx.Client, first: dict[str, Any], second: dict[str, Any]
) -> None:
    """dependsOn must name a request earlier in the array: 400 "Invalid dependency for request Id"."""
    requests = [_get("1", **first), _get("2", **second)]

    response = graph.post("/$batch", json={"requests": requests})

    bad = "1" if first else "2"
    _rejected(response, f"Invalid dependency for request Id {bad}")


def test_a_body_without_content_type_rejects_the_envelope(graph: httpx.Client, sandbox: Sandbox) -> None:
    """A body without a Content-Type header is a 400 for the whole batch, and nothing is written."""
    request = {"id": "1", "method": "POST", "url": "/users/empty@contoso.test/authentication/phoneMethods",
               "body": {"phoneNumber": "+31 600000002", "phoneType": "mobile"}}  # fmt: skip

    response = graph.post("/$batch", json={"requests": [request, _get("2")]})

    _rejected(response, "Write request id : 1 does not contain Content-Type header or body.")
    assert sandbox.user("empty@contoso.test")["phoneMethods"] == {}


@pytest.mark.parametrize("headers", [{}, JSON], ids=["no-headers", "content-type-only"])
def test_a_bodyless_post_action_rejects_the_envelope(
    graph: httpx.Client, sandbox: Sandbox, headers: dict[str, str]
) -> None:
    """enableSmsSignIn with no body (with or without a Content-Type) is refused as a whole envelope."""
    request = {"id": "sms", "method": "POST", "headers": headers,
               "url": f"/users/mob@contoso.test/authentication/phoneMethods/{MOBILE_ID}/enableSmsSignIn"}  # fmt: skip

    response = graph.post("/$batch", json={"requests": [request]})

    _rejected(response, "Write request id : sms does not contain Content-Type header or body.")
    assert sandbox.user("mob@contoso.test")["smsSignInState"] == "notEnabled"


def test_a_post_action_with_an_empty_body_and_content_type_is_accepted(
    graph: httpx.Client, sandbox: Sandbox
) -> None:
    """The documented form of a payload-less action: Content-Type plus body {} (json-batching.md)."""
    request = {"id": "sms", "method": "POST", "headers": JSON, "body": {},
               "url": f"/users/mob@contoso.test/authentication/phoneMethods/{MOBILE_ID}/enableSmsSignIn"}  # fmt: skip

    items = _by_id(graph.post("/$batch", json={"requests": [request]}))

    assert items["sms"]["status"] == 204
    assert sandbox.user("mob@contoso.test")["smsSignInState"] == "ready"


def test_a_delete_needs_no_body(graph: httpx.Client, sandbox: Sandbox) -> None:
    """DELETE carries no body and no headers."""
    url = "/users/full@contoso.test/authentication/phoneMethods/e37fc753-ff3b-4958-9484-eaa9425c82bc"

    items = _by_id(graph.post("/$batch", json={"requests": [{"id": "1", "method": "DELETE", "url": url}]}))

    assert items["1"]["status"] == 204
    assert "office" not in sandbox.user("full@contoso.test")["phoneMethods"]


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
