"""Group reads: ``GET /groups/{id}``, ``/members`` and ``/transitiveMembers`` (with the user cast), paged.

Members are ``directoryObject``s: users as ``#microsoft.graph.user``, nested groups as
``#microsoft.graph.group``. A caller without a role that reads users (``User.Read.All``,
``User.ReadBasic.All`` for the basic properties, ``Directory.Read.All``) gets user members with limited
information: ``@odata.type`` and ``id`` only, every other property null, as Graph documents for
inaccessible member objects.
"""

from __future__ import annotations

from typing import Any

from tests.sandbox import paging
from tests.sandbox.errors import GraphFailure
from tests.sandbox.messages import Reply, json_reply
from tests.sandbox.operations import Call
from tests.sandbox.permissions import USER_READ, USER_READ_BASIC
from tests.sandbox.tenant import Group, Tenant
from tests.sandbox.users import DEFAULT_USER_PROPERTIES, User, user_json

USER_TYPE = "#microsoft.graph.user"
GROUP_TYPE = "#microsoft.graph.group"
BASIC_USER_PROPERTIES = frozenset({"id", "displayName", "givenName", "surname", "mail", "userPrincipalName"})
DEFAULT_GROUP_PROPERTIES: tuple[str, ...] = (
    "id",
    "displayName",
    "description",
    "mailNickname",
    "securityEnabled",
)


def get_group(call: Call) -> Reply:
    """GET /groups/{id} with ``$select``."""
    group = call.tenant.find_group(call.group)
    return json_reply(
        200, {"@odata.context": f"{call.metadata}#groups/$entity", **group_json(group, call.select())}
    )


def list_members(call: Call) -> Reply:
    """GET /groups/{id}/members: direct members, users and groups."""
    return _members(call, "members", transitive=False, users_only=False)


def list_user_members(call: Call) -> Reply:
    """GET /groups/{id}/members/microsoft.graph.user: direct user members only."""
    return _members(call, "members/microsoft.graph.user", transitive=False, users_only=True)


def list_transitive_members(call: Call) -> Reply:
    """GET /groups/{id}/transitiveMembers: members of nested groups too (each object once)."""
    return _members(call, "transitiveMembers", transitive=True, users_only=False)


def list_transitive_user_members(call: Call) -> Reply:
    """GET /groups/{id}/transitiveMembers/microsoft.graph.user."""
    return _members(call, "transitiveMembers/microsoft.graph.user", transitive=True, users_only=True)


def member_ids(tenant: Tenant, group: Group, *, transitive: bool) -> list[str]:
    """Member object ids in order; transitive expands nested groups depth-first, each id once."""
    out: list[str] = []
    seen = {group.id.lower()}
    pending = list(group.members)
    while pending:
        member = pending.pop(0)
        if member in seen:
            continue
        seen.add(member)
        out.append(member)
        nested = tenant.groups.get(member)
        if transitive and nested is not None:
            pending[:0] = nested.members
    return out


def _members(call: Call, segment: str, *, transitive: bool, users_only: bool) -> Reply:
    tenant = call.tenant
    group = tenant.find_group(call.group)
    ids = member_ids(tenant, group, transitive=transitive)
    if users_only:
        ids = [member for member in ids if member not in tenant.groups]
    top = paging.page_size(call.query, call.headers, call.page_size)
    offset = page_offset(call)
    page = ids[offset : offset + top]
    items = [_member_json(call, member) for member in page]
    cast = ".user" if users_only else ""
    body: dict[str, Any] = {"@odata.context": f"{call.metadata}#directoryObjects{cast}", "value": items}
    if offset + top < len(ids):
        query = {k: v for k, v in call.query.items() if k.lower() != "$skiptoken"}
        query["$skiptoken"] = paging.encode({"offset": offset + top})
        body["@odata.nextLink"] = paging.link(call.root, f"groups/{group.id}/{segment}", query)
    return json_reply(200, body)


def page_offset(call: Call) -> int:
    """The offset in a ``$skiptoken`` of ``paging.encode({"offset": n})`` (0 without one); 400 if bad."""
    raw = paging.param(call.query, "$skiptoken")
    if raw is None:
        return 0
    state = paging.decode(raw) or {}
    if not isinstance(state.get("offset"), int):
        raise GraphFailure(
            400, "Request_BadRequest", "The specified page token value has expired or is invalid."
        )
    return int(state["offset"])


def _member_json(call: Call, member: str) -> dict[str, Any]:
    group = call.tenant.groups.get(member)
    if group is not None:
        # A $select naming user properties (userPrincipalName) selects nothing of a group member: Graph's
        # group type has no such property (msgraph-sdk's Group model), so only the ones a group has
        select = call.select()
        known = {*DEFAULT_GROUP_PROPERTIES, *group.profile, "id"}
        mine = None if select is None else [name for name in select if name in known] or ["id"]
        return {"@odata.type": GROUP_TYPE, **group_json(group, mine)}
    user = call.tenant.find(member)
    return {"@odata.type": USER_TYPE, **_user_member_json(user, call.select(), call.roles)}


def _user_member_json(user: User, select: list[str] | None, roles: frozenset[str]) -> dict[str, Any]:
    full = user_json(user, select or list(DEFAULT_USER_PROPERTIES))
    if roles & USER_READ:
        return full
    readable = BASIC_USER_PROPERTIES if roles & USER_READ_BASIC else frozenset({"id"})
    return {name: value if name in readable else None for name, value in full.items()}


def group_json(group: Group, select: list[str] | None) -> dict[str, Any]:
    """A group's default (or ``$select``-ed) properties."""
    values = {**group.profile, "id": group.id}
    return {name: values.get(name) for name in select or DEFAULT_GROUP_PROPERTIES}
