"""Seed files: the tenant id, app registrations (roles per resource, credentials), users and groups.

See tests/sandbox/README.md for the format. Invalid seeds raise ``ValueError`` naming the problem.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.sandbox import directory_roles
from tests.sandbox.entra import GRAPH_APP_ID
from tests.sandbox.errors import GraphFailure
from tests.sandbox.rules import EMAIL_ADDRESS, PHONE_NUMBER
from tests.sandbox.tenant import GRAPH, App, Group, Tenant
from tests.sandbox.users import DEFAULT_METHODS, DEFAULT_PHONE, FIRST_PHONE_DEFAULT, PHONE_TYPES, User

DEFAULT_ROLES: tuple[str, ...] = (
    "UserAuthenticationMethod.ReadWrite.All", "User.Read.All", "GroupMember.Read.All", "User.ReadWrite.All",
)  # fmt: skip
_GRAPH_KEYS = {"graph", "https://graph", "https://graph.microsoft.com", GRAPH_APP_ID}
_USER_KEYS = {"id", "userPrincipalName", "phoneMethods", "email", "defaultMethod", "otherMethods",
              "smsSignInState", "inSmsSignInPolicy", "isSystemPreferredAuthenticationMethodEnabled"}  # fmt: skip


def load(seed: dict[str, Any] | Path | str | None) -> tuple[dict[str, Any], Path | None]:
    """The seed as a dict, and the directory relative paths in it resolve against."""
    if seed is None:
        return {}, None
    if isinstance(seed, dict):
        return seed, None
    path = Path(seed)
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        msg = f"{path}: the seed must be a JSON object"
        raise TypeError(msg)
    return data, path.parent


def build(seed: dict[str, Any], base_dir: Path | None, client_cert_pem: bytes) -> tuple[Tenant, str]:
    """The tenant described by ``seed`` and the client id of the app the env file names."""
    tenant = Tenant(
        str(seed.get("tenantId") or uuid.uuid4()),
        bool(seed.get("smsSignInAutoRegister", False)),
        sms_sign_in_configured=bool(seed.get("smsSignInConfigured", True)),
    )
    apps = seed.get("apps") or [{"displayName": "Sandbox provisioning app", "roles": list(DEFAULT_ROLES)}]
    default_id = ""
    for raw in apps:
        app = _app(raw, base_dir, client_cert_pem)
        tenant.apps[app.client_id.lower()] = app
        if not default_id and app.certificate_pem == client_cert_pem:
            default_id = app.client_id
    for raw in seed.get("users") or []:
        add_user(tenant, raw)
    groups = [_group(raw) for raw in seed.get("groups") or []]
    for group in groups:
        tenant.groups[group.id.lower()] = group
    for group, raw in zip(groups, seed.get("groups") or [], strict=True):
        group.members = [member_id(tenant, str(ref)) for ref in raw.get("members") or []]
    directory_roles.seed_roles(tenant, seed.get("directoryRoles") or [], member_id)
    return tenant, default_id or next(iter(tenant.apps.values())).client_id


def add_app(tenant: Tenant, raw: dict[str, Any], client_cert_pem: bytes) -> App:
    """Register an app given in the seed format; ``ValueError`` when its client id is taken."""
    app = _app(raw, None, client_cert_pem)
    with tenant.lock:
        if app.client_id.lower() in tenant.apps:
            msg = f"seed: duplicate app clientId {app.client_id}"
            raise ValueError(msg)
        tenant.apps[app.client_id.lower()] = app
    return app


def add_user(tenant: Tenant, raw: dict[str, Any]) -> User:
    """Add a user given in the seed format (a change for delta queries); ``ValueError`` when invalid."""
    user = _user(raw)
    with tenant.lock:
        if tenant.has_upn(user.upn):
            msg = f"seed: duplicate userPrincipalName {user.upn}"
            raise ValueError(msg)
        tenant.add(user)
    return user


def add_group(tenant: Tenant, raw: dict[str, Any]) -> Group:
    """Add a group given in the seed format (members are UPNs, user ids or group ids)."""
    group = _group(raw)
    with tenant.lock:
        if group.id.lower() in tenant.groups:
            msg = f"seed: duplicate group id {group.id}"
            raise ValueError(msg)
        members = [member_id(tenant, str(ref)) for ref in raw.get("members") or []]
        group.members = members
        tenant.groups[group.id.lower()] = group
    return group


def member_id(tenant: Tenant, ref: str) -> str:
    """The lower-case object id of a user (id or UPN) or group (id); ``ValueError`` when unknown."""
    with tenant.lock:
        if ref.lower() in tenant.groups:
            return ref.lower()
        try:
            return tenant.find(ref).id.lower()
        except GraphFailure as exc:
            msg = f"seed: unknown group member {ref!r}"
            raise ValueError(msg) from exc


def _group(raw: dict[str, Any]) -> Group:
    name = raw.get("displayName")
    if not isinstance(name, str) or not name:
        msg = f"seed: group without a displayName: {raw!r}"
        raise ValueError(msg)
    group_id = str(raw.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-group:" + name.lower()))
    profile = {k: v for k, v in raw.items() if k not in ("id", "members")}
    profile.setdefault("securityEnabled", True)
    profile.setdefault("mailNickname", name.replace(" ", "").lower())
    return Group(group_id, profile)


def is_graph_key(key: str) -> bool:
    """Whether a roles key names Microsoft Graph (any alias, including a loopback sandbox URL)."""
    key = key.rstrip("/").lower()
    return key in _GRAPH_KEYS or key.startswith(("https://127.0.0.1", "https://localhost"))


def _app(raw: dict[str, Any], base_dir: Path | None, client_cert_pem: bytes) -> App:
    roles_raw = raw.get("roles", list(DEFAULT_ROLES))
    if isinstance(roles_raw, list):
        roles = {GRAPH: [str(r) for r in roles_raw]}
    elif isinstance(roles_raw, dict):
        roles = {(GRAPH if is_graph_key(k) else k): [str(r) for r in v] for k, v in roles_raw.items()}
    else:
        msg = "seed: app roles must be a list or an object of lists"
        raise TypeError(msg)
    cert_pem: bytes | None = None
    if raw.get("certificatePath"):
        path = Path(raw["certificatePath"])
        path = path if path.is_absolute() or base_dir is None else base_dir / path
        cert = x509.load_pem_x509_certificate(path.read_bytes())
        cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    elif not raw.get("clientSecret"):
        cert_pem = client_cert_pem
    return App(str(raw.get("clientId") or uuid.uuid4()), str(raw.get("displayName", "app")), roles, cert_pem,
               raw.get("clientSecret"))  # fmt: skip


def _user(raw: dict[str, Any]) -> User:
    upn = raw.get("userPrincipalName")
    if not isinstance(upn, str) or "@" not in upn:
        msg = f"seed: user without a valid userPrincipalName: {raw!r}"
        raise ValueError(msg)
    phones = {str(k): str(v) for k, v in (raw.get("phoneMethods") or {}).items() if v}
    for kind, number in phones.items():
        if kind not in PHONE_TYPES or not PHONE_NUMBER.match(number):
            msg = f"seed: {upn}: invalid phone method {kind}={number!r}"
            raise ValueError(msg)
    if "alternateMobile" in phones and "mobile" not in phones:
        msg = f"seed: {upn}: alternateMobile without mobile"
        raise ValueError(msg)
    email = raw.get("email")
    if email is not None and not EMAIL_ADDRESS.match(str(email)):
        msg = f"seed: {upn}: invalid email {email!r}"
        raise ValueError(msg)
    user = User(
        id=str(raw.get("id") or uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-user:" + upn.lower())),
        upn=upn,
        profile={k: v for k, v in raw.items() if k not in _USER_KEYS},
        phones=phones,
        email=email,
        other_methods=[str(m) for m in raw.get("otherMethods") or []],
        sms_state=str(raw.get("smsSignInState") or "notEnabled"),
        in_sms_policy=bool(raw.get("inSmsSignInPolicy", True)),
        system_preferred=bool(raw.get("isSystemPreferredAuthenticationMethodEnabled", False)),
    )
    user.profile.setdefault("displayName", upn.split("@")[0])
    user.profile.setdefault("createdDateTime", "2024-01-01T00:00:00Z")
    user.default_method = raw["defaultMethod"] if "defaultMethod" in raw else _implied_default(user)
    if user.default_method is not None and (
        user.default_method not in DEFAULT_METHODS
        or (user.default_method in DEFAULT_PHONE and DEFAULT_PHONE[user.default_method] not in phones)
    ):
        msg = f"seed: {upn}: defaultMethod {user.default_method!r} is not registered"
        raise ValueError(msg)
    return user


def _implied_default(user: User) -> str | None:
    if "microsoftAuthenticator" in user.other_methods:
        return "push"
    for kind in PHONE_TYPES:
        if kind in user.phones:
            return FIRST_PHONE_DEFAULT[kind]
    return None
