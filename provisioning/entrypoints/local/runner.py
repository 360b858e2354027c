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
from collections.abc import Callable, Mapping
from pathlib import Path

import azure.functions.timer as ft

from provisioning.entrypoints.local.blobs import BlobEvents
from provisioning.entrypoints.local.host import (
    Function,
    QueueOptions,
    blob_parallelism,
    index,
    load_app,
    queue_options,
)
from provisioning.entrypoints.local.http import LocalHttp
from provisioning.entrypoints.local.queues import QueuePoller, poll_forever, wait_idle

log = logging.getLogger(__name__)

DEFAULT_LOCK_S = 300  # how long a received message stays invisible between renewals


def lock_seconds(env: Mapping[str, str]) -> int:
    """``PROVISIONING_LOCAL_LOCK_S``: seconds a running message is held invisible (renewed at half).

    A dead worker's message comes back after at most this long; the soak sets it low so killed chunks
    are redelivered quickly. Raises ``ValueError`` naming the setting when it is not a whole number >= 2.
    """
    text = env.get("PROVISIONING_LOCAL_LOCK_S", "").strip()
    if not text:
        return DEFAULT_LOCK_S
    if not text.isdigit() or int(text) < 2:
        msg = f"PROVISIONING_LOCAL_LOCK_S={text!r}: give a whole number of seconds, at least 2"
        raise ValueError(msg)
    return int(text)


class LocalRunner:
    """All triggers of ``function_app.app``; queue workers in this process or in *workers* children."""

    def __init__(
        self,
        env: Mapping[str, str],
        *,
        port: int = 0,
        workers: int = 0,
        options: QueueOptions | None = None,
        poll_queues: bool = True,
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
        lock_s = lock_seconds(self.env)
        self.pollers = [
            QueuePoller(f, self._connection(f), self.options, lock_s=lock_s, stop=self.stop_event)
            for f in self._of_kind("queueTrigger")
        ]
        self.workers = workers
        self.poll_queues = poll_queues
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
        """Serve HTTP, deliver blob events, and start the queue workers (unless ``poll_queues`` is off:
        then another process works the queues, as the soak's driver does with its own workers)."""
        self.http.start()
        for events in self.blob_events:
            threading.Thread(
                target=events.run,
                args=(self.stop_event, blob_interval_s),
                kwargs={"parallelism": blob_parallelism()},
                daemon=True,
            ).start()
        if self.poll_queues and self.workers > 0:
            self.children = [self.spawn_worker() for _ in range(self.workers)]
        elif self.poll_queues:
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
        """A child process polling every queue (``python -m provisioning.entrypoints.local --role worker``)."""
        command = [sys.executable, "-m", "provisioning.entrypoints.local", "--role", "worker"]
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


def run_worker(env: Mapping[str, str], *, wrap: Callable[[Function], Function] | None = None) -> None:
    """A worker process: poll every queue trigger until terminated.

    *wrap* may replace each queue function (the soak's worker records every call it starts and ends).
    """
    functions = index(load_app(), env)
    options = queue_options()
    lock_s = lock_seconds(env)
    stop = threading.Event()
    pollers = []
    for function in functions:
        if function.kind == "queueTrigger":
            connection = env.get(str(function.trigger.get("connection"))) or env["AzureWebJobsStorage"]
            target = function if wrap is None else wrap(function)
            pollers.append(QueuePoller(target, connection, options, lock_s=lock_s, stop=stop))
    for thread in poll_forever(pollers):
        thread.join()


def write_ready(path: Path, runner: LocalRunner) -> None:
    """Write the ready file atomically (the demo and the tests wait for it)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(runner.describe()), encoding="utf-8")
    tmp.replace(path)
