"""The sandbox tenant: users, apps and the history of method changes, behind one lock.

Every Graph operation on a user runs entirely under ``Tenant.lock`` (cheap: no I/O, no sleeping), so
concurrent requests see the same serialisable state Graph would give them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from provisioning.models import phone_key
from tests.sandbox.errors import GraphFailure, user_not_found
from tests.sandbox.users import User

T = TypeVar("T")
GRAPH = "graph"  # the roles key for Microsoft Graph, whatever URL the sandbox serves it on


@dataclass
class App:
    """An app registration with its service principal's granted app roles, per resource."""

    client_id: str
    display_name: str
    roles: dict[str, list[str]]
    certificate_pem: bytes | None = None
    client_secret: str | None = None

    def roles_for(self, resource: str) -> list[str] | None:
        """Granted roles for a resource key (``graph`` or an app id URI); None when not consented."""
        return self.roles.get(resource)


@dataclass
class Change:
    """One recorded change to one method of one user."""

    time: float
    user: str
    kind: str
    action: str
    before: Any
    after: Any

    def as_dict(self) -> dict[str, Any]:
        """The change as JSON."""
        return {"time": self.time, "user": self.user, "kind": self.kind, "action": self.action,
                "before": self.before, "after": self.after}  # fmt: skip


@dataclass
class Tenant:
    """All mutable directory state of the sandbox tenant."""

    tenant_id: str
    sms_auto_register: bool = False
    apps: dict[str, App] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _users: dict[str, User] = field(default_factory=dict)
    _by_upn: dict[str, str] = field(default_factory=dict)
    _history: list[Change] = field(default_factory=list)

    def add(self, user: User) -> None:
        """Register a user (the caller checks for duplicates)."""
        with self.lock:
            self._users[user.id.lower()] = user
            self._by_upn[user.upn.lower()] = user.id.lower()

    def has_upn(self, upn: str) -> bool:
        """Whether a user with this UPN exists (case-insensitive)."""
        with self.lock:
            return upn.lower() in self._by_upn

    def find(self, ref: str) -> User:
        """A user by object id or UPN (case-insensitive); 404 ``Request_ResourceNotFound`` otherwise."""
        key = ref.lower()
        user = self._users.get(key) or self._users.get(self._by_upn.get(key, ""))
        if user is None:
            raise user_not_found(ref)
        return user

    def users(self) -> Iterator[User]:
        """Every user (call under the lock)."""
        return iter(list(self._users.values()))

    def on_user(self, ref: str, action: Callable[[User], T]) -> T:
        """Run ``action`` on one user under the lock."""
        with self.lock:
            return action(self.find(ref))

    def record(self, user: User, kind: str, action: str, before: Any, after: Any) -> None:
        """Append a method change to the history (call under the lock)."""
        self._history.append(Change(time.time(), user.upn, kind, action, before, after))

    def snapshot(self, ref: str) -> dict[str, Any]:
        """A detached dict of one user; ``KeyError`` when unknown."""
        with self.lock:
            try:
                return self.find(ref).snapshot()
            except GraphFailure as exc:
                raise KeyError(ref) from exc

    def snapshots(self) -> list[dict[str, Any]]:
        """Detached dicts of every user."""
        with self.lock:
            return [user.snapshot() for user in self._users.values()]

    def history(self, ref: str | None = None) -> dict[str, list[dict[str, Any]]]:
        """Method changes per UPN, in the order they happened; optionally for one user."""
        with self.lock:
            upn = self.find(ref).upn if ref is not None else None
            out: dict[str, list[dict[str, Any]]] = {}
            for change in self._history:
                if upn is None or change.user == upn:
                    out.setdefault(change.user, []).append(change.as_dict())
            return out

    def sms_ready_elsewhere(self, user: User, number_key: str) -> bool:
        """Whether another user's mobile with the same number is ready for SMS sign-in."""
        return any(
            other is not user and other.sms_state == "ready" and "mobile" in other.phones
            and phone_key(other.phones["mobile"]) == number_key
            for other in self._users.values()
        )  # fmt: skip
