"""Run-time settings of the sandbox: latency, throttling limits and time scale, faults."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tests.sandbox.faults import FaultConfig
from tests.sandbox.throttle import Limits


@dataclass(frozen=True)
class SandboxConfig:
    """How the sandbox behaves; everything but ``port`` can change while it runs."""

    port: int = 0
    latency_ms: float = 0.0
    throttle: bool = True
    time_scale: float = 1.0
    resource_units: int = 5000
    ru_window_s: float = 10.0
    writes: int = 3000
    write_window_s: float = 150.0
    faults: FaultConfig = field(default_factory=FaultConfig)
    shuffle_batch: bool = True
    page_size: int = 100  # default page of /users, group members and /users/delta (without $top)
    delta_expiry: str = "410"  # expired delta token: "410" (Gone + Location) or "syncStateNotFound" (400)

    def __post_init__(self) -> None:
        if self.delta_expiry not in ("410", "syncStateNotFound"):
            msg = "delta_expiry must be '410' or 'syncStateNotFound'"
            raise ValueError(msg)
        if self.page_size < 1:
            msg = "page_size must be at least 1"
            raise ValueError(msg)

    def limits(self) -> Limits:
        """The throttling limits."""
        return Limits(
            self.resource_units, self.ru_window_s, self.writes, self.write_window_s, self.time_scale
        )

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
