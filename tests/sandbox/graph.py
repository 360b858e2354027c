"""The Graph front door: authentication, routing, throttling, authorisation, faults and execution
of one operation (a direct request or one inner ``$batch`` request)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.sandbox.errors import GraphFailure, invalid_payload
from tests.sandbox.faults import Fault, FaultInjector
from tests.sandbox.messages import Reply, Request, graph_error
from tests.sandbox.operations import Call
from tests.sandbox.routes import Route, resolve
from tests.sandbox.stats import Stats
from tests.sandbox.tenant import Tenant
from tests.sandbox.throttle import Throttle, Verdict, resource_units
from tests.sandbox.tokens import AccessClaims, Signer, TokenRejected

if TYPE_CHECKING:
    from tests.sandbox.config import SandboxConfig

DENIED = "Insufficient privileges to complete the operation."


@dataclass(frozen=True)
class Operation:
    """One Graph operation to run: verb, version-less path, query, headers and raw body."""

    method: str
    rest: str
    version: str
    query: dict[str, str]
    body: bytes
    in_batch: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)  # lower-case names


@dataclass
class GraphService:
    """Everything a Graph operation needs; shared by the HTTP handler and the batch executor."""

    tenant: Tenant
    signer: Signer
    throttle: Throttle
    faults: FaultInjector
    stats: Stats
    base_url: str
    audiences: frozenset[str]
    throttling: bool = True
    page_size: int = 100
    delta_expiry: str = "410"
    # The live run-time settings (set by Sandbox.start), read per call for the rule choices such as
    # default_phone_delete, so ``configure`` changes them without the app pushing each one here.
    settings: Callable[[], SandboxConfig] | None = None

    def authenticate(self, request: Request) -> AccessClaims | Reply:
        """The caller's token claims, or the 401 reply."""
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        try:
            claims = self.signer.validate(token.strip(), self.audiences)
        except TokenRejected as exc:
            return graph_error(401, "InvalidAuthenticationToken", str(exc))
        if claims.tenant_id.lower() != self.tenant.tenant_id.lower():
            return graph_error(
                401, "InvalidAuthenticationToken", "Access token validation failure. Invalid issuer."
            )
        return claims

    def run(self, op: Operation, claims: AccessClaims) -> Reply:
        """Run one operation and count it."""
        try:
            route = resolve(op.method, op.rest, op.version, in_batch=op.in_batch)
        except GraphFailure as failure:
            self.stats.operation(f"{op.method} unknown", failure.status, write=op.method != "GET")
            return failure.reply()
        name, write = route.endpoint.name, route.is_write
        units = resource_units(route.endpoint.cost, op.query)
        verdict = (
            self.throttle.charge(claims.app_id, claims.tenant_id, units, write, self.tenant.user_count())
            if self.throttling
            else None
        )
        reply, fault = self._guarded(op, route, claims, verdict)
        _throttle_headers(reply, units, verdict, claims)
        self.stats.operation(
            name,
            "dropped" if reply.drop else reply.status,
            write=write,
            fault=fault is not None,
            fault_kind=None if fault is None else fault.kind,
        )
        return reply

    def _guarded(
        self, op: Operation, route: Route, claims: AccessClaims, verdict: Verdict | None
    ) -> tuple[Reply, Fault | None]:
        if verdict is not None and not verdict.allowed:
            reply = graph_error(
                429, "TooManyRequests", "Too many requests. Retry after the time in Retry-After."
            )
            reply.headers["Retry-After"] = str(verdict.retry_after_s)
            return reply, None
        if not claims.roles & route.endpoint.roles:
            return graph_error(403, "Authorization_RequestDenied", DENIED), None
        fault = self.faults.draw()
        config = self.faults.config
        if fault is not None and not fault.after_commit(config, route.is_write):
            return self.fault_reply(fault), fault
        reply = self._execute(op, route, claims)
        if fault is None:
            return reply, None
        if fault.kind == "slow":
            reply.delay_s += config.slow_s
            return reply, fault
        return self.fault_reply(fault), fault

    def _execute(self, op: Operation, route: Route, claims: AccessClaims) -> Reply:
        try:
            body = _parse_body(op.body)
            call = Call(
                self.tenant,
                route.user,
                route.method_id,
                body,
                op.query,
                f"{self.base_url}/{op.version}/$metadata",
                headers=op.headers,
                roles=claims.roles,
                group=route.group,
                page_size=self.page_size,
                delta_expiry=self.delta_expiry,
                default_phone_delete=self.settings().default_phone_delete if self.settings else "refuse",
            )
            with self.tenant.lock:
                if not route.endpoint.on_user:
                    return route.endpoint.handler(call)  # type: ignore[call-arg]
                return route.endpoint.handler(call, self.tenant.find(route.user))  # type: ignore[call-arg]
        except GraphFailure as failure:
            return failure.reply()

    def fault_reply(self, fault: Fault) -> Reply:
        """The reply a drawn fault gives instead of the operation's (or the envelope's) own."""
        config = self.faults.config
        if fault.kind == "drop":
            return Reply(0, drop=True)
        if fault.kind == "timeout":
            return Reply(0, drop=True, delay_s=config.timeout_s)
        status = fault.status
        assert status is not None
        code, message = {
            429: ("TooManyRequests", "Too many requests. Retry after the time in Retry-After."),
            500: ("generalException", "General exception while processing."),
            503: ("serviceNotAvailable", "The service is temporarily unavailable. Please retry later."),
            504: ("gatewayTimeout", "The gateway did not receive a timely response from the backend."),
        }[status]
        reply = graph_error(status, code, message)
        if status in (429, 503):
            reply.headers["Retry-After"] = str(config.retry_after_s)
        return reply


def _parse_body(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise invalid_payload() from exc


def _throttle_headers(reply: Reply, units: int, verdict: Verdict | None, claims: AccessClaims) -> None:
    reply.headers["x-ms-resource-unit"] = str(units)
    if verdict is None:
        return
    if verdict.usage > 0.8:
        reply.headers["x-ms-throttle-limit-percentage"] = f"{min(verdict.usage, 1.8):.1f}"
    if not verdict.allowed:
        # The tenant-wide cap counts writes of all apps: Tenant/Write (throttling-identity-and-access.md).
        limit = "Write" if verdict.scope == "Tenant" else "ReadWrite"
        reply.headers["x-ms-throttle-scope"] = f"{verdict.scope}/{limit}/{claims.app_id}/{claims.tenant_id}"
        reply.headers["x-ms-throttle-information"] = verdict.reason
