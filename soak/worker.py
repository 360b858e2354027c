"""``python -m soak.worker --events FILE``: one queue worker process, as ``provisioning.entrypoints.local --role worker``
runs it, that also records what it is doing so the soak's driver can attribute a SIGKILL.

Each line of FILE is a JSON event, written with one ``write`` and flushed before the step it announces:
``start`` (a chunk message was handed to the function), ``outcomes`` (the worker is about to store a
chunk's outcomes), ``end`` (the function returned or raised). Only job ids, chunk numbers and message
ids are written, never a user, number or address.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import azure.functions as func

from provisioning.core.models import Outcome
from provisioning.entrypoints.local.host import Function
from provisioning.entrypoints.local.runner import run_worker
from provisioning.entrypoints.wiring import Services, services


class EventLog:
    """Appends one JSON line per event; each line goes out in a single ``os.write``, so a kill never
    leaves half a line, and an event is on disk before the step it announces begins."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._pid = os.getpid()

    def record(self, event: str, **fields: Any) -> None:
        line = json.dumps({"t": time.time(), "pid": self._pid, "ev": event, **fields}) + "\n"
        os.write(self._fd, line.encode("utf-8"))


def _chunks_of(body: bytes) -> tuple[str | None, list[int]]:
    """The job id and chunk numbers of a work message (None and [] for one that does not parse)."""
    try:
        data = json.loads(body)
    except ValueError:
        return None, []
    if not isinstance(data, dict):
        return None, []
    job, listed = data.get("job"), data.get("chunks")
    spans = listed if isinstance(listed, list) else [data]
    chunks = [c.get("chunk") for c in spans if isinstance(c, dict)]
    return (job if isinstance(job, str) else None), [c for c in chunks if isinstance(c, int)]


def recorded(function: Function, events: EventLog) -> Function:
    """*function* with a ``start`` event before each call and an ``end`` event after it."""

    def call(**kwargs: Any) -> Any:
        message = kwargs.get(function.arg)
        fields: dict[str, Any] = {"fn": function.name}
        if isinstance(message, func.QueueMessage):
            job, chunks = _chunks_of(message.get_body())
            fields |= {"job": job, "chunks": chunks, "msg": message.id, "dequeue": message.dequeue_count}
        events.record("start", **fields)
        ok = False
        try:
            _instrument(services(), events)
            result = function.call(**kwargs)
            ok = True
            return result
        finally:
            events.record("end", ok=ok, **fields)

    return replace(function, call=call)


_instrumented = threading.Lock()


def _instrument(built: Services, events: EventLog) -> None:
    """Record ``outcomes`` just before the job store saves a chunk's outcomes (once per process)."""
    with _instrumented:
        jobs = built.jobs
        if getattr(jobs, "_soak_recorded", False):
            return
        original = jobs.complete_chunk

        def complete_chunk(job_id: str, chunk: int, outcomes: Sequence[Outcome]) -> bool:
            if outcomes:
                events.record("outcomes", job=job_id, chunk=chunk, rows=len(outcomes))
            return original(job_id, chunk, outcomes)

        setattr(jobs, "complete_chunk", complete_chunk)  # noqa: B010 - an instance attribute, on purpose
        setattr(jobs, "_soak_recorded", True)  # noqa: B010


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m soak.worker", description=__doc__)
    parser.add_argument("--events", type=Path, required=True, help="append the JSON events here")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args()
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    events = EventLog(args.events)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    events.record("ready")
    run_worker(os.environ, wrap=lambda function: recorded(function, events))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
