"""The sandbox tenant: users, groups, apps, the history of method changes and the change counter that
delta queries read, behind one lock.

Every Graph operation on a user runs entirely under ``Tenant.lock`` (cheap: no I/O, no sleeping), so
concurrent requests see the same serialisable state Graph would give them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from provisioning.core.models import phone_key
from tests.sandbox.errors import GraphFailure, group_not_found, user_not_found
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
class Group:
    """A security group: its profile and its direct members (user or group object ids, in order)."""

    id: str
    profile: dict[str, Any]
    members: list[str] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """A detached dict of the group."""
        return {"id": self.id, **self.profile, "members": list(self.members)}


@dataclass
class DirectoryRole:
    """An activated directory role: its template, and its members (user or group object ids, in order)."""

    id: str
    display_name: str
    role_template_id: str
    description: str = ""
    members: list[str] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """A detached dict of the role."""
        return {"id": self.id, "displayName": self.display_name, "roleTemplateId": self.role_template_id,
                "description": self.description, "members": list(self.members)}  # fmt: skip


@dataclass
class Tenant:
    """All mutable directory state of the sandbox tenant."""

    tenant_id: str
    sms_auto_register: bool = False
    sms_sign_in_configured: bool = True  # the SMS method's "use for sign-in" is on (else notConfigured)
    apps: dict[str, App] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)
    _users: dict[str, User] = field(default_factory=dict)
    _by_upn: dict[str, str] = field(default_factory=dict)
    _history: list[Change] = field(default_factory=list)
    groups: dict[str, Group] = field(default_factory=dict)
    roles: dict[str, DirectoryRole] = field(default_factory=dict)  # by lower-case role template id
    counter: int = 0  # monotonically increasing directory change counter (delta queries)
    delta_epoch: int = 0  # delta and skip tokens issued in an older epoch have expired
    _seq: int = 0
    _removed: dict[str, User] = field(default_factory=dict)

    def bump(self) -> int:
        """The next value of the change counter (call under the lock)."""
        self.counter += 1
        return self.counter

    def add(self, user: User) -> None:
        """Register a user, stamped as a change (the caller checks for duplicates)."""
        with self.lock:
            self._seq += 1
            user.seq, user.created, user.removed = self._seq, self.bump(), None
            self._removed.pop(user.id.lower(), None)
            self._users[user.id.lower()] = user
            self._by_upn[user.upn.lower()] = user.id.lower()

    def change(self, user: User, values: dict[str, Any]) -> list[str]:
        """Set profile properties; the ones whose value changed share one new counter stamp."""
        with self.lock:
            changed = [name for name, value in values.items() if user.profile.get(name) != value]
            if changed:
                stamp = self.bump()
                for name in changed:
                    user.profile[name] = values[name]
                    user.stamps[name] = stamp
            return changed

    def remove(self, user: User, *, permanent: bool = False) -> None:
        """Delete a user: gone from lookups and groups, kept as a tombstone for delta queries."""
        with self.lock:
            del self._users[user.id.lower()]
            del self._by_upn[user.upn.lower()]
            holders: list[Group | DirectoryRole] = [*self.groups.values(), *self.roles.values()]
            for holder in holders:
                if user.id.lower() in holder.members:
                    holder.members.remove(user.id.lower())
            user.removed = (self.bump(), "deleted" if permanent else "changed")
            self._removed[user.id.lower()] = user

    def expire_delta_tokens(self) -> None:
        """Expire every delta and skip token issued so far (their next use is 410 or syncStateNotFound)."""
        with self.lock:
            self.delta_epoch += 1

    def tracked(self) -> list[User]:
        """Live and deleted users in insertion order, for delta queries (call under the lock)."""
        return sorted([*self._users.values(), *self._removed.values()], key=lambda u: u.seq)

    def find_group(self, group_id: str) -> Group:
        """A group by object id; 404 ``Request_ResourceNotFound`` otherwise."""
        group = self.groups.get(group_id.lower())
        if group is None:
            raise group_not_found(group_id)
        return group

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

    def user_count(self) -> int:
        """How many users the tenant has now (sizes the throttling tier; a dict length, no lock needed)."""
        return len(self._users)

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

    def history(
        self, ref: str | None = None, *, since: float | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Method changes per UPN, in the order they happened; optionally for one user, or only those
        recorded after *since* (``time.time()``)."""
        with self.lock:
            upn = self.find(ref).upn if ref is not None else None
            out: dict[str, list[dict[str, Any]]] = {}
            for change in self._history:
                if (upn is None or change.user == upn) and (since is None or change.time > since):
                    out.setdefault(change.user, []).append(change.as_dict())
            return out

    def sms_ready_elsewhere(self, user: User, number_key: str) -> bool:
        """Whether another user's mobile with the same number is ready for SMS sign-in."""
        return any(
            other is not user and other.sms_state == "ready" and "mobile" in other.phones
            and phone_key(other.phones["mobile"]) == number_key
            for other in self._users.values()
        )  # fmt: skip
