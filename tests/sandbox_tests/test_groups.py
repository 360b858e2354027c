"""Groups: GET /groups/{id}, members and transitiveMembers (typed, selected, paged), permissions."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.sandbox import Sandbox
from tests.sandbox_tests.conftest import (
    NESTED,
    NOBODY,
    READER,
    SYNC_SCOPE,
    client_for,
    directory_seed,
    error_code,
    follow,
)

USER = "#microsoft.graph.user"
GROUP = "#microsoft.graph.group"


def _members(pages: list[list[dict[str, Any]]]) -> list[tuple[str, str | None]]:
    return [(item["@odata.type"], item.get("userPrincipalName") or item.get("displayName"))
            for page in pages for item in page]  # fmt: skip


def test_group_members_are_paged_with_top_and_next_link(directory: Sandbox, dgraph: httpx.Client) -> None:
    """Four direct members in pages of two; the nextLink keeps $select."""
    first = dgraph.get(f"/groups/{SYNC_SCOPE}/members", params={"$select": "id,displayName"}).json()

    pages, _ = follow(dgraph, f"/groups/{SYNC_SCOPE}/members?$select=id,userPrincipalName,mobilePhone")

    assert [len(page) for page in pages] == [2, 2]
    assert first["@odata.nextLink"].startswith(
        f"{directory.url}/v1.0/groups/{SYNC_SCOPE}/members?$select=id,displayName&$skiptoken="
    )
    assert pages[0][0] == {"@odata.type": USER, "id": directory.user("ann@contoso.test")["id"],
                           "userPrincipalName": "ann@contoso.test", "mobilePhone": "+31 6 12345678"}  # fmt: skip


def test_members_are_typed_users_and_nested_groups(dgraph: httpx.Client) -> None:
    """Direct members include the nested group as #microsoft.graph.group."""
    pages, _ = follow(dgraph, f"/groups/{SYNC_SCOPE}/members?$top=10")

    assert _members(pages) == [(USER, "ann@contoso.test"), (USER, "bob@contoso.test"),
                               (USER, "carla@contoso.test"), (GROUP, "Nested")]  # fmt: skip


def test_transitive_members_expand_nested_groups_once_each(dgraph: httpx.Client) -> None:
    """transitiveMembers adds the nested group's users, without repeating one already listed."""
    pages, _ = follow(dgraph, f"/groups/{SYNC_SCOPE}/transitiveMembers?$top=10")

    assert _members(pages) == [(USER, "ann@contoso.test"), (USER, "bob@contoso.test"),
                               (USER, "carla@contoso.test"), (GROUP, "Nested"), (USER, "dave@contoso.test")]  # fmt: skip


def test_the_user_cast_lists_only_users(dgraph: httpx.Client) -> None:
    """/transitiveMembers/microsoft.graph.user leaves groups out."""
    pages, _ = follow(dgraph, f"/groups/{SYNC_SCOPE}/transitiveMembers/microsoft.graph.user?$top=10")

    assert {kind for kind, _ in _members(pages)} == {USER}
    assert len(_members(pages)) == 4


def test_a_group_is_read_by_id_and_an_unknown_one_is_not_found(dgraph: httpx.Client) -> None:
    """GET /groups/{id} gives its properties; an unknown id is 404 Request_ResourceNotFound."""
    group = dgraph.get(f"/groups/{NESTED}").json()
    missing = dgraph.get("/groups/00000000-0000-0000-0000-000000000000/members")

    assert (group["id"], group["displayName"], group["securityEnabled"]) == (NESTED, "Nested", True)
    assert (missing.status_code, error_code(missing)) == (404, "Request_ResourceNotFound")


def test_listing_members_needs_a_group_read_role(directory: Sandbox) -> None:
    """User.Read.All alone is 403 on /members."""
    with client_for(directory, READER) as client:
        response = client.get(f"/groups/{SYNC_SCOPE}/members")

    assert (response.status_code, error_code(response)) == (403, "Authorization_RequestDenied")


def test_without_a_user_read_role_members_come_with_limited_information(directory: Sandbox) -> None:
    """GroupMember.Read.All alone returns users with @odata.type and id, other properties null."""
    with client_for(directory, NOBODY) as client:
        body = client.get(f"/groups/{NESTED}/members", params={"$select": "id,mobilePhone"}).json()

    assert body["value"][0] == {"@odata.type": USER, "id": directory.user("dave@contoso.test")["id"],
                                "mobilePhone": None}  # fmt: skip


def test_add_member_and_remove_member_change_the_listing(directory: Sandbox, dgraph: httpx.Client) -> None:
    """sb.add_member and sb.remove_member take UPNs or ids."""
    directory.add_member(NESTED, "eve@contoso.test")
    directory.remove_member(NESTED, directory.user("ann@contoso.test")["id"])

    pages, _ = follow(dgraph, f"/groups/{NESTED}/members?$select=userPrincipalName")

    assert [item["userPrincipalName"] for page in pages for item in page] == [
        "dave@contoso.test", "eve@contoso.test"
    ]  # fmt: skip


def test_a_seed_group_with_an_unknown_member_is_rejected(state_dir) -> None:
    """Members must name seeded users or groups."""
    seed = directory_seed()
    seed["groups"][1]["members"].append("ghost@contoso.test")

    with pytest.raises(ValueError, match="ghost"):
        Sandbox.start(seed=seed, state_dir=state_dir)
