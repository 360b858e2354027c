"""Traffic recording: one JSON line per Graph request the sandbox answers, for the SDK contract checker.

Set ``GRAPH_SANDBOX_RECORD=<path.jsonl>`` before a sandbox starts (or give ``SandboxApp(record=...)``)
and every Graph request (``/v1.0/...``, ``/beta/...``; never the token service or ``/_sandbox/``
control calls) is appended to that file, with its answer. A ``$batch`` envelope is one line holding its
inner requests and inner statuses. Several sandboxes, threads and processes may share one file: each
record is a single ``write`` on an ``O_APPEND`` descriptor, so lines never interleave.
``tests/contract/check.py`` reads the file.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from tests.sandbox.messages import JsonObject, Reply, Request
from tests.sandbox.routes import split_version

ENV_RECORD = "GRAPH_SANDBOX_RECORD"
FORMAT_VERSION = 1
_DROPPED_HEADERS = frozenset({"authorization"})  # never written: the recording is test output, not a secret
_MAX_TEXT = 2000  # a body that is not JSON is kept as text, cut to this many characters


class Recorder:
    """Appends one record per Graph request to *path* (created with its folder when missing)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> Recorder | None:
        """The recorder ``GRAPH_SANDBOX_RECORD`` asks for, or None when it is unset or empty."""
        path = os.environ.get(ENV_RECORD, "").strip()
        return cls(path) if path else None

    def observe(self, request: Request, reply: Reply) -> None:
        """Record *request* and *reply* when the request is a Graph call; anything else is ignored."""
        version, rest = split_version(request.path)
        if version is None:
            return
        line = json.dumps(record_of(request, reply, version, rest), separators=(",", ":"), default=str)
        data = (line + "\n").encode("utf-8")
        with self._lock:  # one write per record: O_APPEND keeps concurrent writers' lines whole
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)


def record_of(request: Request, reply: Reply, version: str, rest: str) -> JsonObject:
    """The JSON record of one Graph request and its answer (see tests/contract/README.md)."""
    headers = {k.lower(): v for k, v in request.headers.items() if k.lower() not in _DROPPED_HEADERS}
    record: JsonObject = {
        "v": FORMAT_VERSION,
        "ts": round(time.time(), 3),
        "pid": os.getpid(),
        "test": os.environ.get("PYTEST_CURRENT_TEST"),  # which test was running (in-process sandboxes)
        "method": request.method,
        "path": request.path,
        "version": version,
        "query": dict(request.query),
        "headers": headers,
        "user_agent": headers.get("user-agent"),
        "authorized": "authorization" in {k.lower() for k in request.headers},
        "status": reply.status,
        "dropped": reply.drop,
        "response_content_type": reply.headers.get("Content-Type"),
    }
    record.update(_body("body", request.body))
    record["response"] = reply.body
    if rest.strip("/") == "$batch":
        record["batch"] = _batch_summary(record.get("body"), reply.body)
    return record


def _body(key: str, raw: bytes) -> JsonObject:
    if not raw:
        return {key: None}
    text = raw.decode("utf-8", errors="replace")
    try:
        return {key: json.loads(text)}
    except ValueError:
        return {key: None, f"{key}_text": text[:_MAX_TEXT]}


def _batch_summary(body: Any, answer: Any) -> JsonObject:
    """Inner requests in array order with the status each got (None when the envelope held no answer)."""
    items = body.get("requests") if isinstance(body, dict) else None
    responses = answer.get("responses") if isinstance(answer, dict) else None
    statuses = {str(r.get("id")).lower(): r.get("status") for r in responses or [] if isinstance(r, dict)}
    inner = [
        {
            "id": item.get("id"),
            "method": item.get("method"),
            "url": item.get("url"),
            "dependsOn": item.get("dependsOn"),
            "status": statuses.get(str(item.get("id")).lower()),
        }
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    ]
    return {"requests": inner, "count": len(inner)}
