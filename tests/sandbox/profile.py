"""Profile writes on a user: ``PATCH /users/{id|upn}`` (phones and a few other properties) and
``DELETE /users/{id}``. Each change bumps the tenant's change counter, so delta queries see it."""

from __future__ import annotations

from typing import Any

from tests.sandbox import rules
from tests.sandbox.errors import GraphFailure
from tests.sandbox.messages import Reply, no_content
from tests.sandbox.operations import Call
from tests.sandbox.permissions import USER_WRITE
from tests.sandbox.users import User

PROFILE_PHONES = frozenset({"mobilePhone", "businessPhones"})
# The writable subset the sandbox models; everything else in a body is refused as Graph refuses
# read-only or unknown properties. usageLocation is cloud-only, so writable on synced users too.
WRITABLE = PROFILE_PHONES | {"displayName", "givenName", "surname", "jobTitle", "department",
                             "officeLocation", "usageLocation"}  # fmt: skip
CLOUD_ONLY = frozenset({"usageLocation"})
MAX_PHONE_LENGTH = 64  # user resource: mobilePhone "Maximum length is 64 characters" (graph-api.md 8)
SYNCED_MESSAGE = (
    "Unable to update the specified properties for on-premises mastered Directory Sync objects or objects "
    "currently undergoing migration."
)
DENIED = "Insufficient privileges to complete the operation."


def update_user(call: Call, user: User) -> Reply:
    """PATCH /users/{id|upn}: 204. Phones need ``User-Phone.ReadWrite.All`` or more, the other
    properties ``User.ReadWrite.All``; on-premises synced users refuse on-premises mastered properties."""
    body = {k: v for k, v in rules.body_object(call.body).items() if not k.startswith("@odata.")}
    for name in body:
        if name not in WRITABLE:
            raise GraphFailure(
                400, "Request_BadRequest", f"Property '{name}' is read-only or not supported by the sandbox."
            )
    if set(body) - PROFILE_PHONES and not call.roles & USER_WRITE:
        raise GraphFailure(403, "Authorization_RequestDenied", DENIED)
    values = {name: _checked(name, value) for name, value in body.items()}
    if user.profile.get("onPremisesSyncEnabled") and set(values) - CLOUD_ONLY:
        raise GraphFailure(400, "Request_BadRequest", SYNCED_MESSAGE)
    call.tenant.change(user, values)
    return no_content()


def delete_user(call: Call, user: User) -> Reply:
    """DELETE /users/{id}: 204; the user is soft-deleted (``@removed`` reason ``changed`` in delta)."""
    call.tenant.remove(user)
    return no_content()


def _checked(name: str, value: Any) -> Any:
    """The value to store, or 400 in Graph's wording for an invalid property value."""
    invalid = GraphFailure(
        400, "Request_BadRequest", f"Invalid value specified for property '{name}' of resource 'User'."
    )
    if name == "businessPhones":
        # A string collection, but only one number can be set (user resource, graph-api.md 8).
        if not isinstance(value, list) or len(value) > 1:
            raise invalid
        for number in value:
            if not isinstance(number, str) or len(number) > MAX_PHONE_LENGTH:
                raise invalid
        return list(value)
    if value is not None and not isinstance(value, str):
        raise invalid
    if name == "mobilePhone" and value is not None and len(value) > MAX_PHONE_LENGTH:
        raise invalid
    if name == "displayName" and not value:
        raise invalid
    return value
