"""Request dispatch: control endpoints, the Entra token service, and Graph (direct and ``$batch``)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from tests.sandbox import control
from tests.sandbox.batch import BatchRunner
from tests.sandbox.config import SandboxConfig
from tests.sandbox.entra import Entra
from tests.sandbox.graph import GraphService, Operation
from tests.sandbox.messages import Reply, Request, graph_error, stamp
from tests.sandbox.recorder import Recorder
from tests.sandbox.routes import resolve, split_version
from tests.sandbox.stats import Stats
from tests.sandbox.tenant import Tenant
from tests.sandbox.tokens import AccessClaims


@dataclass
class SandboxApp:
    """The whole sandbox behind one ``dispatch`` call; holds the run-time config."""

    config: SandboxConfig
    tenant: Tenant
    entra: Entra
    graph: GraphService
    batches: BatchRunner
    stats: Stats
    _config_lock: threading.Lock = field(default_factory=threading.Lock)
    # Traffic recording for the SDK contract check: this path, else GRAPH_SANDBOX_RECORD (recorder.py).
    record: Path | str | None = None
    recorder: Recorder | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.recorder = Recorder(self.record) if self.record else Recorder.from_env()

    def configure(self, changes: dict[str, object]) -> SandboxConfig:
        """Apply run-time changes (latency and its batch model, throttle, time scale / limits, faults); returns the new config."""
        with self._config_lock:
            old, new = self.config, self.config.updated(changes)
            self.config = new
            self.graph.throttling = new.throttle
            self.graph.page_size, self.graph.delta_expiry = new.page_size, new.delta_expiry
            if new.limits() != old.limits():
                self.graph.throttle.reset(new.limits())
            if "faults" in changes:
                self.graph.faults.configure(new.faults)
            self.batches.shuffle = new.shuffle_batch
            self.batches.latency = new.batch_latency_model()
            return new

    @property
    def latency_s(self) -> float:
        """Per-request latency, applied by the HTTP handler before dispatch (not for control calls)."""
        return self.config.latency_ms / 1000.0

    def dispatch(self, request: Request) -> Reply:
        """The reply to one HTTP request (recorded when a recorder is set; only Graph calls are)."""
        reply = self._dispatch(request)
        if self.recorder is not None:
            self.recorder.observe(request, reply)
        return reply

    def _dispatch(self, request: Request) -> Reply:
        if request.path.startswith("/_sandbox/"):
            return control.handle(self, request)
        version, rest = split_version(request.path)
        if version is not None:
            return stamp(self._graph(request, version, rest), request)
        segments = [unquote(s) for s in request.path.strip("/").split("/")]
        if len(segments) >= 2:
            reply = self.entra.handle(request, segments)
            if reply is not None:
                if segments[-1] == "token":
                    self.stats.token()
                return stamp(reply, request, diagnostic=False)
        return stamp(graph_error(404, "NotFound", f"No endpoint at '{request.path}'."), request)

    def _graph(self, request: Request, version: str, rest: str) -> Reply:
        claims = self.graph.authenticate(request)
        is_batch = rest.strip("/") == "$batch"
        if isinstance(claims, Reply):
            if not is_batch:
                self.stats.operation(_name(request.method, rest, version), 401, write=request.method != "GET")
            return claims
        if is_batch:
            return self._batch(request, claims, version)
        op = Operation(
            request.method, rest, version, dict(request.query), request.body, headers=request.headers
        )
        return self.graph.run(op, claims)

    def _batch(self, request: Request, claims: AccessClaims, version: str) -> Reply:
        if request.method != "POST":
            return graph_error(
                405, "Request_BadRequest", f"The HTTP method '{request.method}' is not allowed."
            )
        self.stats.batch()
        # An envelope-level fault (FaultConfig.batch_rate): before the items run, or after them in
        # after_commit mode, so the client loses the answers of writes Graph applied.
        fault = self.graph.faults.draw_batch()
        config = self.graph.faults.config
        if fault is not None:
            self.stats.batch_fault(fault.kind)
            if not fault.after_commit(config, is_write=True):
                return self.graph.fault_reply(fault)
        reply = self.batches.run(request, claims, version)
        if fault is None:
            return reply
        if fault.kind == "slow":
            reply.delay_s += config.slow_s
            return reply
        return self.graph.fault_reply(fault)


def _name(method: str, rest: str, version: str) -> str:
    try:
        return resolve(method, rest, version).endpoint.name
    except Exception:  # any unroutable path
        return f"{method} unknown"
