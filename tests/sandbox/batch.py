"""JSON batching (``POST /{version}/$batch``): validation, ``dependsOn`` order, 424 for dependents of
failed requests, and per-item authorisation, throttling and counting through ``GraphService``."""

from __future__ import annotations

import json
import random
import threading
from typing import Any
from urllib.parse import parse_qsl

from tests.sandbox.graph import GraphService, Operation
from tests.sandbox.messages import JsonObject, Reply, Request, graph_error, json_reply, stamp
from tests.sandbox.tokens import AccessClaims

MAX_REQUESTS = 20
_INNER_HEADERS = ("content-type", "retry-after", "location", "client-request-id", "request-id")


class BatchRejected(Exception):
    """The whole batch is malformed (envelope 400)."""


class BatchRunner:
    """Executes batches; shuffles the order of responses (seeded) as Graph may reorder them."""

    def __init__(self, service: GraphService, *, shuffle: bool = True, seed: int = 0) -> None:
        self.service = service
        self.shuffle = shuffle
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def run(self, request: Request, claims: AccessClaims, version: str) -> Reply:
        """The envelope reply: 200 with per-item responses, or 400 for a malformed batch."""
        try:
            items = _ordered(_validate(request))
        except BatchRejected as exc:
            return graph_error(400, "BadRequest", str(exc))
        statuses: dict[str, int] = {}
        responses: list[JsonObject] = []
        delay = 0.0
        for item in items:
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
        headers = {str(k).lower(): str(v) for k, v in (item.get("headers") or {}).items()}
        inner = Request(item["method"].upper(), item["url"], headers=headers)
        if any(not 200 <= statuses[dep.lower()] < 300 for dep in item.get("dependsOn", [])):
            return stamp(graph_error(424, "FailedDependency", "The request could not be processed because a "
                                     "request it depends on failed."), inner, diagnostic=False)  # fmt: skip
        if "body" in item and "content-type" not in headers:
            return stamp(graph_error(400, "BadRequest", "Content-Type header must be specified when a body is "
                                     "present."), inner, diagnostic=False)  # fmt: skip
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


def _validate(request: Request) -> list[JsonObject]:
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
    for item in items:
        depends = item.get("dependsOn", [])
        if not isinstance(depends, list) or any(
            not isinstance(d, str) or d.lower() not in seen for d in depends
        ):
            msg = f"Request '{item['id']}' depends on an unknown request id."
            raise BatchRejected(msg)
    return items


def _ordered(items: list[JsonObject]) -> list[JsonObject]:
    """Items in an order that honours ``dependsOn`` (stable otherwise); 400 on a cycle."""
    done: set[str] = set()
    order: list[JsonObject] = []
    pending = list(items)
    while pending:
        ready = [i for i in pending if all(d.lower() in done for d in i.get("dependsOn", []))]
        if not ready:
            msg = "The dependsOn references of the batch form a cycle."
            raise BatchRejected(msg)
        for item in ready:
            done.add(item["id"].lower())
            order.append(item)
        pending = [i for i in pending if i["id"].lower() not in done]
    return order


def _response(item_id: str, reply: Reply) -> JsonObject:
    headers = {
        k: v for k, v in reply.headers.items() if k.lower() in _INNER_HEADERS or k.lower().startswith("x-ms-")
    }
    out: dict[str, Any] = {"id": item_id, "status": reply.status, "headers": headers}
    if reply.body is not None:
        out["body"] = reply.body
    return out
