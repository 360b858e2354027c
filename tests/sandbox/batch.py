"""JSON batching (``POST /{version}/$batch``): envelope validation (size, ids, shape, ``dependsOn``,
write payloads), 424 for dependents of failed requests, and per-item authorisation, throttling and
counting through ``GraphService``.

Envelope rules (graph-api.md 6; the README lists the sources): an envelope is either fully parallel
(no ``dependsOn``) or fully sequential (the first request has none, every later one depends on exactly
the one before it); a ``dependsOn`` must name a request earlier in the array; a write (POST, PATCH,
PUT) must carry a body, and a body must come with a ``Content-Type`` header. Any breach is a 400 for
the whole envelope, so no item runs.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qsl

from tests.sandbox.graph import GraphService, Operation
from tests.sandbox.messages import JsonObject, Reply, Request, graph_error, json_reply, stamp
from tests.sandbox.tokens import AccessClaims

MAX_REQUESTS = 20
WRITES_WITH_BODY = frozenset({"POST", "PATCH", "PUT"})
MIXED_SHAPE = "Batch should be either fully sequential or fully parallel"
_INNER_HEADERS = ("content-type", "retry-after", "location", "client-request-id", "request-id")
# How long a batch takes: Graph does not document whether an envelope's items run in parallel.
BATCH_LATENCY = ("per-envelope", "per-level", "per-item")


@dataclass(frozen=True)
class BatchLatency:
    """The latency a ``$batch`` costs on top of the one the HTTP handler charges every request.

    ``per-envelope``: nothing more (the whole batch costs one latency, the kindest reading).
    ``per-level``: one more per ``dependsOn`` level after the first (independent requests run in
    parallel, a chain one link after another). ``per-item``: one more per item after the first, the
    items served one after another (the strictest reading). Items answered 424 never run and cost
    nothing. The wait is taken before the item runs, so its effect lands when it would.
    """

    model: str = "per-envelope"
    latency_s: float = 0.0
    sleep: Callable[[float], None] = time.sleep

    def before(self, level: int, ran: int, levels_waited: int) -> int:
        """Wait before an item at *level* (0 = no dependency) after *ran* items already ran, given
        *levels_waited* levels already paid for; returns the levels paid for now."""
        if self.latency_s <= 0 or self.model == "per-envelope":
            return levels_waited
        if self.model == "per-item":
            if ran > 0:
                self.sleep(self.latency_s)
            return levels_waited
        if level > levels_waited:  # per-level: the handler's latency paid for level 0
            self.sleep(self.latency_s * (level - levels_waited))
            return level
        return levels_waited


class BatchRejected(Exception):
    """The whole batch is malformed (envelope 400)."""


class BatchRunner:
    """Executes batches; shuffles the order of responses (seeded) as Graph may reorder them."""

    def __init__(
        self,
        service: GraphService,
        *,
        shuffle: bool = True,
        seed: int = 0,
        latency: BatchLatency | None = None,
    ) -> None:
        self.service = service
        self.shuffle = shuffle
        self.latency = latency or BatchLatency()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def run(self, request: Request, claims: AccessClaims, version: str) -> Reply:
        """The envelope reply: 200 with per-item responses, or 400 for a malformed batch."""
        try:
            items = validate(request)
        except BatchRejected as exc:
            return graph_error(400, "BadRequest", str(exc))
        statuses: dict[str, int] = {}
        levels: dict[str, int] = {}
        responses: list[JsonObject] = []
        delay = 0.0
        latency, ran, waited = self.latency, 0, 0
        for item in items:  # dependencies are earlier in the array, so array order honours them
            level = max((levels[d.lower()] + 1 for d in _depends(item)), default=0)
            levels[item["id"].lower()] = level
            if not _blocked(item, statuses):
                waited = latency.before(level, ran, waited)
                ran += 1
            reply = self._item(item, statuses, claims, version)
            statuses[item["id"].lower()] = reply.status
            delay += reply.delay_s
            responses.append(_response(item["id"], reply))
        if self.shuffle:
            with self._lock:
                self._rng.shuffle(responses)
        envelope = json_reply(200, {"responses": responses})
        envelope.delay_s = delay
        return envelope

    def _item(self, item: JsonObject, statuses: dict[str, int], claims: AccessClaims, version: str) -> Reply:
        headers = _headers(item)
        inner = Request(item["method"].upper(), item["url"], headers=headers)
        if _blocked(item, statuses):
            return stamp(graph_error(424, "FailedDependency", "The request could not be processed because a "
                                     "request it depends on failed."), inner, diagnostic=False)  # fmt: skip
        path, _, query = item["url"].partition("?")
        rest = path.lstrip("/")
        if rest.split("/")[0] == "$batch":
            return stamp(graph_error(400, "BadRequest", "Nested batch requests are not supported."), inner,
                         diagnostic=False)  # fmt: skip
        body = item.get("body")
        raw = b"" if body is None else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
        op = Operation(
            inner.method, rest, version, dict(parse_qsl(query)), raw, in_batch=True, headers=headers
        )
        reply = self.service.run(op, claims)
        if reply.drop:  # a lost backend connection surfaces as a gateway timeout for one item
            reply = graph_error(504, "gatewayTimeout", "The gateway did not receive a timely response.")
        return stamp(reply, inner, diagnostic=False)


def validate(request: Request) -> list[JsonObject]:
    """The envelope's requests, in array order; ``BatchRejected`` naming the first rule broken."""
    items = _requests(request)
    _check_ids(items)
    _check_dependencies(items)
    _check_shape(items)
    _check_payloads(items)
    return items


def _requests(request: Request) -> list[JsonObject]:
    try:
        payload = request.json()
    except ValueError as exc:
        msg = "Invalid batch payload format."
        raise BatchRejected(msg) from exc
    items = payload.get("requests") if isinstance(payload, dict) else None
    if not isinstance(items, list) or not items:
        msg = "Invalid batch payload format."
        raise BatchRejected(msg)
    if len(items) > MAX_REQUESTS:
        msg = f"The number of batch requests exceeds the limit of {MAX_REQUESTS}."
        raise BatchRejected(msg)
    return items


def _check_ids(items: list[JsonObject]) -> None:
    seen: set[str] = set()
    for item in items:
        if not (
            isinstance(item, dict)
            and all(isinstance(item.get(k), str) and item[k] for k in ("id", "method", "url"))
        ):
            msg = "Each batch request must have a non-empty id, method and url."
            raise BatchRejected(msg)
        if item["id"].lower() in seen:
            msg = f"Batch request ids must be unique; '{item['id']}' is duplicated."
            raise BatchRejected(msg)
        seen.add(item["id"].lower())
        if item.get("headers") is not None and not isinstance(item["headers"], dict):
            msg = f"The headers of request Id {item['id']} must be an object."
            raise BatchRejected(msg)


def _check_dependencies(items: list[JsonObject]) -> None:
    """Every ``dependsOn`` id names a request earlier in the array (so no cycles, no self-reference)."""
    earlier: set[str] = set()
    for item in items:
        depends = item.get("dependsOn")
        if depends is not None and (
            not isinstance(depends, list)
            or any(not isinstance(d, str) or d.lower() not in earlier for d in depends)
        ):
            msg = f"Invalid dependency for request Id {item['id']}"
            raise BatchRejected(msg)
        earlier.add(item["id"].lower())


def _check_shape(items: list[JsonObject]) -> None:
    """Fully parallel (no ``dependsOn``) or one chain: request i depends on exactly request i-1."""
    if not any(_depends(item) for item in items):
        return
    chain = not _depends(items[0]) and all(
        [d.lower() for d in _depends(item)] == [previous["id"].lower()] for previous, item in pairwise(items)
    )
    if not chain:
        raise BatchRejected(MIXED_SHAPE)


def _check_payloads(items: list[JsonObject]) -> None:
    """A write carries a body (``{}`` when it has nothing to say) and a body carries a Content-Type."""
    for item in items:
        has_body = item.get("body") is not None
        needs_body = item["method"].upper() in WRITES_WITH_BODY
        if (needs_body and not has_body) or (has_body and "content-type" not in _headers(item)):
            msg = f"Write request id : {item['id']} does not contain Content-Type header or body."
            raise BatchRejected(msg)


def _blocked(item: JsonObject, statuses: dict[str, int]) -> bool:
    """Whether a request it depends on failed (so it is answered 424 without running)."""
    return any(not 200 <= statuses[dep.lower()] < 300 for dep in _depends(item))


def _depends(item: JsonObject) -> list[str]:
    depends = item.get("dependsOn")
    return depends if isinstance(depends, list) else []


def _headers(item: JsonObject) -> dict[str, str]:
    return {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}


def _response(item_id: str, reply: Reply) -> JsonObject:
    headers = {
        k: v for k, v in reply.headers.items() if k.lower() in _INNER_HEADERS or k.lower().startswith("x-ms-")
    }
    out: dict[str, Any] = {"id": item_id, "status": reply.status, "headers": headers}
    if reply.body is not None:
        out["body"] = reply.body
    return out
