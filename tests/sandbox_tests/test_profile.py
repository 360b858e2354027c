"""Profile writes (PATCH/DELETE /users/{id}), synced users, the Python directory API and /users paging."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox import Sandbox
from tests.sandbox_tests.conftest import PHONE_ONLY, READER, SYNC_SCOPE, client_for, error_code, follow

SYNCED = (
    "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects "
    "currently undergoing migration."
)


def test_patching_profile_phones_answers_204_and_changes_the_profile(
    directory: Sandbox, dgraph: httpx.Client
) -> None:
    """mobilePhone and businessPhones are free-form strings; GET shows the new values."""
    response = dgraph.patch(
        "/users/carla@contoso.test",
        json={"mobilePhone": "06 1234 5678", "businessPhones": ["(020) 555 0100"]},
    )

    assert response.status_code == 204
    body = dgraph.get("/users/carla@contoso.test", params={"$select": "mobilePhone,businessPhones"}).json()
    assert (body["mobilePhone"], body["businessPhones"]) == ("06 1234 5678", ["(020) 555 0100"])


def test_a_synced_user_refuses_profile_phone_writes_with_graphs_message(dgraph: httpx.Client) -> None:
    """onPremisesSyncEnabled users answer 400 Request_BadRequest with the directory-sync message."""
    response = dgraph.patch("/users/bob@contoso.test", json={"mobilePhone": "+1 425 555 0000"})

    assert (response.status_code, error_code(response)) == (400, "Request_BadRequest")
    assert response.json()["error"]["message"] == SYNCED


def test_set_profile_changes_a_synced_user_as_directory_sync_would(directory: Sandbox) -> None:
    """The Python API plays AD Connect: it writes synced users and reports what changed."""
    changed = directory.set_profile("bob@contoso.test", mobilePhone="+1 425 555 0000", displayName="bob")

    assert changed == ["mobilePhone"]
    assert directory.user("bob@contoso.test")["mobilePhone"] == "+1 425 555 0000"
    assert directory.user("bob@contoso.test")["onPremisesSyncEnabled"] is True


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"mobilePhone": "1" * 65}, id="mobile-over-64-characters"),
        pytest.param({"businessPhones": ["+1 1", "+1 2"]}, id="two-business-phones"),
        pytest.param({"businessPhones": "+1 1"}, id="business-phones-not-a-list"),
        pytest.param({"mobilePhone": 31612345678}, id="mobile-not-a-string"),
        pytest.param({"userPrincipalName": "x@contoso.test"}, id="unsupported-property"),
    ],
)
def test_invalid_profile_values_are_rejected(dgraph: httpx.Client, body: dict[str, Any]) -> None:
    """Graph's limits on profile phones (64 characters, one business phone) are 400 Request_BadRequest."""
    response = dgraph.patch("/users/carla@contoso.test", json=body)

    assert (response.status_code, error_code(response)) == (400, "Request_BadRequest")


def test_user_phone_readwrite_all_writes_phones_but_not_other_properties(directory: Sandbox) -> None:
    """User-Phone.ReadWrite.All suffices for phones; displayName needs User.ReadWrite.All (403)."""
    with client_for(directory, PHONE_ONLY) as client:
        phones = client.patch("/users/carla@contoso.test", json={"mobilePhone": "+31 6 1"})
        name = client.patch("/users/carla@contoso.test", json={"displayName": "C"})

    assert phones.status_code == 204
    assert (name.status_code, error_code(name)) == (403, "Authorization_RequestDenied")


def test_an_app_without_a_write_role_cannot_patch_or_delete_users(directory: Sandbox) -> None:
    """User.Read.All alone is 403 for PATCH and DELETE."""
    with client_for(directory, READER) as client:
        patch = client.patch("/users/carla@contoso.test", json={"mobilePhone": "+31 6 1"})
        delete = client.delete("/users/carla@contoso.test")

    assert (patch.status_code, delete.status_code) == (403, 403)


def test_deleting_a_user_removes_it_from_lookups_and_groups(directory: Sandbox, dgraph: httpx.Client) -> None:
    """After DELETE the user is 404, gone from /users and from its groups."""
    carla = directory.user("carla@contoso.test")["id"]

    response = dgraph.delete("/users/carla@contoso.test")

    assert response.status_code == 204
    assert dgraph.get(f"/users/{carla}").status_code == 404
    assert carla not in directory.group(SYNC_SCOPE)["members"]
    with pytest.raises(KeyError):
        directory.user("carla@contoso.test")


def test_add_user_takes_the_seed_shape_and_refuses_a_duplicate(directory: Sandbox) -> None:
    """sb.add_user adds a seed-shaped user; the same UPN again is ValueError."""
    added = directory.add_user({"userPrincipalName": "fay@contoso.test", "onPremisesSyncEnabled": True})

    assert added["onPremisesSyncEnabled"] is True
    with pytest.raises(ValueError, match="duplicate"):
        directory.add_user({"userPrincipalName": "FAY@contoso.test"})


def test_listing_users_is_paged_with_top_and_next_link(directory: Sandbox, dgraph: httpx.Client) -> None:
    """GET /users pages by the configured size, or $top, keeping $select in the absolute nextLink."""
    first = dgraph.get("/users", params={"$select": "id,mobilePhone"}).json()

    default_pages, _ = follow(dgraph, "/users?$select=id,mobilePhone")
    top_pages, _ = follow(dgraph, "/users?$top=3")

    assert [len(p) for p in default_pages] == [2, 2, 1]
    assert [len(p) for p in top_pages] == [3, 2]
    assert first["@odata.nextLink"].startswith(
        f"{directory.url}/v1.0/users?$select=id,mobilePhone&$skiptoken="
    )
    assert set(default_pages[0][0]) == {"id", "mobilePhone"}
    assert dgraph.get("/users", params={"$top": "0"}).status_code == 400
