"""Seeded fault injection: transient statuses, dropped connections, read timeouts and slow replies.

A fault is drawn per Graph operation from one seeded RNG, so the same sequence of requests meets the
same faults. Faults leave the tenant untouched, except in ``after_commit`` mode, where a 500, 504,
drop or timeout drawn for a write is applied *after* the write committed (the POST that timed out
after Graph applied it). With ``batch_rate``, whole ``$batch`` envelopes also meet faults (from a
second seeded RNG): the client then sees a dropped connection, a read timeout or an envelope status.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field, replace
from typing import Any

KINDS: tuple[str, ...] = ("429", "500", "503", "504", "drop", "timeout", "slow")
DEFAULT_MIX: dict[str, float] = {"429": 4, "500": 1, "503": 2, "504": 1, "drop": 1, "timeout": 0, "slow": 1}
STATUS_KINDS = frozenset({"429", "500", "503", "504"})
COMMIT_KINDS = frozenset({"500", "504", "drop", "timeout"})


@dataclass(frozen=True)
class FaultConfig:
    """Fault rate (0..1), seed, kind weights, and timings; off when ``rate`` is 0."""

    rate: float = 0.0
    seed: int = 0
    mix: dict[str, float] = field(default_factory=lambda: dict(DEFAULT_MIX))
    after_commit: bool = False
    retry_after_s: int = 1
    timeout_s: float = 30.0
    slow_s: float = 2.0
    batch_rate: float = 0.0  # share of $batch envelopes that meet a fault of their own (same mix)

    @classmethod
    def from_dict(cls, data: dict[str, Any], base: FaultConfig | None = None) -> FaultConfig:
        """A config from JSON keys (``rate``, ``seed``, ``mix``, ``after_commit``, ...), over ``base``."""
        known = {"rate", "seed", "mix", "after_commit", "retry_after_s", "timeout_s", "slow_s", "batch_rate"}
        unknown = set(data) - known
        if unknown:
            msg = f"unknown fault settings: {sorted(unknown)}"
            raise ValueError(msg)
        config = replace(base or cls(), **data)
        if set(config.mix) - set(KINDS):
            msg = f"unknown fault kinds: {sorted(set(config.mix) - set(KINDS))}"
            raise ValueError(msg)
        return config


@dataclass(frozen=True)
class Fault:
    """One drawn fault."""

    kind: str

    @property
    def status(self) -> int | None:
        """The HTTP status it answers with, when it is a status fault."""
        return int(self.kind) if self.kind in STATUS_KINDS else None

    def after_commit(self, config: FaultConfig, is_write: bool) -> bool:
        """Whether the operation runs before this fault strikes."""
        return self.kind == "slow" or (config.after_commit and is_write and self.kind in COMMIT_KINDS)


class FaultInjector:
    """Draws faults from a seeded RNG; thread-safe."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.configure(config)

    def configure(self, config: FaultConfig) -> None:
        """Replace the config and restart the RNG from its seed."""
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)
            self._batch_rng = random.Random(f"batch-{config.seed}")
            self._kinds = [k for k in KINDS if config.mix.get(k, 0) > 0]
            self._weights = [config.mix[k] for k in self._kinds]

    def draw(self) -> Fault | None:
        """The fault for the next operation, or None."""
        with self._lock:
            return self._draw(self._rng, self.config.rate)

    def draw_batch(self) -> Fault | None:
        """The fault for the next ``$batch`` envelope as a whole, or None."""
        with self._lock:
            return self._draw(self._batch_rng, self.config.batch_rate)

    def _draw(self, rng: random.Random, rate: float) -> Fault | None:
        if rate <= 0 or not self._kinds or rng.random() >= rate:
            return None
        return Fault(rng.choices(self._kinds, self._weights)[0])
