"""The soak's processes: Azurite, the Graph sandbox, the runner host and the worker processes.

Every process runs in a session of its own (so a SIGKILL of a worker takes nothing else with it) and
is stopped when the ``Processes`` block ends, whatever happened: SIGTERM to its group, SIGKILL after
5 s. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests import azurite

ROOT = Path(__file__).resolve().parents[1]


class SoakError(RuntimeError):
    """The soak could not run or did not finish (a process died, a wait or the deadline ran out)."""


def tail(path: Path, lines: int = 30) -> str:
    """The last *lines* of a log, for error messages."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            env[key.strip()] = value.strip()
    return env


class Processes:
    """Started processes, each with its log file in *work*; all stopped on exit."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.procs: list[subprocess.Popen[bytes]] = []

    def __enter__(self) -> Processes:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for proc in reversed(list(self.procs)):
            self.stop(proc)

    def spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        with (self.work / f"{name}.log").open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own modules with fixed arguments
                args, stdout=out, stderr=subprocess.STDOUT, env=dict(env), cwd=ROOT, start_new_session=True
            )
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL, no warning: the chaos the soak is about."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        self.procs = [p for p in self.procs if p is not proc]

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the process's group, SIGKILL after 5 s."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        self.procs = [p for p in self.procs if p is not proc]

    def wait_for_file(self, path: Path, proc: subprocess.Popen[bytes], name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists():
                return
            if proc.poll() is not None:
                msg = f"{name} exited with {proc.returncode}:\n{tail(self.work / f'{name}.log')}"
                raise SoakError(msg)
            time.sleep(0.1)
        msg = f"{name} did not write {path} in {timeout:.0f} s:\n{tail(self.work / f'{name}.log')}"
        raise SoakError(msg)

    # --- the servers ------------------------------------------------------------------------------

    def azurite(self) -> azurite.Azurite:
        """An in-memory Azurite of the soak's own, on free ports."""
        server, proc = azurite.start(self.work / "azurite.log")
        self.procs.append(proc)
        return server

    def sandbox(self, seed: Path, *, time_scale: float) -> SandboxControl:
        """The Graph sandbox as a process (throttling on, windows shrunk by *time_scale*)."""
        env_file = self.work / "sandbox.env"
        args = [
            sys.executable, "-m", "tests.sandbox", "--port", "0", "--seed", str(seed),
            "--env-file", str(env_file), "--state-dir", str(self.work / "sandbox-state"),
            "--throttle", "on", "--time-scale", str(time_scale),
        ]  # fmt: skip
        proc = self.spawn("sandbox", args, {**os.environ, "PYTHONPATH": str(ROOT)})
        self.wait_for_file(env_file, proc, "sandbox", 120)
        return SandboxControl(read_env_file(env_file))

    def host(self, env: Mapping[str, str]) -> dict[str, str]:
        """The local runner without queue workers (blob events and HTTP); its ready file."""
        ready = self.work / "host.ready.json"
        args = [sys.executable, "-m", "provisioning.local", "--port", "0", "--no-queues",
                "--ready-file", str(ready), "--log-level", "warning"]  # fmt: skip
        proc = self.spawn("host", args, env)
        self.wait_for_file(ready, proc, "host", 120)
        described: dict[str, str] = json.loads(ready.read_text(encoding="utf-8"))
        return described


class SandboxControl:
    """The sandbox's settings and its ``/_sandbox/*`` control endpoints."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self._verify = ssl.create_default_context(cafile=env["SSL_CERT_FILE"])

    def control(self, method: str, path: str, body: object = None) -> Any:
        with httpx.Client(base_url=self.env["SANDBOX_URL"], verify=self._verify, timeout=300) as client:
            response = client.request(method, f"/_sandbox/{path}", json=body)
            response.raise_for_status()
            return response.json() if response.content else None

    def configure(self, changes: Mapping[str, object]) -> None:
        self.control("POST", "config", dict(changes))

    def users(self) -> list[dict[str, Any]]:
        state: dict[str, Any] = self.control("GET", "state")
        users: list[dict[str, Any]] = state["users"]
        return users

    def history(self) -> dict[str, list[dict[str, Any]]]:
        history: dict[str, list[dict[str, Any]]] = self.control("GET", "history")
        return history

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.control("GET", "stats")
        return stats
