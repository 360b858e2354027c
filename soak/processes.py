"""The soak's processes: bench's stack (Azurite, the Graph sandbox) plus the runner host and SIGKILLs.

Every process runs in a session of its own (so a SIGKILL of a worker takes nothing else with it) and
is stopped when the ``Processes`` block ends, whatever happened. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from bench.stack import ROOT, BenchError, Sandbox, Stack, tail

__all__ = ["ROOT", "Processes", "Sandbox", "SoakError", "tail"]


class SoakError(BenchError):
    """The soak could not run or did not finish (a process died, a wait or the deadline ran out)."""


class Processes(Stack):
    """Started processes, each with its log file in *work*; all stopped on exit."""

    error = SoakError

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL, no warning: the chaos the soak is about."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.procs = [p for p in self.procs if p[1] is not proc]

    def soak_sandbox(self, seed: Path, *, time_scale: float, record: Path) -> Sandbox:
        """The Graph sandbox as a process (throttling on, windows shrunk by *time_scale*), recording its
        Graph traffic into *record* for the contract check."""
        return self.sandbox(
            "sandbox", seed, latency_ms=0.0, throttle=True, time_scale=time_scale, record=record
        )

    def host(self, env: Mapping[str, str]) -> dict[str, str]:
        """The local runner without queue workers (blob events and HTTP); its ready file."""
        ready = self.work / "host.ready.json"
        args = [sys.executable, "-m", "provisioning.entrypoints.local", "--port", "0", "--no-queues",
                "--ready-file", str(ready), "--log-level", "warning"]  # fmt: skip
        proc = self.spawn("host", args, env)
        self.wait_for_file(ready, proc, self.work / "host.log", 120)
        described: dict[str, str] = json.loads(ready.read_text(encoding="utf-8"))
        return described
