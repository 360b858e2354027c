"""Run-time settings of the sandbox: latency, throttling limits, tier and time scale, faults, and the
choices it makes where Graph's behaviour is not documented."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tests.sandbox.batch import BATCH_LATENCY, BatchLatency
from tests.sandbox.faults import FaultConfig
from tests.sandbox.throttle import TIERS, WRITE_MODELS, Limits

DEFAULT_PHONE_DELETE = ("refuse", "last-method")


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox behaves; everything but ``port`` can change while it runs."""

    port: int = 0
    latency_ms: float = 0.0
    # What a $batch costs in latency_ms units (batch.BatchLatency): "per-envelope" one (today's, the
    # kindest reading), "per-level" one per dependsOn level, "per-item" one per inner request in turn.
    batch_latency: str = "per-envelope"
    throttle: bool = True
    time_scale: float = 1.0
    resource_units: int | None = None  # RU per window per (app, tenant); None = the tier's quota
    ru_window_s: float = 10.0
    writes: int = 3000
    write_window_s: float = 150.0
    tier: str = "auto"  # "auto" (from the tenant's user count), "S" 3,500, "M" 5,000 or "L" 8,000 RU
    tenant_writes: int = 18000  # writes per window per tenant, all apps together
    tenant_window_s: float = 300.0
    write_model: str = (
        "sliding"  # writes counted in a sliding window ("sliding") or a token bucket ("bucket")
    )
    faults: FaultConfig = field(default_factory=FaultConfig)
    shuffle_batch: bool = True
    page_size: int = 100  # default page of /users, group members and /users/delta (without $top)
    delta_expiry: str = "410"  # expired delta token: "410" (Gone + Location) or "syncStateNotFound" (400)
    default_phone_delete: str = "refuse"  # "refuse" always, or "last-method": allowed as the last method

    def __post_init__(self) -> None:
        if self.delta_expiry not in ("410", "syncStateNotFound"):
            msg = "delta_expiry must be '410' or 'syncStateNotFound'"
            raise ValueError(msg)
        if self.page_size < 1:
            msg = "page_size must be at least 1"
            raise ValueError(msg)
        if self.batch_latency not in BATCH_LATENCY:
            msg = f"batch_latency must be one of {list(BATCH_LATENCY)}"
            raise ValueError(msg)
        if self.write_model not in WRITE_MODELS:
            msg = f"write_model must be one of {list(WRITE_MODELS)}"
            raise ValueError(msg)
        if self.tier not in TIERS:
            msg = f"tier must be one of {list(TIERS)}"
            raise ValueError(msg)
        if self.resource_units is not None and self.resource_units < 1:
            msg = "resource_units must be at least 1 (or null for the tier's quota)"
            raise ValueError(msg)
        if self.default_phone_delete not in DEFAULT_PHONE_DELETE:
            msg = f"default_phone_delete must be one of {list(DEFAULT_PHONE_DELETE)}"
            raise ValueError(msg)

    def limits(self) -> Limits:
        """The throttling limits."""
        return Limits(
            self.resource_units, self.ru_window_s, self.writes, self.write_window_s, self.time_scale,
            self.tier, self.tenant_writes, self.tenant_window_s, self.write_model,
        )  # fmt: skip

    def batch_latency_model(self) -> BatchLatency:
        """The latency model of ``$batch`` envelopes."""
        return BatchLatency(self.batch_latency, self.latency_ms / 1000.0)

    def updated(self, changes: dict[str, Any]) -> SandboxConfig:
        """A copy with JSON-style changes applied (``faults`` may be a dict of fault settings)."""
        known = {f for f in self.__dataclass_fields__ if f != "port"}
        unknown = set(changes) - known
        if unknown:
            msg = f"unknown settings: {sorted(unknown)}"
            raise ValueError(msg)
        values = dict(changes)
        faults = values.get("faults")
        if isinstance(faults, dict):
            values["faults"] = FaultConfig.from_dict(faults, self.faults)
        elif faults is not None and not isinstance(faults, FaultConfig):
            msg = "faults must be an object"
            raise ValueError(msg)
        if float(values.get("time_scale", self.time_scale)) <= 0:
            msg = "time_scale must be positive"
            raise ValueError(msg)
        return replace(self, **values)

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON."""
        return asdict(self)
