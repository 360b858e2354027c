"""Request counters: Graph operations (inner batch requests each), batches and token requests."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    """Thread-safe counters behind ``/_sandbox/stats``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with getattr(self, "_lock", threading.Lock()):
            self._requests = self._reads = self._writes = self._throttled = 0
            self._batches = self._tokens = self._faults = 0
            self._by_status: Counter[str] = Counter()
            self._by_operation: Counter[str] = Counter()
            self._faults_by_kind: Counter[str] = Counter()
            self._batch_faults: Counter[str] = Counter()

    def operation(
        self, name: str, status: int | str, *, write: bool, fault: bool = False, fault_kind: str | None = None
    ) -> None:
        """Count one Graph operation with its final status (or ``dropped``) and the fault it met."""
        with self._lock:
            self._requests += 1
            if write:
                self._writes += 1
            else:
                self._reads += 1
            if status == 429:
                self._throttled += 1
            if fault or fault_kind is not None:
                self._faults += 1
            if fault_kind is not None:
                self._faults_by_kind[fault_kind] += 1
            self._by_status[str(status)] += 1
            self._by_operation[name] += 1

    def batch(self) -> None:
        """Count one ``$batch`` envelope."""
        with self._lock:
            self._batches += 1

    def batch_fault(self, kind: str) -> None:
        """Count one fault drawn for a ``$batch`` envelope as a whole."""
        with self._lock:
            self._batch_faults[kind] += 1

    def token(self) -> None:
        """Count one token-endpoint request."""
        with self._lock:
            self._tokens += 1

    def snapshot(self) -> dict[str, Any]:
        """The counters as JSON."""
        with self._lock:
            return {
                "requests": self._requests,
                "reads": self._reads,
                "writes": self._writes,
                "throttled": self._throttled,
                "batches": self._batches,
                "tokens": self._tokens,
                "faults": self._faults,
                "by_status": dict(self._by_status),
                "by_operation": dict(self._by_operation),
                "faults_by_kind": dict(self._faults_by_kind),
                "batch_faults_by_kind": dict(self._batch_faults),
            }
