"""``GET /users/{id|upn}/transitiveMemberOf`` (and its ``microsoft.graph.group`` /
``microsoft.graph.directoryRole`` casts): the groups and directory roles a user belongs to, directly or
through nested groups, as ``directoryObject``s, paged like the other collections.

Limited information (graph-api.md 5; Graph's "inaccessible member objects" rule): a caller without a
role that reads groups gets groups as ``@odata.type`` + ``id`` with every other property null, and one
without a role that reads directory roles (``RoleManagement.Read.Directory``, ``Directory.Read.All``
and their write forms) gets roles that way.
"""

from __future__ import annotations

from typing import Any

from tests.sandbox import paging
from tests.sandbox.groups import GROUP_TYPE, group_json, page_offset
from tests.sandbox.messages import Reply, json_reply
from tests.sandbox.operations import Call
from tests.sandbox.permissions import GROUP_READ, ROLE_READ
from tests.sandbox.tenant import DirectoryRole, Tenant
from tests.sandbox.users import User

ROLE_TYPE = "#microsoft.graph.directoryRole"
DEFAULT_ROLE_PROPERTIES: tuple[str, ...] = ("id", "displayName", "description", "roleTemplateId")


def list_transitive_member_of(call: Call, user: User) -> Reply:
    """Groups (nested ones too) and directory roles of the user, groups first in tenant order."""
    return _member_of(call, user, "transitiveMemberOf", kinds=("group", "role"))


def list_transitive_groups(call: Call, user: User) -> Reply:
    """The ``/microsoft.graph.group`` cast: groups only."""
    return _member_of(call, user, "transitiveMemberOf/microsoft.graph.group", kinds=("group",))


def list_transitive_roles(call: Call, user: User) -> Reply:
    """The ``/microsoft.graph.directoryRole`` cast: directory roles only."""
    return _member_of(call, user, "transitiveMemberOf/microsoft.graph.directoryRole", kinds=("role",))


def holder_ids(tenant: Tenant, member: str) -> tuple[list[str], list[DirectoryRole]]:
    """(group ids, roles) holding ``member`` directly or through nested groups (each once)."""
    groups: list[str] = []
    pending = [member]
    while pending:
        current = pending.pop(0)
        for group in tenant.groups.values():
            key = group.id.lower()
            if current in group.members and key not in groups and key != member:
                groups.append(key)
                pending.append(key)
    holders = {member, *groups}
    roles = [role for role in tenant.roles.values() if holders & set(role.members)]
    return groups, roles


def _member_of(call: Call, user: User, segment: str, *, kinds: tuple[str, ...]) -> Reply:
    groups, roles = holder_ids(call.tenant, user.id.lower())
    items: list[dict[str, Any]] = []
    if "group" in kinds:
        items += [_group_item(call, group_id) for group_id in groups]
    if "role" in kinds:
        items += [_role_item(call, role) for role in roles]
    top = paging.page_size(call.query, call.headers, call.page_size)
    offset = page_offset(call)
    cast = {"group": ".group", "role": ".directoryRole"}[kinds[0]] if len(kinds) == 1 else ""
    body: dict[str, Any] = {
        "@odata.context": f"{call.metadata}#directoryObjects{cast}",
        "value": items[offset : offset + top],
    }
    if offset + top < len(items):
        query = {k: v for k, v in call.query.items() if k.lower() != "$skiptoken"}
        query["$skiptoken"] = paging.encode({"offset": offset + top})
        body["@odata.nextLink"] = paging.link(call.root, f"users/{user.id}/{segment}", query)
    return json_reply(200, body)


def _group_item(call: Call, group_id: str) -> dict[str, Any]:
    full = group_json(call.tenant.groups[group_id], call.select())
    readable = bool(call.roles & GROUP_READ)
    return {"@odata.type": GROUP_TYPE, **_limited(full, readable)}


def _role_item(call: Call, role: DirectoryRole) -> dict[str, Any]:
    values = {"id": role.id, "displayName": role.display_name, "description": role.description or None,
              "roleTemplateId": role.role_template_id}  # fmt: skip
    full = {name: values.get(name) for name in call.select() or DEFAULT_ROLE_PROPERTIES}
    return {"@odata.type": ROLE_TYPE, **_limited(full, bool(call.roles & ROLE_READ))}


def _limited(full: dict[str, Any], readable: bool) -> dict[str, Any]:
    return full if readable else {name: value if name == "id" else None for name, value in full.items()}
