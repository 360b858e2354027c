"""The processes a benchmark runs against: Azurite, the Graph sandbox, the local Functions runner.

``Stack`` is a context manager: every process it starts runs in its own process group (the runner's
workers join the runner's), and all of them are stopped when the ``with`` block ends, whatever happened
(SIGTERM to the group, SIGKILL after 10 s). Every wait is bounded in time.
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
from typing import Any, Self

import httpx
from azure.storage.blob import BlobServiceClient

from provisioning.core.job_records import job_id_for_blob
from provisioning.storage.account import DEFAULT_NAMES
from tests.azurite import Azurite
from tests.azurite import start as start_azurite

ROOT = Path(__file__).resolve().parents[1]
INPUT = DEFAULT_NAMES["PROVISIONING_INPUT_CONTAINER"]
REPORTS = DEFAULT_NAMES["PROVISIONING_REPORT_CONTAINER"]
WORK_QUEUE = DEFAULT_NAMES["PROVISIONING_WORK_QUEUE"]


class BenchError(RuntimeError):
    """A benchmark could not run (a process died, a wait timed out)."""


def read_env_file(path: Path) -> dict[str, str]:
    env: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.lstrip().startswith("#"):
            env[key.strip()] = value.strip()
    return env


def tail(path: Path, lines: int = 30) -> str:
    """The last *lines* of a log, for error messages."""
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


_LIVE: list[Stack] = []


def stop_all() -> None:
    """Stop every process of every open stack (the suite's SIGTERM handler calls this first)."""
    for stack in reversed(list(_LIVE)):
        stack.close()


class Stack:
    """Started processes, each leading a session of its own with its log in *work*; stopped on exit."""

    error: type[RuntimeError] = BenchError  # what a failed wait raises

    def __init__(self, work: Path) -> None:
        self.work = work
        self.procs: list[tuple[str, subprocess.Popen[bytes], Path]] = []

    def __enter__(self) -> Self:
        _LIVE.append(self)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
        if self in _LIVE:
            _LIVE.remove(self)

    def close(self) -> None:
        for _, proc, _ in reversed(list(self.procs)):
            self.stop(proc)

    # --- processes ------------------------------------------------------------------------------

    def spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        log = self.work / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(  # noqa: S603 - our own modules, fixed arguments
                args, stdout=out, stderr=subprocess.STDOUT, env=dict(env), cwd=ROOT, start_new_session=True
            )
        self.procs.append((name, proc, log))
        return proc

    def stop(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGTERM to the process's group (it leads one), SIGKILL after 10 s."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        # Children left in the group (the runner's workers) once the leader is gone.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        self.procs = [p for p in self.procs if p[1] is not proc]

    def wait_for_file(self, path: Path, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists():
                return
            if proc.poll() is not None:
                msg = f"{log.stem} exited with {proc.returncode}:\n{tail(log)}"
                raise self.error(msg)
            time.sleep(0.1)
        msg = f"{log.stem} did not write {path} in {timeout:.0f} s:\n{tail(log)}"
        raise self.error(msg)

    # --- the three servers ----------------------------------------------------------------------

    def azurite(self) -> str:
        """An in-memory Azurite on free ports; its connection string."""
        return self.azurite_server().connection_string

    def azurite_server(self, *, location: Path | None = None) -> Azurite:
        """Azurite on free ports (its ports, for a proxy in front of it): in memory, or on disk at *location*."""
        server, proc = start_azurite(self.work / "azurite.log", location=location)
        self.procs.append(("azurite", proc, self.work / "azurite.log"))
        return server

    def sandbox(
        self,
        name: str,
        seed: Path,
        *,
        latency_ms: float,
        throttle: bool,
        time_scale: float = 1.0,
        record: Path | None = None,
        batch_latency: str = "per-envelope",
    ) -> Sandbox:
        """The Graph sandbox as a process; with *record*, it records its Graph traffic there (recorder.py);
        *batch_latency* is what a ``$batch`` costs (tests/sandbox/README.md, "Latency and faults")."""
        env_file = self.work / f"{name}.env"
        env_file.unlink(missing_ok=True)
        args = [
            sys.executable, "-m", "tests.sandbox", "--port", "0", "--seed", str(seed),
            "--env-file", str(env_file), "--state-dir", str(self.work / "sandbox-state"),
            "--latency-ms", str(latency_ms), "--throttle", "on" if throttle else "off",
            "--time-scale", str(time_scale), "--batch-latency", batch_latency,
        ]  # fmt: skip
        env = {k: v for k, v in os.environ.items() if k != "GRAPH_SANDBOX_RECORD"}  # no recording by default
        if record is not None:
            env["GRAPH_SANDBOX_RECORD"] = str(record)
        proc = self.spawn(name, args, {**env, "PYTHONPATH": str(ROOT)})
        self.wait_for_file(env_file, proc, self.work / f"{name}.log", 120)
        return Sandbox(read_env_file(env_file), proc)

    def stop_named(self, name: str) -> None:
        """Stop the process started as *name* (and its group), if it is still in the stack."""
        for started, proc, _ in list(self.procs):
            if started == name:
                self.stop(proc)

    def runner(self, name: str, env: Mapping[str, str], *, workers: int) -> dict[str, str]:
        """The local Functions runner (invocations counted, bench.counting_runner); its ready file."""
        ready = self.work / f"{name}.ready.json"
        ready.unlink(missing_ok=True)
        args = [sys.executable, "-m", "bench.counting_runner", "--port", "0", "--workers", str(workers),
                "--ready-file", str(ready), "--log-level", "warning"]  # fmt: skip
        proc = self.spawn(name, args, env)
        self.wait_for_file(ready, proc, self.work / f"{name}.log", 120)
        described: dict[str, str] = json.loads(ready.read_text(encoding="utf-8"))
        return described


class Sandbox:
    """A running sandbox process: its env-file settings and control endpoints."""

    def __init__(self, env: dict[str, str], proc: subprocess.Popen[bytes]) -> None:
        self.env = env
        self.proc = proc
        self.url = env["SANDBOX_URL"]
        self._verify = ssl.create_default_context(cafile=env["SSL_CERT_FILE"])

    def control(self, method: str, path: str, body: object = None, timeout: float = 60) -> Any:
        with httpx.Client(base_url=self.url, verify=self._verify, timeout=timeout) as client:
            response = client.request(method, f"/_sandbox/{path}", json=body)
            response.raise_for_status()
            return response.json() if response.content else None

    def configure(self, changes: Mapping[str, object]) -> None:
        """Change the sandbox's settings while it runs (``POST /_sandbox/config``)."""
        self.control("POST", "config", dict(changes))

    def users(self) -> list[dict[str, Any]]:
        """Every user's state (``GET /_sandbox/state``)."""
        state: dict[str, Any] = self.control("GET", "state", timeout=300)
        users: list[dict[str, Any]] = state["users"]
        return users

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.control("GET", "stats")
        return stats

    def history(self) -> dict[str, list[dict[str, Any]]]:
        history: dict[str, list[dict[str, Any]]] = self.control("GET", "history", timeout=300)
        return history


class PipelineRun:
    """One CSV dropped into the input container of a running runner, and what came of it."""

    def __init__(self, connection: str, ready: Mapping[str, str]) -> None:
        self.service = BlobServiceClient.from_connection_string(connection)
        self.url = ready["url"]
        self.key = {"x-functions-key": ready["functionKey"]}
        self.t0_wall: float | None = None

    def upload(self, path: Path, name: str) -> tuple[str, float]:
        """Upload; returns the job id and the monotonic time just before the upload began."""
        blob = self.service.get_blob_client(INPUT, name)
        self.t0_wall = time.time()
        t0 = time.monotonic()
        with path.open("rb") as data:
            blob.upload_blob(data, overwrite=True, max_concurrency=2)
        return job_id_for_blob(INPUT, name, blob.get_blob_properties().etag), t0

    def wait(
        self, job_id: str, timeout: float, *, on_poll: Any = None, interval: float = 0.25
    ) -> tuple[dict[str, Any], float]:
        """Poll ``GET /api/jobs/{id}`` until completed or rejected; the status and the monotonic time."""
        deadline = time.monotonic() + timeout
        status: dict[str, Any] = {}
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while time.monotonic() < deadline:
                response = client.get(f"/api/jobs/{job_id}", headers=self.key)
                if response.status_code == 200:
                    status = response.json()
                    if status.get("state") in ("completed", "rejected"):
                        return status, time.monotonic()
                if on_poll is not None:
                    on_poll()
                time.sleep(interval)
        msg = f"job {job_id} not done after {timeout:.0f} s; last status {status}"
        raise BenchError(msg)

    def report(self, job_id: str, name: str) -> bytes:
        return bytes(self.service.get_blob_client(REPORTS, f"{job_id}/{name}").download_blob().readall())


def pipeline_env(
    sandbox: Sandbox, connection: str, invocations: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The runner's environment: the sandbox's settings, Azurite, invocation log; nothing else of ours."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PROVISIONING_")}
    env.update(sandbox.env)
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "PROVISIONING_STORAGE": connection,
            "AzureWebJobsStorage": connection,
            "PROVISIONING_SYNC_SCHEDULE": "0 0 2 * * *",
            "BENCH_INVOCATIONS": str(invocations),
        }
    )
    env.update(extra or {})
    return env


def invocation_counts(path: Path, t0_wall: float | None = None) -> dict[str, Any]:
    """Counts from the runner's invocation log (bench.counting_runner), and when each function ran.

    With *t0_wall* (``time.time()`` at the upload), each function's first start and last end are given in
    seconds after it, with its mean and longest call and the most calls running at once.
    """
    by_function: dict[str, dict[str, int]] = {}
    messages: dict[str, set[str]] = {}
    spans: dict[str, list[tuple[float, float]]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            counts = by_function.setdefault(entry["fn"], {"ok": 0, "failed": 0})
            counts["ok" if entry["ok"] else "failed"] += 1
            if "id" in entry:
                messages.setdefault(entry["fn"], set()).add(entry["id"])
            spans.setdefault(entry["fn"], []).append((entry["start"], entry["end"]))
    timing: dict[str, dict[str, float]] = {}
    for name, calls in spans.items():
        if name == "job_status" or t0_wall is None:
            continue
        durations = [end - start for start, end in calls]
        events = sorted([(start, 1) for start, _ in calls] + [(end, -1) for _, end in calls])
        running = peak = 0
        for _, step in events:
            running += step
            peak = max(peak, running)
        timing[name] = {
            "first_start_s": round(min(s for s, _ in calls) - t0_wall, 2),
            "last_end_s": round(max(e for _, e in calls) - t0_wall, 2),
            "mean_call_s": round(sum(durations) / len(durations), 3),
            "max_call_s": round(max(durations), 3),
            "peak_concurrent_calls": peak,
        }
    return {
        "by_function": by_function,
        "distinct_messages": {fn: len(ids) for fn, ids in messages.items()},
        "timing_after_upload": timing,
    }
