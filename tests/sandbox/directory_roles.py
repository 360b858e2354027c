"""Directory roles of the sandbox tenant: the built-in role templates it knows, activation on first use,
and role membership (users or groups), for seeds and ``Sandbox.add_role_member``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.sandbox.tenant import DirectoryRole, Tenant

# Built-in role template ids (the same in every tenant; Entra "role template IDs" reference).
BUILT_IN_ROLES: dict[str, str] = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "Privileged Authentication Administrator": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    "Authentication Administrator": "c4e39bd9-1100-46d3-8c65-fb160da0071f",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "Password Administrator": "966707d0-3269-4727-9be2-8c3a10f19b9d",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "Application Administrator": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "Cloud Application Administrator": "158c047a-c907-4556-b7ef-446551a6b5f7",
    "Exchange Administrator": "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "Directory Readers": "88d8e3e3-8f55-4a1e-953a-9b9898b8876b",
}


def activate(tenant: Tenant, role: str) -> DirectoryRole:
    """The tenant's directory role for a built-in display name (any case) or a template id, activated
    (created with a tenant-specific object id) on first use; ``ValueError`` when unknown."""
    template = _template_id(role)
    with tenant.lock:
        found = tenant.roles.get(template)
        if found is None:
            name = next(n for n, t in BUILT_IN_ROLES.items() if t == template)
            object_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"sandbox-role:{tenant.tenant_id}:{template}"))
            found = tenant.roles[template] = DirectoryRole(object_id, name, template)
        return found


def add_member(tenant: Tenant, role: str, member: str) -> DirectoryRole:
    """Put a member (lower-case user or group object id) in a role; a no-op when already one."""
    with tenant.lock:
        found = activate(tenant, role)
        if member not in found.members:
            found.members.append(member)
        return found


def remove_member(tenant: Tenant, role: str, member: str) -> DirectoryRole:
    """Take a member out of a role; a no-op when not one."""
    with tenant.lock:
        found = activate(tenant, role)
        if member in found.members:
            found.members.remove(member)
        return found


def seed_roles(tenant: Tenant, raw: list[Any], member_id: Callable[[Tenant, str], str]) -> None:
    """Seed ``directoryRoles``: ``[{"displayName" | "roleTemplateId", "members": [refs]}]``."""
    for entry in raw:
        if not isinstance(entry, dict):
            msg = f"seed: a directory role must be an object: {entry!r}"
            raise ValueError(msg)  # noqa: TRY004 - seed errors are ValueErrors throughout
        role = str(entry.get("roleTemplateId") or entry.get("displayName") or "")
        activate(tenant, role)
        for ref in entry.get("members") or []:
            add_member(tenant, role, member_id(tenant, str(ref)))


def _template_id(role: str) -> str:
    wanted = role.strip().lower()
    for name, template in BUILT_IN_ROLES.items():
        if wanted in (name.lower(), template):
            return template
    msg = f"unknown directory role {role!r}: give a built-in display name or template id"
    raise ValueError(msg)
