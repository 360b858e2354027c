"""Graph operation handlers: one function per endpoint, each run under the tenant lock."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.sandbox import paging, phones, rules
from tests.sandbox.errors import GraphFailure, bad_request, item_not_found
from tests.sandbox.messages import Reply, json_reply, no_content
from tests.sandbox.tenant import Tenant
from tests.sandbox.users import (
    EMAIL_ID,
    PHONE_TYPES,
    User,
    all_methods_json,
    email_json,
    phone_json,
    sign_in_preferences_json,
    user_json,
)  # fmt: skip


@dataclass(frozen=True)
class Call:
    """A routed Graph call: user reference, method id, parsed body and query, and context URL root."""

    tenant: Tenant
    user: str
    method_id: str
    body: Any
    query: dict[str, str]
    metadata: str  # e.g. https://127.0.0.1:8443/v1.0/$metadata
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names
    roles: frozenset[str] = frozenset()  # the caller's app roles
    group: str = ""
    page_size: int = 100  # default page size of collections (SandboxConfig.page_size)
    delta_expiry: str = "410"  # how an expired delta token is answered (SandboxConfig.delta_expiry)
    default_phone_delete: str = "refuse"  # SandboxConfig.default_phone_delete

    @property
    def root(self) -> str:
        """The versioned Graph root, e.g. ``https://127.0.0.1:8443/v1.0``."""
        return self.metadata.removesuffix("/$metadata")

    def context(self, suffix: str) -> str:
        """An ``@odata.context`` value below the call's user."""
        return f"{self.metadata}#users('{self.user}')/{suffix}"

    def select(self) -> list[str] | None:
        """The ``$select`` property names, if any."""
        raw = paging.param(self.query, "$select")
        return [name.strip() for name in raw.split(",") if name.strip()] if raw else None


def _collection(context: str, items: list[dict[str, Any]]) -> Reply:
    return json_reply(200, {"@odata.context": context, "value": items})


def _entity(context: str, item: dict[str, Any], status: int = 200) -> Reply:
    return json_reply(status, {"@odata.context": context, **item})


def list_phones(call: Call, user: User) -> Reply:
    items = [phone_json(user, kind) for kind in PHONE_TYPES if kind in user.phones]
    return _collection(call.context("authentication/phoneMethods"), items)


def get_phone(call: Call, user: User) -> Reply:
    kind = phones.registered_type(user, call.method_id)
    return _entity(call.context("authentication/phoneMethods/$entity"), phone_json(user, kind))


def add_phone(call: Call, user: User) -> Reply:
    created = phones.add_phone(call.tenant, user, call.body)
    return _entity(call.context("authentication/phoneMethods/$entity"), created, 201)


def update_phone(call: Call, user: User) -> Reply:
    phones.update_phone(call.tenant, user, call.method_id, call.body)
    return no_content()


def delete_phone(call: Call, user: User) -> Reply:
    phones.delete_phone(call.tenant, user, call.method_id, default_delete=call.default_phone_delete)
    return no_content()


def enable_sms(call: Call, user: User) -> Reply:
    phones.sms_sign_in(call.tenant, user, call.method_id, enable=True)
    return no_content()


def disable_sms(call: Call, user: User) -> Reply:
    phones.sms_sign_in(call.tenant, user, call.method_id, enable=False)
    return no_content()


def list_methods(call: Call, user: User) -> Reply:
    version = "beta" if call.metadata.endswith("/beta/$metadata") else "v1.0"
    return _collection(call.context("authentication/methods"), all_methods_json(user, version))


def _email_registered(user: User, method_id: str) -> None:
    if method_id.lower() != EMAIL_ID or user.email is None:
        raise item_not_found(method_id)


def list_email(call: Call, user: User) -> Reply:
    items = [email_json(user)] if user.email is not None else []
    return _collection(call.context("authentication/emailMethods"), items)


def get_email(call: Call, user: User) -> Reply:
    _email_registered(user, call.method_id)
    return _entity(call.context("authentication/emailMethods/$entity"), email_json(user))


def add_email(call: Call, user: User) -> Reply:
    address = rules.check_add_email(user, rules.body_object(call.body))
    user.email = address
    call.tenant.record(user, "email", "add", None, address)
    return _entity(call.context("authentication/emailMethods/$entity"), email_json(user), 201)


def update_email(call: Call, user: User) -> Reply:
    _email_registered(user, call.method_id)
    address = rules.email_address(rules.body_object(call.body))
    call.tenant.record(user, "email", "update", user.email, address)
    user.email = address
    return no_content()


def delete_email(call: Call, user: User) -> Reply:
    _email_registered(user, call.method_id)
    call.tenant.record(user, "email", "delete", user.email, None)
    user.email = None
    return no_content()


def get_preferences(call: Call, user: User) -> Reply:
    return _entity(call.context("authentication/signInPreferences/$entity"), sign_in_preferences_json(user))


def patch_preferences(call: Call, user: User) -> Reply:
    phones.set_preferences(call.tenant, user, call.body)
    return no_content()


def get_user(call: Call, user: User) -> Reply:
    select = call.select()
    suffix = f"users({','.join(select)})/$entity" if select else "users/$entity"
    return json_reply(200, {"@odata.context": f"{call.metadata}#{suffix}", **user_json(user, select)})


_FILTER = re.compile(r"^\s*(userPrincipalName|id|mail)\s+(eq|in)\s+(.+?)\s*$", re.IGNORECASE)


def list_users(call: Call) -> Reply:
    """GET /users with an optional ``$filter`` of ``eq`` / ``in`` on userPrincipalName, id or mail, paged
    by ``$top`` (default ``page_size``) with an ``@odata.nextLink`` carrying an opaque ``$skiptoken``."""
    wanted = _filter_values(paging.param(call.query, "$filter"))
    top = paging.page_size(call.query, call.headers, call.page_size)
    after = _skip_after(call)
    users = [u for u in call.tenant.users() if u.seq > after and (wanted is None or _matches(u, wanted))]
    body: dict[str, Any] = {
        "@odata.context": f"{call.metadata}#users",
        "value": [user_json(u, call.select()) for u in users[:top]],
    }
    if len(users) > top:
        query = {k: v for k, v in call.query.items() if k.lower() != "$skiptoken"}
        query["$skiptoken"] = paging.encode({"after": users[top - 1].seq})
        body["@odata.nextLink"] = paging.link(call.root, "users", query)
    return json_reply(200, body)


def _skip_after(call: Call) -> int:
    raw = paging.param(call.query, "$skiptoken")
    if raw is None:
        return 0
    state = paging.decode(raw)
    if state is None or not isinstance(state.get("after"), int):
        raise GraphFailure(
            400, "Request_BadRequest", "The specified page token value has expired or is invalid."
        )
    return int(state["after"])


def _filter_values(raw: str | None) -> tuple[str, set[str]] | None:
    if raw is None:
        return None
    match = _FILTER.match(raw)
    if match is None:
        raise GraphFailure(
            400, "Request_UnsupportedQuery", f"Unsupported or invalid query filter clause: {raw}"
        )
    values = {v.lower() for v in re.findall(r"'((?:[^']|'')*)'", match.group(3))}
    if match.group(2).lower() == "in" and len(values) > 15:
        raise GraphFailure(400, "Request_UnsupportedQuery", "Too many values in the 'in' clause (max 15).")
    return match.group(1).lower(), {v.replace("''", "'") for v in values}


def _matches(user: User, wanted: tuple[str, set[str]]) -> bool:
    prop, values = wanted
    value = {"userprincipalname": user.upn, "id": user.id, "mail": user.profile.get("mail") or ""}[prop]
    return value.lower() in values


def create_user(call: Call) -> Reply:
    """POST /users: 201 with the new user; the UPN must be unique."""
    body = rules.body_object(call.body)
    upn, name = body.get("userPrincipalName"), body.get("displayName")
    if not isinstance(upn, str) or "@" not in upn or not isinstance(name, str):
        raise GraphFailure(400, "Request_BadRequest", "Invalid value specified for property 'userPrincipalName' "
                           "or 'displayName'.")  # fmt: skip
    if call.tenant.has_upn(upn):
        raise GraphFailure(
            400,
            "Request_BadRequest",
            "Another object with the same value for property userPrincipalName already exists.",
        )
    if isinstance(body.get("mobilePhone"), str) and len(body["mobilePhone"]) > 64:
        msg = "Invalid value specified for property 'mobilePhone' of resource 'User'."
        raise bad_request(msg)
    profile = {k: v for k, v in body.items() if k not in ("passwordProfile", "userPrincipalName", "id")}
    profile.setdefault("createdDateTime", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    user = User(id=str(uuid.uuid4()), upn=upn, profile=profile)
    call.tenant.add(user)
    return json_reply(201, {"@odata.context": f"{call.metadata}#users/$entity", **user_json(user, None)})
