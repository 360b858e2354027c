"""Fakes of the ports (the executor's ``$batch`` port, tokens, jobs) and a fake monotonic clock, satisfied
structurally (no patching)."""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, assert_never
from urllib.parse import unquote

from provisioning.core.models import (
    DEFAULT_METHOD_PHONE,
    METHOD_IDS,
    AddEmail,
    AddPhone,
    DefaultMethod,
    DeleteEmail,
    DeletePhone,
    DesiredRow,
    JobState,
    JobStatus,
    MethodKind,
    Operation,
    SetDefaultMethod,
    SetSmsSignIn,
    UpdateEmail,
    UpdatePhone,
)
from provisioning.graph.batch import BatchRequest, BatchResponse

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
    """An in-memory tenant behind the executor's ``$batch`` port (``send``), answering as Graph does.

    ``failing`` maps a user to the operation type Graph refuses for them (400); ``unreadable`` users
    answer 503 to every request. ``applied`` holds the writes it took, as operations; ``reads`` the
    reads, as (user, "methods" | "default" | "sms"); ``batches`` the inner requests of each send.
    """

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
        self.batches: list[list[BatchRequest]] = []
        self._lock = threading.Lock()

    def send(self, requests: Sequence[BatchRequest]) -> Mapping[str, BatchResponse]:
        """Answer each request in order (a ``dependsOn`` request after a failure gets 424)."""
        with self._lock:
            self.batches.append(list(requests))
            answers: dict[str, BatchResponse] = {}
            for request in requests:
                if any(answers[d].status >= 400 for d in request.depends_on):
                    answers[request.id] = BatchResponse(request.id, 424, {}, None, None)
                else:
                    answers[request.id] = self._answer(request)
            return answers

    def _answer(self, request: BatchRequest) -> BatchResponse:
        match = _PATH.fullmatch(request.url)
        assert match, f"the fake does not know {request.method} {request.url}"
        user, tail = unquote(match["user"]), match["tail"]
        if user in self.unreadable:
            return _error(request, 503, "serviceNotAvailable", "service unavailable")
        state = self.users.get(user)
        if state is None:
            return _error(request, 404, "Request_ResourceNotFound", "user not found")
        if request.method == "GET":
            return self._read(request, user, state, tail)
        operation = _operation(user, state, request.method, tail, request.body or {})
        if isinstance(operation, self.failing.get(user, ())):
            return _error(request, 400, "badRequest", "refused", request_id="req-fail")
        refusal = self._mutate(state, operation)
        if refusal is not None:
            return _error(request, *refusal)
        self.applied.append(operation)
        # Graph: an add is 201, a PATCH 200; a DELETE and an SMS sign-in action answer 204.
        status = {"POST": 201, "PATCH": 200}.get(request.method, 204)
        if isinstance(operation, SetSmsSignIn):
            status = 204
        return BatchResponse(request.id, status, {}, {}, f"req-{len(self.applied)}")

    def _read(self, request: BatchRequest, user: str, state: FakeUser, tail: str) -> BatchResponse:
        if tail == "methods":
            self.reads.append((user, "methods"))
            items: list[dict[str, object]] = [
                {"@odata.type": "#microsoft.graph.phoneAuthenticationMethod", "id": METHOD_IDS[kind],
                 "phoneType": kind.value, "phoneNumber": number,
                 "smsSignInState": state.sms if kind is MethodKind.MOBILE else None}
                for kind, number in state.phones.items()
            ]  # fmt: skip
            if state.email is not None:
                items.append(
                    {"@odata.type": "#microsoft.graph.emailAuthenticationMethod", "emailAddress": state.email}
                )
            items += [
                {"@odata.type": f"#microsoft.graph.{other}AuthenticationMethod"} for other in state.others
            ]
            return BatchResponse(request.id, 200, {}, {"value": items}, "req-read")
        if tail == "signInPreferences":
            self.reads.append((user, "default"))
            body = {"userPreferredMethodForSecondaryAuthentication": state.default,
                    "isSystemPreferredAuthenticationMethodEnabled": False}  # fmt: skip
            return BatchResponse(request.id, 200, {}, body, "req-read")
        assert tail == f"phoneMethods/{METHOD_IDS[MethodKind.MOBILE]}", tail
        self.reads.append((user, "sms"))
        if MethodKind.MOBILE not in state.phones:
            return _error(request, 404, "itemNotFound", "no mobile")
        return BatchResponse(request.id, 200, {}, {"smsSignInState": state.sms}, "req-read")

    @staticmethod
    def _mutate(state: FakeUser, op: Operation) -> tuple[int, str, str] | None:
        match op:
            case AddPhone():
                if op.kind in state.phones:
                    return 400, "badRequest", "phone method already exists"
                state.phones[op.kind] = op.number
            case UpdatePhone():
                state.phones[op.kind] = op.number
            case DeletePhone():
                if op.kind not in state.phones:
                    return 404, "itemNotFound", "no such method"
                del state.phones[op.kind]
            case AddEmail():
                if state.email is not None:
                    return 400, "badRequest", "email method already exists"
                state.email = op.address
            case UpdateEmail():
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
        return None


_PATH = re.compile(r"/users/(?P<user>[^/]+)/authentication/(?P<tail>.+)")
_KINDS = {METHOD_IDS[kind]: kind for kind in MethodKind if kind is not MethodKind.EMAIL}


def _operation(user: str, state: FakeUser, method: str, tail: str, body: Mapping[str, object]) -> Operation:
    """The write a request asks for, as the planner's operation."""
    parts = tail.split("/")
    if parts[0] == "phoneMethods" and len(parts) == 3:
        return SetSmsSignIn(user, enable=parts[2] == "enableSmsSignIn")
    if parts == ["phoneMethods"] and method == "POST":
        return AddPhone(user, MethodKind(str(body["phoneType"])), str(body["phoneNumber"]))
    if parts[0] == "phoneMethods":
        kind = _KINDS[parts[1]]
        if method == "DELETE":
            return DeletePhone(user, kind, state.phones.get(kind, ""))
        return UpdatePhone(user, kind, str(body["phoneNumber"]), state.phones.get(kind, ""))
    if parts == ["emailMethods"] and method == "POST":
        return AddEmail(user, str(body["emailAddress"]))
    if parts[0] == "emailMethods":
        if method == "DELETE":
            return DeleteEmail(user, state.email or "")
        return UpdateEmail(user, str(body["emailAddress"]), state.email or "")
    assert parts == ["signInPreferences"], tail
    assert method == "PATCH", method
    method_name = DefaultMethod(str(body["userPreferredMethodForSecondaryAuthentication"]))
    return SetDefaultMethod(user, method_name, state.default)


def _error(
    request: BatchRequest, status: int, code: str, message: str, *, request_id: str | None = None
) -> BatchResponse:
    body = {"error": {"code": code, "message": message}}
    return BatchResponse(request.id, status, {}, body, request_id or f"req-{status}")


class SandboxTokens:
    """Tokens minted by the Graph sandbox itself, no HTTP (MSAL is covered by the CLI tests)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._token = sandbox.token()

    def token(self) -> str:
        return self._token


@dataclass
class FakeClock:
    """A monotonic clock that only moves when someone sleeps; records each sleep."""

    now: float = 100.0
    slept: list[float] = field(default_factory=list)

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeJobs:
    """A JobPort that records submissions and answers status from a dict."""

    def __init__(self, statuses: dict[str, JobStatus] | None = None) -> None:
        self.submitted: list[tuple[tuple[DesiredRow, ...], bool, str]] = []
        self.statuses = statuses or {}

    def submit(self, rows: Sequence[DesiredRow], *, dry_run: bool, source: str) -> str:
        self.submitted.append((tuple(rows), dry_run, source))
        return f"job-{len(self.submitted)}"

    def status(self, job_id: str) -> JobStatus | None:
        return self.statuses.get(job_id)


def job(job_id: str = "job-7", **kwargs) -> JobStatus:
    """A running HTTP job's status, for a ``FakeJobs`` to answer."""
    return JobStatus(job_id, "http", "http", JobState.RUNNING, 30, 2, 1, "2025-01-01T12:00:00Z", **kwargs)


def busiest_window(stamps: Sequence[tuple[float, int]], window_s: float) -> int:
    """The most writes any window of *window_s* seconds holds, whatever its start (a sliding window);
    *stamps* are (time, writes) in time order."""
    most, total, first = 0, 0, 0
    for end in range(len(stamps)):
        total += stamps[end][1]
        while stamps[end][0] - stamps[first][0] >= window_s:
            total -= stamps[first][1]
            first += 1
        most = max(most, total)
    return most
