"""Phone-method endpoints: status codes, fixed ids, bodies and the ordering rules of graph-api.md 1-3."""

from __future__ import annotations

import httpx
import pytest

from tests.sandbox import Sandbox
from tests.sandbox_tests.conftest import ALT_ID, MOBILE_ID, OFFICE_ID, error_code, phones


def test_listing_phones_returns_a_collection_with_fixed_ids(graph: httpx.Client) -> None:
    """GET phoneMethods answers 200 with an OData collection keyed by the fixed per-type ids."""
    response = graph.get(phones("full@contoso.test"))

    assert response.status_code == 200
    body = response.json()
    assert "@odata.context" in body
    assert [(m["id"], m["phoneType"]) for m in body["value"]] == [
        (MOBILE_ID, "mobile"), (ALT_ID, "alternateMobile"), (OFFICE_ID, "office"),
    ]  # fmt: skip
    assert [m["smsSignInState"] for m in body["value"]] == ["notEnabled", "notSupported", "notSupported"]


def test_adding_a_mobile_answers_201_with_the_created_method(graph: httpx.Client, sandbox: Sandbox) -> None:
    """POST phoneMethods answers 201 with the object and stores it."""
    response = graph.post(
        phones("empty@contoso.test"), json={"phoneNumber": "+1 5555551234", "phoneType": "mobile"}
    )

    assert response.status_code == 201
    assert response.json()["id"] == MOBILE_ID
    assert response.json()["phoneNumber"] == "+1 5555551234"
    assert sandbox.user("empty@contoso.test")["phoneMethods"] == {"mobile": "+1 5555551234"}


@pytest.mark.parametrize("number", ["+1 5555551234x123", "+358 401234567"])
def test_numbers_in_graph_format_are_accepted(graph: httpx.Client, number: str) -> None:
    """Numbers shaped ``+CC NUMBER`` with an optional ``xEXT`` are accepted."""
    response = graph.post(phones("empty@contoso.test"), json={"phoneNumber": number, "phoneType": "mobile"})

    assert response.status_code == 201


@pytest.mark.parametrize("number", ["+15555551234", "0612345678", "+1 555-555-1234", "+1234 5555551234", ""])
def test_numbers_not_in_graph_format_are_rejected(graph: httpx.Client, number: str) -> None:
    """A number without the country-code space, with dashes, or without a plus is a 400."""
    response = graph.post(phones("empty@contoso.test"), json={"phoneNumber": number, "phoneType": "mobile"})

    assert response.status_code == 400
    assert error_code(response) == "badRequest"


def test_an_unknown_phone_type_is_rejected(graph: httpx.Client) -> None:
    """phoneType outside mobile/alternateMobile/office is a 400."""
    response = graph.post(
        phones("empty@contoso.test"), json={"phoneNumber": "+1 5555551234", "phoneType": "fax"}
    )

    assert response.status_code == 400


def test_adding_a_type_that_exists_is_rejected(graph: httpx.Client) -> None:
    """A second mobile is a 400: one phone per type."""
    response = graph.post(
        phones("mob@contoso.test"), json={"phoneNumber": "+31 699999999", "phoneType": "mobile"}
    )

    assert response.status_code == 400
    assert "already exists" in response.json()["error"]["message"]


def test_an_alternate_mobile_needs_a_mobile_first(graph: httpx.Client) -> None:
    """alternateMobile without a mobile is a 400."""
    body = {"phoneNumber": "+31 699999999", "phoneType": "alternateMobile"}

    response = graph.post(phones("empty@contoso.test"), json=body)

    assert response.status_code == 400


def test_updating_a_number_answers_204_and_changes_it(graph: httpx.Client, sandbox: Sandbox) -> None:
    """PATCH phoneMethods/{id} answers 204 with no body."""
    response = graph.patch(f"{phones('mob@contoso.test')}/{MOBILE_ID}", json={"phoneNumber": "+31 600000000"})

    assert response.status_code == 204
    assert response.content == b""
    assert sandbox.user("mob@contoso.test")["phoneMethods"]["mobile"] == "+31 600000000"


def test_updating_cannot_change_the_phone_type(graph: httpx.Client) -> None:
    """PATCH with a different phoneType is a 400."""
    body = {"phoneNumber": "+31 600000000", "phoneType": "office"}

    response = graph.patch(f"{phones('mob@contoso.test')}/{MOBILE_ID}", json=body)

    assert response.status_code == 400


def test_updating_with_a_bad_number_is_rejected(graph: httpx.Client) -> None:
    """PATCH checks the number format too."""
    response = graph.patch(f"{phones('mob@contoso.test')}/{MOBILE_ID}", json={"phoneNumber": "0600000000"})

    assert response.status_code == 400


def test_an_unregistered_method_id_is_item_not_found(graph: httpx.Client) -> None:
    """GET/PATCH/DELETE of a method the user lacks is 404 itemNotFound."""
    user = phones("mob@contoso.test")

    responses = [graph.get(f"{user}/{OFFICE_ID}"), graph.delete(f"{user}/{ALT_ID}"),
                 graph.get(f"{user}/00000000-0000-0000-0000-000000000000")]  # fmt: skip

    assert [(r.status_code, error_code(r)) for r in responses] == [(404, "itemNotFound")] * 3


def test_deleting_the_mobile_while_an_alternate_exists_is_rejected(
    graph: httpx.Client, sandbox: Sandbox
) -> None:
    """DELETE mobile with an alternateMobile present is a 400 (default moved away first)."""
    sandbox.tenant.on_user("full@contoso.test", lambda u: setattr(u, "default_method", "voiceOffice"))

    response = graph.delete(f"{phones('full@contoso.test')}/{MOBILE_ID}")

    assert response.status_code == 400
    assert "alternateMobile" in response.json()["error"]["message"]


def test_deleting_the_default_with_other_methods_is_rejected(graph: httpx.Client) -> None:
    """The documented default-method error: 400 badRequest with Graph's message."""
    user = phones("full@contoso.test")
    assert graph.patch(f"{user}/{OFFICE_ID}", json={"phoneNumber": "+31 205550199"}).status_code == 204

    response = graph.delete(f"{user}/{MOBILE_ID}")

    assert response.status_code == 400
    assert error_code(response) == "badRequest"
    assert response.json()["error"]["message"] == (
        "Cannot delete default method with other methods configured. Please change default method before deletion."
    )


def test_the_default_phone_is_refused_even_as_the_last_method(graph: httpx.Client, sandbox: Sandbox) -> None:
    """By default (default_phone_delete="refuse") the default phone can't be deleted, as the docs say,
    even when it is the user's only method."""
    response = graph.delete(f"{phones('mob@contoso.test')}/{MOBILE_ID}")

    assert (response.status_code, error_code(response)) == (400, "badRequest")
    assert "change default method" in response.json()["error"]["message"]
    assert sandbox.user("mob@contoso.test")["phoneMethods"] == {"mobile": "+31 611111111"}


def test_last_method_mode_lets_the_only_default_go(graph: httpx.Client, sandbox: Sandbox) -> None:
    """With default_phone_delete="last-method" the default may go when it is the only method; the user
    then has no default."""
    sandbox.configure(default_phone_delete="last-method")

    response = graph.delete(f"{phones('mob@contoso.test')}/{MOBILE_ID}")

    assert response.status_code == 204
    assert sandbox.user("mob@contoso.test")["defaultMethod"] is None
    assert sandbox.user("mob@contoso.test")["phoneMethods"] == {}


def test_last_method_mode_still_refuses_a_default_among_others(graph: httpx.Client, sandbox: Sandbox) -> None:
    """The "last-method" choice keeps the documented rule while other methods exist."""
    sandbox.configure(default_phone_delete="last-method")

    response = graph.delete(f"{phones('full@contoso.test')}/{MOBILE_ID}")

    assert (response.status_code, error_code(response)) == (400, "badRequest")


def test_a_first_phone_becomes_the_default(graph: httpx.Client, sandbox: Sandbox) -> None:
    """A user without a default gets sms for a first mobile, voiceOffice for a first office phone."""
    graph.post(phones("empty@contoso.test"), json={"phoneNumber": "+31 205550111", "phoneType": "office"})

    assert sandbox.user("empty@contoso.test")["defaultMethod"] == "voiceOffice"


def test_deleting_a_non_default_phone_answers_204(graph: httpx.Client, sandbox: Sandbox) -> None:
    """Deleting the office phone of a user whose default is sms works."""
    response = graph.delete(f"{phones('full@contoso.test')}/{OFFICE_ID}")

    assert response.status_code == 204
    assert "office" not in sandbox.user("full@contoso.test")["phoneMethods"]


def test_read_only_sms_state_cannot_be_posted(graph: httpx.Client) -> None:
    """smsSignInState is read-only: sending it on create is a 400."""
    body = {"phoneNumber": "+31 699999999", "phoneType": "mobile", "smsSignInState": "ready"}

    assert graph.post(phones("empty@contoso.test"), json=body).status_code == 400


def test_a_body_that_is_not_json_is_rejected(graph: httpx.Client) -> None:
    """A malformed payload is a 400."""
    response = graph.post(
        phones("empty@contoso.test"), content=b"{nope", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
