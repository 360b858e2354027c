"""``python -m bench.counting_runner``: ``python -m provisioning.entrypoints.local`` with every function call counted.

Same arguments as the local runner. Each call of a triggered function (blob, queue, poison, HTTP) is
appended as one JSON line to the file named by ``BENCH_INVOCATIONS``: function, trigger kind, success,
start/end times and, for queue triggers, the message id and dequeue count. The worker processes run this
module too, and stay in the runner's process group, so stopping the runner's group stops them all.
Nothing else changes: the functions, the polling and host.json's settings are the runner's own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import azure.functions as func

from provisioning.entrypoints.local import runner
from provisioning.entrypoints.local.host import Function

_lock = threading.Lock()


def _record(entry: dict[str, Any]) -> None:
    path = os.environ.get("BENCH_INVOCATIONS")
    if not path:
        return
    line = json.dumps(entry) + "\n"
    with _lock, open(path, "a", encoding="utf-8") as out:  # O_APPEND: whole lines from every process
        out.write(line)


def _counted(function: Function) -> Function:
    def call(**kwargs: Any) -> Any:
        start, ok = time.time(), False
        try:
            result = function.call(**kwargs)
            ok = True
            return result
        finally:
            entry: dict[str, Any] = {
                "fn": function.name,
                "kind": function.kind,
                "ok": ok,
                "start": start,
                "end": time.time(),
                "pid": os.getpid(),
            }
            argument = kwargs.get(function.arg)
            if isinstance(argument, func.QueueMessage):
                entry["id"] = argument.id
                entry["dequeue"] = argument.dequeue_count
            _record(entry)

    return replace(function, call=call)


_index: Callable[[func.FunctionApp, Mapping[str, str]], list[Function]] = getattr(runner, "index")  # noqa: B009


def _counting_index(app: func.FunctionApp, env: Mapping[str, str]) -> list[Function]:
    return [_counted(f) for f in _index(app, env)]


def _spawn_worker(self: runner.LocalRunner) -> subprocess.Popen[bytes]:
    # Workers log at warning (BENCH_WORKER_LOG_LEVEL): the runner's own workers log every storage request
    # at info into one file, a cost the Functions host (sampled telemetry) does not have.
    level = os.environ.get("BENCH_WORKER_LOG_LEVEL", "warning")
    command = [sys.executable, "-m", "bench.counting_runner", "--role", "worker", "--log-level", level]
    return subprocess.Popen(command, env={**os.environ, **self.env})  # noqa: S603 - our own module


setattr(runner, "index", _counting_index)  # noqa: B010 - the runner module's own global
runner.LocalRunner.spawn_worker = _spawn_worker  # type: ignore[method-assign]

if __name__ == "__main__":
    from provisioning.entrypoints.local.__main__ import main

    raise SystemExit(main())
