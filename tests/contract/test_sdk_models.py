"""``sdk_models`` on hand-written Graph JSON: what it accepts, each kind of problem it reports, and that its
fast reading agrees with kiota's own ``JsonParseNode``."""

from __future__ import annotations

from typing import Any

import pytest
from kiota_serialization_json.json_parse_node import JsonParseNode

from tests.contract import sdk_models
from tests.contract.sdk_models import request_problems, response_problems

USER = "/users/ann@contoso.test"
PHONES = f"{USER}/authentication/phoneMethods"
MOBILE = "3179e48a-750b-4051-897c-87b9720928f7"
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#users('ann%40contoso.test')/authentication/phoneMethods"


def _phone(**extra: Any) -> dict[str, Any]:
    return {
        "id": MOBILE,
        "phoneNumber": "+31 612345678",
        "phoneType": "mobile",
        "smsSignInState": "ready",
    } | extra


def test_graph_shaped_answers_pass() -> None:
    """Documented answers, annotations where the SDK models or tolerates them, pass without problems."""
    methods = {
        "@odata.context": CONTEXT,
        "value": [
            {
                "@odata.type": "#microsoft.graph.passwordAuthenticationMethod",
                "id": "28c1",
                "password": None,
                "createdDateTime": "2024-01-01T00:00:00Z",
            },
            {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", **_phone()},
            {
                "@odata.type": "#microsoft.graph.emailAuthenticationMethod",
                "id": "3ddf",
                "emailAddress": "a@b.test",
            },
        ],
    }
    delta = {
        "@odata.context": CONTEXT,
        "@odata.deltaLink": "https://x/delta?$deltatoken=1",
        "value": [
            {"id": "1", "mobilePhone": None, "businessPhones": []},
            {"id": "2", "@removed": {"reason": "deleted"}},
        ],
    }
    members = {"@odata.nextLink": "https://x?$skiptoken=2", "value": [
        {"@odata.type": "#microsoft.graph.user", "id": "1"}, {"@odata.type": "#microsoft.graph.group", "id": "2"},
        {"@odata.type": "#microsoft.graph.directoryRole", "id": "3", "roleTemplateId": "c4e3"}]}  # fmt: skip

    assert response_problems("v1.0", "GET", f"{USER}/authentication/methods", 200, methods) == []
    assert response_problems("v1.0", "GET", "/users/delta", 200, delta) == []
    assert response_problems("v1.0", "GET", f"{USER}/transitiveMemberOf", 200, members) == []
    assert response_problems("v1.0", "POST", PHONES, 201, {"@odata.context": CONTEXT, **_phone()}) == []
    assert response_problems("v1.0", "PATCH", f"{PHONES}/{MOBILE}", 204, None) == []
    assert request_problems("v1.0", "POST", f"{PHONES}/{MOBILE}/enableSmsSignIn", {}) == []
    assert request_problems("beta", "PATCH", f"{USER}/authentication/signInPreferences",
                            {"userPreferredMethodForSecondaryAuthentication": "sms"}) == []  # fmt: skip
    assert response_problems("v1.0", "GET", "/users('$x@contoso.test')", 200, {"id": "1"}) == []


def test_an_error_body_is_read_as_odata_error() -> None:
    """Graph's error shape passes on any mapped path; an unknown key inside innerError does not."""
    error: dict[str, Any] = {"error": {"code": "itemNotFound", "message": "Not found", "innerError": {
        "date": "2024-01-01T00:00:00", "request-id": "r", "client-request-id": "c"}}}  # fmt: skip

    assert response_problems("v1.0", "GET", f"{PHONES}/{MOBILE}", 404, error) == []
    error["error"]["innerError"]["traceId"] = "t"
    assert response_problems("v1.0", "GET", f"{PHONES}/{MOBILE}", 404, error) == [
        "v1.0 GET /users/{user}/authentication/phoneMethods/{id}: /error/innerError/traceId is a property "
        "the SDK's InnerError does not know (value 't')"
    ]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        pytest.param({"value": [_phone(extra={"deep": 1})]},
                     "/value/0/extra is a property the SDK's PhoneAuthenticationMethod does not know", id="unknown-key"),
        pytest.param({"value": [_phone(smsSignInState="Ready")]},
                     "/value/0/smsSignInState 'Ready' is not a value of the SDK enum", id="enum-case"),
        pytest.param({"value": [_phone(phoneNumber=5)]},
                     "/value/0/phoneNumber is 5, which the SDK's get_str_value reads as nothing", id="scalar-type"),
        pytest.param({"value": [_phone(**{"@odata.type": "#microsoft.graph.fooMethod"})]},
                     "/value/0/@odata.type '#microsoft.graph.fooMethod' is not a type the SDK knows", id="odata-type"),
        pytest.param({"value": [_phone(**{"@odata.context": "x"})]},
                     "/value/0/@odata.context is a property", id="context-below-root"),
        pytest.param({"value": [], "@odata.deltaLink": "x"},
                     "/@odata.deltaLink is a property the SDK's PhoneAuthenticationMethodCollectionResponse",
                     id="annotation-the-model-lacks"),
        pytest.param([], "/ is [], not the JSON object", id="not-an-object"),
    ],
)  # fmt: skip
def test_each_kind_of_problem_is_named_with_its_pointer(body: Any, problem: str) -> None:
    """Unknown keys (nested too), enum strings, scalar types, @odata.type and misplaced annotations."""
    found = response_problems("v1.0", "GET", PHONES, 200, body)

    assert len(found) == 1
    assert found[0].startswith("v1.0 GET /users/{user}/authentication/phoneMethods: ")
    assert problem in found[0]


def test_an_unknown_nested_key_deep_in_an_error_and_a_request_body_is_found() -> None:
    """Nested objects in request bodies are walked too: a user's passwordProfile with a stray key."""
    body = {"userPrincipalName": "n@contoso.test", "passwordProfile": {"password": "x", "colour": "red"}}

    assert request_problems("v1.0", "POST", "/users", body) == [
        "v1.0 POST /users: /passwordProfile/colour is a property the SDK's PasswordProfile does not know "
        "(value 'red')"
    ]


def test_removed_is_only_an_annotation_on_delta_items_with_a_known_reason() -> None:
    """@removed outside a delta page, or with an unknown reason, is a problem."""
    bad = {"value": [{"id": "1", "@removed": {"reason": "gone"}}]}

    assert response_problems("v1.0", "GET", "/users/delta", 200, bad) == [
        "v1.0 GET /users/delta: /value/0/@removed {'reason': 'gone'} is not {'reason': 'changed' | 'deleted'}"
    ]
    assert (
        "/value/0/@removed is a property"
        in response_problems(
            "v1.0", "GET", "/users", 200, {"value": [{"id": "1", "@removed": {"reason": "changed"}}]}
        )[0]
    )


def test_a_path_without_a_model_is_a_problem() -> None:
    """Coverage is enforced: an unmapped path, or a beta-only one under v1.0, has no SDK model."""
    assert response_problems("v1.0", "GET", f"{USER}/authentication/fido2Methods", 200, {"value": []}) == [
        f"no SDK model known for GET /v1.0{USER}/authentication/fido2Methods"
    ]
    assert request_problems("v1.0", "PATCH", f"{USER}/authentication/signInPreferences", {}) == [
        f"no SDK model known for PATCH /v1.0{USER}/authentication/signInPreferences"
    ]


def test_bodies_where_the_sdk_expects_none() -> None:
    """An action with a body and a GET 200 without one are problems; an answer body the SDK never reads
    (a DELETE or an action, sent with ``send_no_response_content_async``) is not judged."""
    assert (
        "the action takes no body"
        in request_problems("v1.0", "POST", f"{PHONES}/{MOBILE}/disableSmsSignIn", {"force": True})[0]
    )
    assert response_problems("v1.0", "DELETE", f"{PHONES}/{MOBILE}", 204, {"ignored": True}) == []
    assert "without the body the SDK expects" in response_problems("v1.0", "GET", PHONES, 200, None)[0]


def test_batch_envelopes_are_judged_item_by_item() -> None:
    """Envelope keys, inner write bodies and inner error bodies of a $batch."""
    envelope = {"requests": [{"id": "1", "method": "POST", "url": PHONES, "headers": {},
                              "body": {"phoneNumber": "+31 6", "phoneType": "cell"}, "depends_on": []}]}  # fmt: skip

    problems = request_problems("v1.0", "POST", "/$batch", envelope)

    assert problems[0] == "v1.0 POST /$batch: /requests/0/depends_on is not a $batch request key"
    assert "/phoneType 'cell' is not a value" in problems[1]
    assert response_problems("v1.0", "POST", "/$batch", 200, {"responses": [
        {"id": "1", "status": 400, "headers": {}, "body": {"error": {"code": "x", "message": "y", "hint": 1}}}]}) == [
        "v1.0 POST /$batch /responses/0: /error/hint is a property the SDK's MainError does not know (value 1)"
    ]  # fmt: skip


@pytest.mark.parametrize("version", ["v1.0", "beta"])
def test_every_route_names_a_model_the_sdk_has(version: str) -> None:
    """Each route's models import from the SDK package of every version it is declared for."""
    for route in sdk_models.ROUTES:
        if version in route.versions:
            for model in (route.request, route.response):
                if model not in (sdk_models.NO_BODY, sdk_models.EMPTY):
                    assert sdk_models.model_class(version, model) is not None


def test_the_fast_reading_agrees_with_kiotas_own_parse_node() -> None:
    """The per-class deserializer table reads a body into the same attributes as kiota's JsonParseNode."""
    body = {"@odata.context": CONTEXT, "value": [
        {"@odata.type": "#microsoft.graph.user", "id": "1", "businessPhones": ["+1 2"], "accountEnabled": True,
         "passwordProfile": {"password": "x", "colour": "red"}, "unknown": [1, {"a": 2}]},
        {"@odata.type": "#microsoft.graph.group", "id": "2", "securityEnabled": False, "displayName": None}]}  # fmt: skip
    factory = sdk_models.model_class(
        "v1.0", "models.directory_object_collection_response:DirectoryObjectCollectionResponse"
    )

    fast = sdk_models._Node(body).get_object_value(factory)
    slow = JsonParseNode(body).get_object_value(factory)

    assert _plain(fast) == _plain(slow)


def _plain(value: Any) -> Any:
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if hasattr(value, "additional_data"):
        attributes = {k: _plain(v) for k, v in vars(value).items() if k != "backing_store"}
        return {"class": type(value).__name__, **attributes}
    return value
