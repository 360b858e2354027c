"""Fakes that satisfy the ports in ``provisioning.core.ports`` structurally (no patching)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, assert_never

from provisioning.core.models import (
    DEFAULT_METHOD_PHONE,
    AddEmail,
    AddPhone,
    CurrentMethods,
    DefaultMethod,
    DeleteEmail,
    DeletePhone,
    MethodKind,
    Operation,
    SetDefaultMethod,
    SetSmsSignIn,
    UpdateEmail,
    UpdatePhone,
)
from provisioning.errors import PermanentGraphError, TransientGraphError

if TYPE_CHECKING:
    from tests.sandbox import Sandbox


@dataclass
class FakeUser:
    """A user's methods as the fake tenant holds them."""

    phones: dict[MethodKind, str] = field(default_factory=dict)
    email: str | None = None
    default: str | None = None
    sms: str | None = None
    others: list[str] = field(default_factory=list)


class FakeGraph:
    """An in-memory GraphPort; ``failing`` maps a user to the operation type that fails for them."""

    def __init__(
        self,
        users: dict[str, FakeUser],
        *,
        failing: dict[str, type] | None = None,
        unreadable: frozenset[str] = frozenset(),
    ) -> None:
        self.users = users
        self.failing = failing or {}
        self.unreadable = unreadable
        self.applied: list[Operation] = []
        self.reads: list[tuple[str, str]] = []

    def _user(self, user: str) -> FakeUser:
        if user in self.unreadable:
            raise TransientGraphError("service unavailable", status=503, code="serviceNotAvailable")
        if user not in self.users:
            raise PermanentGraphError(
                "user not found", status=404, code="Request_ResourceNotFound", request_id="req-404"
            )
        return self.users[user]

    def read_methods(self, user: str) -> CurrentMethods:
        self.reads.append((user, "methods"))
        state = self._user(user)
        return CurrentMethods(
            user,
            dict(state.phones),
            email=state.email,
            sms_sign_in_state=state.sms if MethodKind.MOBILE in state.phones else None,
            other_methods=tuple(state.others),
        )

    def read_default_method(self, user: str) -> tuple[str | None, bool | None]:
        self.reads.append((user, "default"))
        return self._user(user).default, False

    def read_sms_sign_in_state(self, user: str) -> str | None:
        self.reads.append((user, "sms"))
        return self._user(user).sms

    def apply(self, operation: Operation) -> str | None:
        if isinstance(operation, self.failing.get(operation.user, ())):
            raise PermanentGraphError("refused", status=400, code="badRequest", request_id="req-fail")
        state = self._user(operation.user)
        self._mutate(state, operation)
        self.applied.append(operation)
        return f"req-{len(self.applied)}"

    @staticmethod
    def _mutate(state: FakeUser, op: Operation) -> None:
        match op:
            case AddPhone() | UpdatePhone():
                state.phones[op.kind] = op.number
            case DeletePhone():
                del state.phones[op.kind]
            case AddEmail() | UpdateEmail():
                state.email = op.address
            case DeleteEmail():
                state.email = None
            case SetDefaultMethod():
                assert DEFAULT_METHOD_PHONE.get(DefaultMethod(op.method)) in (None, *state.phones)
                state.default = op.method
            case SetSmsSignIn():
                state.sms = "ready" if op.enable else "notEnabled"
            case _:
                assert_never(op)


class SandboxTokens:
    """Tokens minted by the Graph sandbox itself, no HTTP (MSAL is covered by the CLI tests)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._token = sandbox.token()

    def token(self) -> str:
        return self._token
