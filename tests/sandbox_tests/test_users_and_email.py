"""User lookup and creation, and the email method (one per user, syntax checked, fixed id)."""

from __future__ import annotations

import httpx

from tests.sandbox import Sandbox
from tests.sandbox_tests.conftest import EMAIL_ID, error_code


def test_a_user_is_found_by_upn_case_insensitively_or_by_id(graph: httpx.Client, sandbox: Sandbox) -> None:
    """GET /users/{upn|id} returns the default property set including the profile phones."""
    user_id = sandbox.user("mob@contoso.test")["id"]

    by_upn = graph.get("/users/MOB@Contoso.TEST")
    by_id = graph.get(f"/users/{user_id}")

    assert by_upn.status_code == by_id.status_code == 200
    assert by_upn.json()["id"] == user_id
    assert {"businessPhones", "mobilePhone", "userPrincipalName", "displayName", "mail"} <= set(by_id.json())


def test_select_limits_the_properties(graph: httpx.Client) -> None:
    """$select returns exactly the selected properties."""
    body = graph.get("/users/mob@contoso.test", params={"$select": "id,mobilePhone"}).json()

    assert set(body) == {"@odata.context", "id", "mobilePhone"}


def test_an_unknown_user_is_request_resource_not_found(graph: httpx.Client) -> None:
    """An unknown UPN is 404 Request_ResourceNotFound with Graph's message and correlation ids."""
    response = graph.get(
        "/users/ghost@contoso.test/authentication/phoneMethods", headers={"client-request-id": "c-1"}
    )

    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "Request_ResourceNotFound"
    assert error["message"] == (
        "Resource 'ghost@contoso.test' does not exist or one of its queried reference-property objects are not present."
    )
    assert error["innerError"]["client-request-id"] == "c-1"
    assert error["innerError"]["request-id"] == response.headers["request-id"]
    assert response.headers["client-request-id"] == "c-1"
    assert "x-ms-ags-diagnostic" in response.headers


def test_a_upn_starting_with_dollar_needs_the_key_syntax(graph: httpx.Client) -> None:
    """/users/$x@y is a 400; /users('$x@y') works."""
    assert graph.get("/users/$dollar@contoso.test").status_code == 400
    assert graph.get("/users('$dollar@contoso.test')").status_code == 200


def test_a_guest_upn_is_found_with_the_hash_percent_encoded(graph: httpx.Client) -> None:
    """A B2B UPN with #EXT# is addressed with %23."""
    response = graph.get("/users/guest_example.org%23EXT%23@contoso.test")

    assert response.status_code == 200


def test_creating_a_user_answers_201_and_refuses_a_duplicate_upn(
    graph: httpx.Client, sandbox: Sandbox
) -> None:
    """POST /users creates with a generated id; the same UPN again is 400."""
    body = {"accountEnabled": True, "displayName": "New", "mailNickname": "new", "userPrincipalName": "new@contoso.test",
            "passwordProfile": {"password": "x"}, "mobilePhone": "+31 6 1234"}  # fmt: skip

    created = graph.post("/users", json=body)
    again = graph.post("/users", json=body)

    assert created.status_code == 201
    assert sandbox.user("new@contoso.test")["id"] == created.json()["id"]
    assert again.status_code == 400


def test_filtering_users_by_upn_with_in(graph: httpx.Client) -> None:
    """GET /users?$filter=userPrincipalName in (...) resolves several users in one call."""
    query = "userPrincipalName in ('mob@contoso.test','FULL@contoso.test','ghost@contoso.test')"

    body = graph.get("/users", params={"$filter": query, "$select": "id,userPrincipalName"}).json()

    assert sorted(u["userPrincipalName"] for u in body["value"]) == ["full@contoso.test", "mob@contoso.test"]


def test_an_email_method_can_be_added_read_updated_and_deleted(graph: httpx.Client, sandbox: Sandbox) -> None:
    """Email CRUD: 201 with the fixed id, 200, 204, 204."""
    path = "/users/empty@contoso.test/authentication/emailMethods"

    created = graph.post(path, json={"emailAddress": "me@example.org"})
    read = graph.get(f"{path}/{EMAIL_ID}")
    updated = graph.patch(f"{path}/{EMAIL_ID}", json={"emailAddress": "me2@example.org"})
    assert sandbox.user("empty@contoso.test")["email"] == "me2@example.org"
    deleted = graph.delete(f"{path}/{EMAIL_ID}")

    assert (created.status_code, read.status_code, updated.status_code, deleted.status_code) == (
        201,
        200,
        204,
        204,
    )
    assert created.json()["id"] == EMAIL_ID
    assert sandbox.user("empty@contoso.test")["email"] is None


def test_a_second_email_method_is_rejected(graph: httpx.Client) -> None:
    """One email method per user: a second POST is 400."""
    response = graph.post(
        "/users/full@contoso.test/authentication/emailMethods", json={"emailAddress": "x@example.org"}
    )

    assert response.status_code == 400


def test_a_malformed_email_address_is_rejected(graph: httpx.Client) -> None:
    """An address without a domain is 400 badRequest."""
    response = graph.post(
        "/users/empty@contoso.test/authentication/emailMethods", json={"emailAddress": "nope"}
    )

    assert (response.status_code, error_code(response)) == (400, "badRequest")


def test_all_methods_lists_every_kind_with_its_odata_type(graph: httpx.Client) -> None:
    """/authentication/methods lists password, phones, email and app methods with @odata.type."""
    full = graph.get("/users/full@contoso.test/authentication/methods").json()["value"]
    app = graph.get("/users/app@contoso.test/authentication/methods").json()["value"]

    assert [m["@odata.type"] for m in full] == [
        "#microsoft.graph.passwordAuthenticationMethod", "#microsoft.graph.phoneAuthenticationMethod",
        "#microsoft.graph.phoneAuthenticationMethod", "#microsoft.graph.phoneAuthenticationMethod",
        "#microsoft.graph.emailAuthenticationMethod",
    ]  # fmt: skip
    assert "#microsoft.graph.microsoftAuthenticatorAuthenticationMethod" in {m["@odata.type"] for m in app}
