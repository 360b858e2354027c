"""GET /users/{id|upn}/transitiveMemberOf: groups (nested too) and directory roles, typed, paged,
with limited information for roles the caller may not read; role seeds and helpers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.sandbox import Sandbox
from tests.sandbox.directory_roles import BUILT_IN_ROLES
from tests.sandbox_tests.conftest import NESTED, SYNC_SCOPE, client_for, directory_seed, error_code, follow

GROUP = "#microsoft.graph.group"
ROLE = "#microsoft.graph.directoryRole"
GLOBAL_ADMIN = BUILT_IN_ROLES["Global Administrator"]
ROLE_READER = ["User.Read.All", "GroupMember.Read.All", "RoleManagement.Read.Directory"]


@pytest.fixture(name="reader")
def _reader(directory: Sandbox) -> Iterator[httpx.Client]:
    """A client for an app that reads users, groups and directory roles."""
    app = directory.add_app({"displayName": "role reader", "clientSecret": "s", "roles": ROLE_READER})
    with client_for(directory, app) as client:
        yield client


def _items(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    pages, _ = follow(client, url)
    return [item for page in pages for item in page]


def test_a_role_member_sees_its_groups_and_role(directory: Sandbox, reader: httpx.Client) -> None:
    """dave is in Nested, which is in the scope group, and holds Global Administrator: three objects,
    the role with id, displayName and roleTemplateId; pages of two with a nextLink."""
    role = directory.add_role_member("global administrator", "dave@contoso.test")

    items = _items(reader, "/users/dave@contoso.test/transitiveMemberOf")

    assert [(i["@odata.type"], i["id"]) for i in items] == [
        (GROUP, NESTED),
        (GROUP, SYNC_SCOPE),
        (ROLE, role["id"]),
    ]
    assert items[2] == {"@odata.type": ROLE, "id": role["id"], "displayName": "Global Administrator",
                        "description": None, "roleTemplateId": GLOBAL_ADMIN}  # fmt: skip
    first = reader.get("/users/dave@contoso.test/transitiveMemberOf").json()
    assert first["@odata.nextLink"].startswith(f"{directory.url}/v1.0/users/")
    assert first["@odata.context"].endswith("$metadata#directoryObjects")


def test_a_role_held_by_a_group_reaches_its_members(directory: Sandbox, reader: httpx.Client) -> None:
    """A role assigned to a group is listed for the group's (nested) members."""
    directory.add_role_member(BUILT_IN_ROLES["User Administrator"], NESTED)

    roles = _items(reader, "/users/ann@contoso.test/transitiveMemberOf/microsoft.graph.directoryRole")

    assert [(r["@odata.type"], r["displayName"]) for r in roles] == [(ROLE, "User Administrator")]


def test_the_group_cast_lists_groups_only(directory: Sandbox, reader: httpx.Client) -> None:
    """/microsoft.graph.group leaves the roles out; $select picks properties."""
    directory.add_role_member("Global Administrator", "ann@contoso.test")

    groups = _items(
        reader, "/users/ann@contoso.test/transitiveMemberOf/microsoft.graph.group?$select=id,displayName"
    )

    assert groups == [{"@odata.type": GROUP, "id": SYNC_SCOPE, "displayName": "Phone sync scope"},
                      {"@odata.type": GROUP, "id": NESTED, "displayName": "Nested"}]  # fmt: skip


def test_without_a_role_read_permission_roles_come_with_limited_information(
    directory: Sandbox, dgraph: httpx.Client
) -> None:
    """An app with User.Read.All and GroupMember.Read.All but no RoleManagement/Directory read sees the
    role's type and id only, every other property null."""
    role = directory.add_role_member("Global Administrator", "eve@contoso.test")

    items = _items(dgraph, "/users/eve@contoso.test/transitiveMemberOf")

    assert items == [{"@odata.type": ROLE, "id": role["id"], "displayName": None, "description": None,
                      "roleTemplateId": None}]  # fmt: skip


def test_listing_memberships_needs_a_user_or_group_read_role(directory: Sandbox) -> None:
    """An app that only manages authentication methods gets 403; an unknown user is 404."""
    app = directory.add_app({"displayName": "methods only", "clientSecret": "s",
                             "roles": ["UserAuthenticationMethod.ReadWrite.All"]})  # fmt: skip
    with client_for(directory, app) as client:
        denied = client.get("/users/ann@contoso.test/transitiveMemberOf")
    with client_for(directory) as client:
        missing = client.get("/users/ghost@contoso.test/transitiveMemberOf")

    assert (denied.status_code, error_code(denied)) == (403, "Authorization_RequestDenied")
    assert missing.status_code == 404


def test_remove_role_member_takes_the_role_away(directory: Sandbox, reader: httpx.Client) -> None:
    """After remove_role_member the user holds no role."""
    directory.add_role_member("Global Administrator", "carla@contoso.test")
    directory.remove_role_member(GLOBAL_ADMIN, "carla@contoso.test")

    assert _items(reader, "/users/carla@contoso.test/transitiveMemberOf/microsoft.graph.directoryRole") == []


def test_roles_can_be_seeded(state_dir: Path) -> None:
    """A seed's directoryRoles (by display name or template id) hold members from the start; an unknown
    role name is a ValueError."""
    seed = {
        **directory_seed(),
        "directoryRoles": [{"roleTemplateId": GLOBAL_ADMIN, "members": ["bob@contoso.test"]}],
    }
    with Sandbox.start(seed=seed, state_dir=state_dir) as sb:
        app = sb.add_app({"displayName": "r", "clientSecret": "s", "roles": ROLE_READER})
        with client_for(sb, app) as client:
            roles = client.get(
                "/users/bob@contoso.test/transitiveMemberOf/microsoft.graph.directoryRole"
            ).json()

    assert [r["roleTemplateId"] for r in roles["value"]] == [GLOBAL_ADMIN]
    bad = {**directory_seed(), "directoryRoles": [{"displayName": "Chief Wizard"}]}
    with pytest.raises(ValueError, match="Chief Wizard"):
        Sandbox.start(seed=bad, state_dir=state_dir)
