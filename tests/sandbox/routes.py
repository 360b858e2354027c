"""Graph URL routing: version, user reference, endpoint, required app roles and resource-unit cost.

Base costs are the identity-and-access table (graph-api.md 15, throttling-identity-and-access.md):
GET ``users`` 2, ``groups/{id}/members`` 3, ``groups/{id}/transitiveMembers`` 5,
``me/transitiveMemberOf`` 2 (which the docs extend to ``users/{id}/...``), anything else 1.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from tests.sandbox import operations as ops
from tests.sandbox.delta import users_delta
from tests.sandbox.errors import GraphFailure
from tests.sandbox.groups import (
    get_group,
    list_members,
    list_transitive_members,
    list_transitive_user_members,
    list_user_members,
)
from tests.sandbox.memberships import (
    list_transitive_groups,
    list_transitive_member_of,
    list_transitive_roles,
)
from tests.sandbox.messages import Reply
from tests.sandbox.permissions import (
    AUTH_READ,
    AUTH_WRITE,
    EMAIL_READ,
    EMAIL_WRITE,
    GROUP_READ,
    MEMBERSHIP_READ,
    PHONE_READ,
    PHONE_WRITE,
    PROFILE_PHONE_WRITE,
    USER_READ,
    USER_WRITE,
)
from tests.sandbox.profile import delete_user, update_user
from tests.sandbox.users import User

UserHandler = Callable[[ops.Call, User], Reply]
CollectionHandler = Callable[[ops.Call], Reply]
ID = "{id}"


@dataclass(frozen=True)
class Endpoint:
    """One Graph operation: its stats name, allowed roles, handler, whether it is beta-only, and its base
    resource-unit cost before query options."""

    name: str
    roles: frozenset[str]
    handler: UserHandler | CollectionHandler
    on_user: bool = True
    beta_only: bool = False
    cost: int = 1


_A = "authentication"
_TABLE: dict[tuple[str, tuple[str, ...]], Endpoint] = {
    ("GET", ()): Endpoint("GET user", USER_READ, ops.get_user),
    ("PATCH", ()): Endpoint("PATCH user", PROFILE_PHONE_WRITE, update_user),
    ("DELETE", ()): Endpoint("DELETE user", USER_WRITE, delete_user),
    ("GET", (_A, "phoneMethods")): Endpoint("GET phoneMethods", PHONE_READ, ops.list_phones),
    ("POST", (_A, "phoneMethods")): Endpoint("POST phoneMethods", PHONE_WRITE, ops.add_phone),
    ("GET", (_A, "phoneMethods", ID)): Endpoint("GET phoneMethod", PHONE_READ, ops.get_phone),
    ("PATCH", (_A, "phoneMethods", ID)): Endpoint("PATCH phoneMethod", PHONE_WRITE, ops.update_phone),
    ("DELETE", (_A, "phoneMethods", ID)): Endpoint("DELETE phoneMethod", PHONE_WRITE, ops.delete_phone),
    ("POST", (_A, "phoneMethods", ID, "enableSmsSignIn")): Endpoint(
        "POST enableSmsSignIn", PHONE_WRITE, ops.enable_sms
    ),
    ("POST", (_A, "phoneMethods", ID, "disableSmsSignIn")): Endpoint(
        "POST disableSmsSignIn", PHONE_WRITE, ops.disable_sms
    ),
    ("GET", (_A, "methods")): Endpoint("GET methods", AUTH_READ, ops.list_methods),
    ("GET", (_A, "emailMethods")): Endpoint("GET emailMethods", EMAIL_READ, ops.list_email),
    ("POST", (_A, "emailMethods")): Endpoint("POST emailMethods", EMAIL_WRITE, ops.add_email),
    ("GET", (_A, "emailMethods", ID)): Endpoint("GET emailMethod", EMAIL_READ, ops.get_email),
    ("PATCH", (_A, "emailMethods", ID)): Endpoint("PATCH emailMethod", EMAIL_WRITE, ops.update_email),
    ("DELETE", (_A, "emailMethods", ID)): Endpoint("DELETE emailMethod", EMAIL_WRITE, ops.delete_email),
    ("GET", (_A, "signInPreferences")): Endpoint(
        "GET signInPreferences", AUTH_READ, ops.get_preferences, beta_only=True
    ),
    ("PATCH", (_A, "signInPreferences")): Endpoint(
        "PATCH signInPreferences", AUTH_WRITE, ops.patch_preferences, beta_only=True
    ),
    ("GET", ("transitiveMemberOf",)): Endpoint(
        "GET user transitiveMemberOf", MEMBERSHIP_READ, list_transitive_member_of, cost=2
    ),
    ("GET", ("transitiveMemberOf", "microsoft.graph.group")): Endpoint(
        "GET user transitiveMemberOf", MEMBERSHIP_READ, list_transitive_groups, cost=2
    ),
    ("GET", ("transitiveMemberOf", "microsoft.graph.directoryRole")): Endpoint(
        "GET user transitiveMemberOf", MEMBERSHIP_READ, list_transitive_roles, cost=2
    ),
}
_USERS_GET = Endpoint("GET users", USER_READ, ops.list_users, on_user=False, cost=2)
_USERS_POST = Endpoint("POST users", USER_WRITE, ops.create_user, on_user=False)
# users/delta is not in the cost table; charged like GET users (the stricter reading, README).
_USERS_DELTA = Endpoint("GET users/delta", USER_READ, users_delta, on_user=False, cost=2)
_GROUPS: dict[tuple[str, ...], Endpoint] = {
    (): Endpoint("GET group", GROUP_READ, get_group, on_user=False),
    ("members",): Endpoint("GET group members", GROUP_READ, list_members, on_user=False, cost=3),
    ("members", "microsoft.graph.user"): Endpoint(
        "GET group members", GROUP_READ, list_user_members, on_user=False, cost=3
    ),
    ("transitiveMembers",): Endpoint(
        "GET group transitiveMembers", GROUP_READ, list_transitive_members, on_user=False, cost=5
    ),
    ("transitiveMembers", "microsoft.graph.user"): Endpoint(
        "GET group transitiveMembers", GROUP_READ, list_transitive_user_members, on_user=False, cost=5
    ),
}


_CAST_ALIAS = "microsoft.graph."


@dataclass(frozen=True)
class Route:
    """A resolved Graph URL."""

    endpoint: Endpoint
    user: str
    method_id: str
    group: str = ""

    @property
    def is_write(self) -> bool:
        """Whether the operation writes (costs a write in the throttling model)."""
        return not self.endpoint.name.startswith("GET ")


def split_version(path: str) -> tuple[str | None, str]:
    """(``v1.0`` | ``beta`` | None, the rest of the path without leading slash)."""
    trimmed = path.lstrip("/")
    for version in ("v1.0", "beta"):
        if trimmed == version or trimmed.startswith(version + "/"):
            return version, trimmed[len(version) + 1 :]
    return None, trimmed


def resolve(method: str, rest: str, version: str, *, in_batch: bool = False) -> Route:
    """The route for a version-less path (``users/...``); 400/405 as Graph answers when none fits.

    A beta-only endpoint under v1.0 is 400 directly and 405 inside a v1.0 ``$batch`` (graph-api.md 6).
    """
    # Graph's $metadata declares the alias "graph" for the namespace "microsoft.graph" (Schema Alias), and
    # the SDK's cast builders write it (``transitiveMembers/graph.user``): both spellings are one segment.
    segments = [
        _CAST_ALIAS + s[len("graph.") :] if s.startswith("graph.") else s for s in rest.split("/") if s != ""
    ]
    if not segments:
        raise _no_segment(rest)
    head = segments[0]
    if head == "users" and len(segments) == 1:
        endpoint = {"GET": _USERS_GET, "POST": _USERS_POST}.get(method)
        if endpoint is None:
            raise GraphFailure(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed.")
        return Route(endpoint, "", "")
    if head == "users" and len(segments) == 2 and segments[1] in ("delta", "delta()"):
        if method != "GET":
            raise GraphFailure(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed.")
        return Route(_USERS_DELTA, "", "")
    if head == "groups":
        return _group_route(method, segments)
    user, tail = _user_reference(segments)
    return _match(method, user, tail, version, in_batch)


def _group_route(method: str, segments: list[str]) -> Route:
    if len(segments) < 2:
        raise _no_segment("groups")
    endpoint = _GROUPS.get(tuple(segments[2:]))
    if endpoint is None:
        raise _no_segment(segments[-1])
    if method != "GET":
        raise GraphFailure(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed.")
    return Route(endpoint, "", "", group=unquote(segments[1]))


def _user_reference(segments: list[str]) -> tuple[str, list[str]]:
    head = unquote(segments[0])
    if head.startswith("users(") and head.endswith(")"):
        inner = head[len("users(") : -1]
        if len(inner) < 2 or inner[0] != "'" or inner[-1] != "'":
            raise GraphFailure(400, "BadRequest", f"Invalid key syntax in segment '{head}'.")
        return inner[1:-1].replace("''", "'"), segments[1:]
    if head != "users" or len(segments) < 2:
        raise _no_segment(head)
    user = unquote(segments[1])
    if user.startswith("$"):
        raise GraphFailure(
            400, "BadRequest", f"Resource not found for the segment '{user}'. Use /users('{user}') for a UPN "
            "that starts with '$'."
        )  # fmt: skip
    return user, segments[2:]


def _match(method: str, user: str, tail: list[str], version: str, in_batch: bool) -> Route:
    candidates = [(tuple(tail), ""), _with_id(tail)]
    for pattern, method_id in candidates:
        endpoint = _TABLE.get((method, pattern))
        if endpoint is not None:
            if endpoint.beta_only and version != "beta":
                raise _no_segment(tail[-1], status=405 if in_batch else 400)
            return Route(endpoint, user, method_id)
    if any(pattern in (c for c, _ in candidates) for _, pattern in _TABLE):
        raise GraphFailure(405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed.")
    raise _no_segment(tail[-1] if tail else user)


def _with_id(tail: list[str]) -> tuple[tuple[str, ...], str]:
    if len(tail) >= 3:
        return (*tail[:2], ID, *tail[3:]), unquote(tail[2])
    return tuple(tail), ""


def _no_segment(segment: str, status: int = 400) -> GraphFailure:
    return GraphFailure(status, "BadRequest", f"Resource not found for the segment '{segment}'.")
