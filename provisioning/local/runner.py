"""The local runner: drives the app's decorated functions against Azurite with the host's semantics.

The Functions host (Core Tools) cannot be installed here, so this plays its part for the demo and the
tests: blob-created events, queue polling (several worker processes if asked), HTTP routes with keys,
and the timer on demand. Everything it calls is the same function the host would call.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import azure.functions.timer as ft

from provisioning.local.blobs import BlobEvents
from provisioning.local.host import Function, QueueOptions, index, load_app, queue_options
from provisioning.local.http import LocalHttp
from provisioning.local.queues import QueuePoller, poll_forever, wait_idle

log = logging.getLogger(__name__)


class LocalRunner:
    """All triggers of ``function_app.app``; queue workers in this process or in *workers* children."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        port: int = 0,
        workers: int = 0,
        options: QueueOptions | None = None,
    ) -> None:
        self.env = dict(env)
        self.functions = index(load_app(), self.env)
        self.options = options or queue_options()
        self.stop_event = threading.Event()
        self.function_key = self.env.get("PROVISIONING_LOCAL_FUNCTION_KEY") or secrets.token_urlsafe(24)
        self.master_key = self.env.get("PROVISIONING_LOCAL_MASTER_KEY") or secrets.token_urlsafe(24)
        self.http = LocalHttp(
            self.functions,
            function_key=self.function_key,
            master_key=self.master_key,
            run_admin=self.run_function,
            port=port,
        )
        self.blob_events = [
            BlobEvents(f, self._connection(f), self.options) for f in self._of_kind("blobTrigger")
        ]
        self.pollers = [
            QueuePoller(f, self._connection(f), self.options, stop=self.stop_event)
            for f in self._of_kind("queueTrigger")
        ]
        self.workers = workers
        self.children: list[subprocess.Popen[bytes]] = []

    def _of_kind(self, kind: str) -> list[Function]:
        return [f for f in self.functions if f.kind == kind]

    def _connection(self, function: Function) -> str:
        name = str(function.trigger.get("connection") or "AzureWebJobsStorage")
        value = self.env.get(name) or self.env.get("AzureWebJobsStorage")
        if not value:
            msg = f"the local runner needs a connection string in {name} (Azurite's)"
            raise KeyError(msg)
        return value

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self, *, blob_interval_s: float = 0.25) -> None:
        """Serve HTTP, deliver blob events, and start the queue workers."""
        self.http.start()
        for events in self.blob_events:
            threading.Thread(target=events.run, args=(self.stop_event, blob_interval_s), daemon=True).start()
        if self.workers > 0:
            self.children = [self.spawn_worker() for _ in range(self.workers)]
        else:
            poll_forever(self.pollers)
        log.info("local runner at %s (%d worker processes)", self.http.url, self.workers)

    def stop(self) -> None:
        self.stop_event.set()
        for child in self.children:
            child.terminate()
        for child in self.children:
            child.wait(timeout=10)
        self.http.stop()

    def spawn_worker(self) -> subprocess.Popen[bytes]:
        """A child process polling every queue (``python -m provisioning.local --role worker``)."""
        command = [sys.executable, "-m", "provisioning.local", "--role", "worker"]
        return subprocess.Popen(command, env={**os.environ, **self.env}, start_new_session=True)  # noqa: S603 - our own module

    # --- on demand (tests, demo, admin API) ------------------------------------------------------

    def deliver_blobs(self) -> int:
        """Deliver new blobs now; returns how many."""
        return sum(events.deliver_new() for events in self.blob_events)

    def drain(self, timeout: float = 60.0) -> bool:
        """Wait until every trigger queue is empty."""
        return wait_idle(self.pollers, timeout)

    def work_until_idle(self, timeout: float = 120.0) -> None:
        """Work every queue in this thread until all are empty (tests: deterministic, no threads)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(p.run_once() for p in self.pollers) == 0 and wait_idle(self.pollers, 0.5):
                return
        msg = f"queues not empty after {timeout:.0f} s"
        raise TimeoutError(msg)

    def run_function(self, name: str) -> None:
        """Run a timer-triggered function now (``POST /admin/functions/<name>``)."""
        function = next((f for f in self.functions if f.name == name), None)
        if function is None or function.kind != "timerTrigger":
            raise KeyError(name)
        function.call(**{function.arg: ft.TimerRequest(past_due=False)})

    def describe(self) -> dict[str, object]:
        """What a client needs: the URL and the keys (written to the ready file)."""
        return {"url": self.http.url, "functionKey": self.function_key, "masterKey": self.master_key}


def run_worker(env: Mapping[str, str]) -> None:
    """A worker process: poll every queue trigger until terminated."""
    functions = index(load_app(), env)
    options = queue_options()
    stop = threading.Event()
    pollers = []
    for function in functions:
        if function.kind == "queueTrigger":
            connection = env.get(str(function.trigger.get("connection"))) or env["AzureWebJobsStorage"]
            pollers.append(QueuePoller(function, connection, options, stop=stop))
    for thread in poll_forever(pollers):
        thread.join()


def write_ready(path: Path, runner: LocalRunner) -> None:
    """Write the ready file atomically (the demo and the tests wait for it)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(runner.describe()), encoding="utf-8")
    tmp.replace(path)
