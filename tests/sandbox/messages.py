"""Transport-neutral request and reply values, and Graph's response envelope (ids, dates, errors).

The HTTP server and the ``$batch`` executor both speak in these values, so one Graph pipeline serves
direct calls and inner batch requests alike.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate
from typing import Any

JsonObject = dict[str, Any]


@dataclass(frozen=True)
class Request:
    """One HTTP request (or one inner ``$batch`` request); header names are lower-case."""

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """A header value by case-insensitive name."""
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Reply:
    """What to answer: status, headers, a JSON body (or none), or ``drop`` to close without answering."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False
    delay_s: float = 0.0

    def encoded(self) -> bytes:
        """The body as bytes (empty for no body)."""
        if self.body is None:
            return b""
        return json.dumps(self.body, separators=(",", ":")).encode("utf-8")


def new_guid() -> str:
    """A fresh lower-case GUID string."""
    return str(uuid.uuid4())


def utc_now_iso() -> str:
    """The current time as Graph writes it in ``innerError.date`` (seconds precision, ``Z``)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def http_date() -> str:
    """The current time as an HTTP ``Date`` header value."""
    return formatdate(usegmt=True)


def graph_error(status: int, code: str, message: str) -> Reply:
    """A Graph OData error reply; ids in ``innerError`` are filled in by ``stamp``."""
    inner: JsonObject = {"date": utc_now_iso()}
    body = {"error": {"code": code, "message": message, "innerError": inner}}
    return Reply(status, body, {"Content-Type": "application/json"})


def json_reply(status: int, body: Any) -> Reply:
    """A JSON reply with Graph's content type."""
    ctype = (
        "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
    )
    return Reply(status, body, {"Content-Type": ctype})


def no_content() -> Reply:
    """A 204 reply."""
    return Reply(204)


def stamp(reply: Reply, request: Request, *, diagnostic: bool = True) -> Reply:
    """Add Graph's correlation headers: fresh ``request-id``, echoed ``client-request-id``, ``Date``."""
    request_id = new_guid()
    client_request_id = request.header("client-request-id") or request_id
    reply.headers["request-id"] = request_id
    reply.headers["client-request-id"] = client_request_id
    reply.headers["Date"] = http_date()
    if diagnostic:
        reply.headers["x-ms-ags-diagnostic"] = json.dumps(
            {
                "ServerInfo": {
                    "DataCenter": "Sandbox",
                    "Slice": "E",
                    "Ring": "0",
                    "ScaleUnit": "000",
                    "RoleInstance": "SANDBOX01",
                    "ADSiteName": "LOOPBACK",
                }
            },
            separators=(",", ":"),
        )
    error = reply.body.get("error") if isinstance(reply.body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("innerError"), dict):
        error["innerError"]["request-id"] = request_id
        error["innerError"]["client-request-id"] = client_request_id
    return reply
