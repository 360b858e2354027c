"""GET /users/delta: full rounds, incremental rounds on the deltaLink, @removed, latest, minimal, expiry."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox import Sandbox
from tests.sandbox_tests.conftest import NOBODY, SELECT, client_for, error_code, follow

FIRST = f"/users/delta?$select={SELECT}"


def _ids(pages: list[list[dict[str, Any]]]) -> list[str]:
    return [item["id"] for page in pages for item in page]


def _upns(directory: Sandbox, items: list[dict[str, Any]]) -> list[str]:
    by_id = {u["id"]: u["userPrincipalName"] for u in directory.users()}
    return sorted(by_id.get(item["id"], item["id"]) for item in items)


def test_a_first_round_returns_every_user_page_by_page_and_ends_in_a_delta_link(
    directory: Sandbox, dgraph: httpx.Client
) -> None:
    """Pages of two with absolute nextLinks carrying a $skiptoken; only the last page has the deltaLink."""
    first = dgraph.get(FIRST).json()

    pages, delta_link = follow(dgraph, FIRST)

    assert [len(page) for page in pages] == [2, 2, 1]
    assert sorted(_ids(pages)) == sorted(u["id"] for u in directory.users())
    assert first["@odata.nextLink"].startswith(f"{directory.url}/v1.0/users/delta?$skiptoken=")
    assert "@odata.deltaLink" not in first
    assert delta_link.startswith(f"{directory.url}/v1.0/users/delta?$deltatoken=")
    assert set(pages[0][0]) == {"id", "userPrincipalName", "mobilePhone", "businessPhones"}


def test_the_delta_link_returns_only_users_whose_selected_properties_changed(
    directory: Sandbox, dgraph: httpx.Client
) -> None:
    """A mobilePhone or businessPhones change shows; a jobTitle change (not selected) does not."""
    _, delta_link = follow(dgraph, FIRST)
    directory.set_profile("ann@contoso.test", mobilePhone="+31 6 99999999")
    directory.set_profile("carla@contoso.test", jobTitle="Manager")
    dgraph.patch("/users/dave@contoso.test", json={"businessPhones": ["+31 20 5550199"]})
    directory.set_profile("eve@contoso.test", mobilePhone=None)  # unchanged: eve had none

    pages, next_delta = follow(dgraph, delta_link)

    items = [item for page in pages for item in page]
    assert _upns(directory, items) == ["ann@contoso.test", "dave@contoso.test"]
    assert {item["id"]: item["mobilePhone"] for item in items}[directory.user("ann@contoso.test")["id"]] == (
        "+31 6 99999999"
    )
    assert follow(dgraph, next_delta)[0] == [[]]


def test_without_select_any_profile_change_makes_a_user_appear(
    directory: Sandbox, dgraph: httpx.Client
) -> None:
    """No $select tracks every property, and returns the default property set."""
    _, delta_link = follow(dgraph, "/users/delta")
    directory.set_profile("carla@contoso.test", jobTitle="Manager")

    pages, _ = follow(dgraph, delta_link)

    assert _upns(directory, pages[0]) == ["carla@contoso.test"]
    assert pages[0][0]["jobTitle"] == "Manager"
    assert "displayName" in pages[0][0]


def test_deleted_users_appear_as_removed_with_their_reason(directory: Sandbox, dgraph: httpx.Client) -> None:
    """DELETE soft-deletes (reason changed); a permanent deletion is reason deleted; both are then 404."""
    _, delta_link = follow(dgraph, FIRST)
    carla, eve = directory.user("carla@contoso.test")["id"], directory.user("eve@contoso.test")["id"]

    deleted = dgraph.delete(f"/users/{carla}")
    directory.delete_user("eve@contoso.test", permanent=True)
    pages, _ = follow(dgraph, delta_link)

    assert deleted.status_code == 204
    assert sorted((item["id"], item["@removed"]["reason"]) for page in pages for item in page) == sorted(
        [(carla, "changed"), (eve, "deleted")]
    )
    assert dgraph.get(f"/users/{carla}").status_code == 404


def test_an_added_user_appears_in_the_next_round_with_every_selected_property(
    directory: Sandbox, dgraph: httpx.Client
) -> None:
    """A user added after the deltaLink was issued shows up whole."""
    _, delta_link = follow(dgraph, FIRST)
    directory.add_user({"userPrincipalName": "fay@contoso.test", "mobilePhone": "+44 7700 900123"})

    pages, _ = follow(dgraph, delta_link)

    assert pages == [[{"id": directory.user("fay@contoso.test")["id"], "userPrincipalName": "fay@contoso.test",
                       "mobilePhone": "+44 7700 900123", "businessPhones": []}]]  # fmt: skip


def test_delta_token_latest_returns_no_users_but_a_delta_link_from_now(
    directory: Sandbox, dgraph: httpx.Client
) -> None:
    """$deltaToken=latest skips the full round; the deltaLink then reports later changes only."""
    body = dgraph.get(f"{FIRST}&$deltaToken=latest").json()
    directory.set_profile("bob@contoso.test", mobilePhone="+1 425 555 0110")

    pages, _ = follow(dgraph, body["@odata.deltaLink"])

    assert body["value"] == []
    assert "@odata.nextLink" not in body
    assert _upns(directory, pages[0]) == ["bob@contoso.test"]


def test_prefer_return_minimal_returns_only_the_changed_properties(
    directory: Sandbox, dgraph: httpx.Client
) -> None:
    """On a deltaLink, Prefer: return=minimal gives id plus changed selected properties."""
    _, delta_link = follow(dgraph, FIRST)
    directory.set_profile("ann@contoso.test", businessPhones=[], jobTitle="Lead")

    response = dgraph.get(delta_link, headers={"Prefer": "return=minimal"})

    assert response.json()["value"] == [
        {"id": directory.user("ann@contoso.test")["id"], "businessPhones": []}
    ]
    assert response.headers["Preference-Applied"] == "return=minimal"


def test_a_change_made_while_a_round_is_paged_is_reported_again_in_the_next_round(
    directory: Sandbox, dgraph: httpx.Client
) -> None:
    """Delivery is at least once: a user changed mid-round appears in the following round too."""
    first = dgraph.get(FIRST).json()
    directory.set_profile("ann@contoso.test", mobilePhone="+31 6 00000000")
    _, delta_link = follow(dgraph, first["@odata.nextLink"])

    pages, _ = follow(dgraph, delta_link)

    assert _upns(directory, pages[0]) == ["ann@contoso.test"]


def test_top_sets_the_page_size_for_the_whole_round(dgraph: httpx.Client) -> None:
    """$top on the first call is kept in the nextLink's token."""
    pages, _ = follow(dgraph, f"{FIRST}&$top=4")

    assert [len(page) for page in pages] == [4, 1]


def test_an_expired_delta_link_is_410_gone_with_a_location_to_resync_from(
    directory: Sandbox, dgraph: httpx.Client
) -> None:
    """After /_sandbox/delta/expire the deltaLink is 410; Location is a fresh full round with the same $select."""
    _, delta_link = follow(dgraph, FIRST)
    httpx.post(f"{directory.url}/_sandbox/delta/expire", verify=directory.ssl_context())

    response = dgraph.get(delta_link)
    pages, _ = follow(dgraph, response.headers["Location"])

    assert response.status_code == 410
    assert response.headers["Location"] == f"{directory.url}/v1.0/users/delta?$select={SELECT}"
    assert sum(len(page) for page in pages) == 5


def test_an_expired_next_link_is_sync_state_not_found_when_so_configured(
    directory: Sandbox, dgraph: httpx.Client
) -> None:
    """With delta_expiry="syncStateNotFound", an expired token is 400 syncStateNotFound."""
    next_link = dgraph.get(FIRST).json()["@odata.nextLink"]
    directory.configure(delta_expiry="syncStateNotFound")
    directory.expire_delta_tokens()

    response = dgraph.get(next_link)

    assert (response.status_code, error_code(response)) == (400, "syncStateNotFound")
    assert dgraph.get(FIRST).status_code == 200


def test_a_malformed_delta_token_is_a_bad_request(dgraph: httpx.Client) -> None:
    """A token the sandbox did not issue is 400."""
    assert dgraph.get("/users/delta?$deltatoken=nonsense").status_code == 400


def test_delta_needs_a_user_read_role(directory: Sandbox) -> None:
    """An app with only GroupMember.Read.All gets 403 Authorization_RequestDenied."""
    with client_for(directory, NOBODY) as client:
        response = client.get(FIRST)

    assert (response.status_code, error_code(response)) == (403, "Authorization_RequestDenied")


@pytest.mark.parametrize(("url", "units"), [("/users/delta", "2"), (FIRST, "1")])
def test_delta_pages_are_counted_as_user_reads(
    directory: Sandbox, dgraph: httpx.Client, url: str, units: str
) -> None:
    """Each page is one read named GET users/delta costing 2 RU (1 with $select)."""
    response = dgraph.get(url)
    follow(dgraph, url)

    assert response.headers["x-ms-resource-unit"] == units
    assert directory.stats()["by_operation"] == {"GET users/delta": 4}
    assert directory.stats()["reads"] == 4
