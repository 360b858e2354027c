"""JSON ``$batch`` transport: envelopes of at most 20 requests per API version, each either fully
parallel or one sequential chain, answers correlated by id, and throttled or failed items re-sent
(graph-api.md sections 6, 7).

Graph answers an envelope that mixes ``dependsOn`` chains with other requests, or holds two chains,
``400`` as a whole ("Batch should be either fully sequential or fully parallel"), and it requires a
dependency to come earlier in the array. So independent requests share parallel envelopes, and each
chain (a linear ``dependsOn`` sequence) goes alone in a sequential one.

The sender knows HTTP, not operations: it never reorders a chain, and it never re-sends a POST whose
fate is unknown (500/502/504, or an envelope lost on the way back); the caller re-reads state first.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Literal

import httpx

from provisioning.graph.costs import resource_units
from provisioning.graph.failures import odata_error
from provisioning.graph.pacer import Pacer, limit_percentage
from provisioning.graph.retry import BACKOFF_INITIAL, BACKOFF_MAX, parse_retry_after

logger = logging.getLogger(__name__)

MAX_BATCH = 20  # Graph's limit per envelope (graph-api.md section 6)
# A send()'s independent requests of one api go as up to this many parallel envelopes, all in flight at
# once. Graph does not say whether it runs an envelope's items in parallel (graph-api.md section 6): if it
# serves them one after another, a full envelope of 20 takes 20 latencies and spreading a chunk's round
# over 4 envelopes makes it 4 times faster; if it runs them in parallel, the spread costs only more HTTP
# calls (throttling counts inner requests either way, section 6). Beyond 20 requests every envelope is full.
ENVELOPES_PER_ROUND = 4
DEFAULT_CONCURRENCY = ENVELOPES_PER_ROUND  # envelopes of one send() in flight at once
MAX_WAIT = 120.0  # cap on any Retry-After we honour, as in retry.py
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_FAILED_DEPENDENCY = {
    "error": {"code": "FailedDependency", "message": "A request this one depends on failed."}
}


@dataclass(frozen=True)
class BatchRequest:
    """One request inside a ``$batch``; *url* is relative to the version root (``/users/...``)."""

    id: str  # unique within one send() call
    method: str  # GET POST PATCH DELETE
    url: str
    api: Literal["v1.0", "beta"] = "v1.0"
    body: Mapping[str, object] | None = None
    depends_on: tuple[str, ...] = ()  # at most the one request before it in its chain (same call, same api)
    is_write: bool = False  # counts against the write budget (POST/PATCH/DELETE)

    @property
    def idempotent(self) -> bool:
        return self.method.upper() in _IDEMPOTENT


@dataclass(frozen=True)
class BatchResponse:
    """Graph's answer to one request; status 424 for dependents of a failed request, 0 when never answered."""

    id: str
    status: int
    headers: Mapping[str, str]
    body: object  # parsed JSON or None
    request_id: str | None


@dataclass(frozen=True)
class _Answer:
    """One round's answer to one request, and whether the sender may send it again."""

    response: BatchResponse
    retryable: bool = False
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.response.status < 300


class BatchSender:
    """Sends requests through ``POST {graph_root}/{api}/$batch``, paced by a process-wide ``Pacer``.

    Thread-safe: one sender per process may serve every chunk in flight.
    """

    def __init__(
        self,
        http: httpx.Client | Sequence[httpx.Client],
        *,
        graph_root: str,
        pacer: Pacer,
        max_attempts: int = 6,
        sleep: Callable[[float], None] = time.sleep,
        concurrency: int = DEFAULT_CONCURRENCY,
    ) -> None:
        self._pools = [http] if isinstance(http, httpx.Client) else list(http)  # envelopes take turns
        self._turn = itertools.count()
        self._root = graph_root.rstrip("/")
        self._pacer = pacer
        self._max_attempts = max(max_attempts, 1)
        self._sleep = sleep
        self._concurrency = max(concurrency, 1)
        self._lock = threading.Lock()
        self._requests_sent = 0
        self._writes_sent = 0
        self._http_calls = 0

    @property
    def requests_sent(self) -> int:
        """Inner requests sent to Graph, retries included (for cost reporting)."""
        return self._requests_sent

    @property
    def writes_sent(self) -> int:
        """Inner write requests sent to Graph, retries included (for the progress bar's writes/s)."""
        return self._writes_sent

    @property
    def http_calls(self) -> int:
        """``$batch`` envelopes posted, retries included."""
        return self._http_calls

    def send(self, requests: Sequence[BatchRequest]) -> dict[str, BatchResponse]:
        """Every request's final answer by id.

        Inner 429/503 (and 500/502/504 for GET/PATCH/DELETE) are re-sent, with their 424 dependents,
        after the longest Retry-After (or a jittered backoff), up to *max_attempts* rounds. A POST's
        500/502/504 is returned as is. Raises ``ValueError`` for duplicate or unknown ids, and for
        ``dependsOn`` links that are not linear chains (each request depends on at most one, and no
        request is depended on twice), longer than 20 or spanning both APIs.
        """
        pending = _ordered(requests)
        final: dict[str, BatchResponse] = {}
        for attempt in range(1, self._max_attempts + 1):
            answers = _settle(pending, self._round(pending))
            retry = [r for r in pending if answers[r.id].retryable]
            final.update((r.id, answers[r.id].response) for r in pending)
            if not retry or attempt == self._max_attempts:
                break
            wait = max(_wait(answers[r.id], attempt) for r in retry)
            logger.info(
                "$batch: %d of %d requests re-sent in %.1f s (statuses %s), attempt %d of %d",
                len(retry),
                len(pending),
                wait,
                sorted({answers[r.id].response.status for r in retry}),
                attempt + 1,
                self._max_attempts,
            )
            self._sleep(wait)
            again = {r.id for r in retry}
            pending = [replace(r, depends_on=tuple(d for d in r.depends_on if d in again)) for r in retry]
        return {r.id: final[r.id] for r in requests}

    # --- one round ------------------------------------------------------------------------------

    def _round(self, pending: Sequence[BatchRequest]) -> dict[str, _Answer]:
        envelopes = _pack(pending, spread=self._concurrency)
        answers: dict[str, _Answer] = {}
        if len(envelopes) == 1:
            answers.update(self._envelope(*envelopes[0]))
            return answers
        with ThreadPoolExecutor(max_workers=min(self._concurrency, len(envelopes))) as pool:
            for result in pool.map(lambda e: self._envelope(*e), envelopes):
                answers.update(result)
        return answers

    def _envelope(self, api: str, items: Sequence[BatchRequest]) -> dict[str, _Answer]:
        writes = sum(r.is_write for r in items)
        self._pacer.acquire(writes=writes, requests=sum(resource_units(r.method, r.url) for r in items))
        with self._lock:
            self._requests_sent += len(items)
            self._writes_sent += writes
            self._http_calls += 1
        url = f"{self._root}/{api}/$batch"
        client_request_id = _new_id()
        try:
            response = self._pools[next(self._turn) % len(self._pools)].post(
                url,
                json={"requests": [_payload(r) for r in items]},
                headers={"client-request-id": client_request_id},
            )
        except httpx.TransportError as exc:
            logger.info("$batch of %d: no answer from Graph (%s)", len(items), type(exc).__name__)
            lost = BatchResponse("", 0, {}, None, None)
            return _envelope_failed(items, lost, processed=not isinstance(exc, _NEVER_SENT), retry_after=None)
        logger.debug(
            "%s $batch of %d (%d writes): %d (request-id %s, client-request-id %s)",
            api,
            len(items),
            writes,
            response.status_code,
            response.headers.get("request-id"),
            client_request_id,
        )
        self._pacer.observe(limit_percentage(response.headers))
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if response.status_code == 429:
            self._pacer.throttled(BACKOFF_INITIAL if retry_after is None else retry_after)
        if response.status_code != 200:
            return self._envelope_status(items, response, retry_after)
        return self._items(items, response)

    def _envelope_status(
        self, items: Sequence[BatchRequest], response: httpx.Response, retry_after: float | None
    ) -> dict[str, _Answer]:
        status = response.status_code
        headers = dict(response.headers)
        body = _json(response)
        whole = BatchResponse("", status, headers, body, headers.get("request-id") or odata_error(body)[2])
        logger.info(
            "$batch of %d: envelope answered %d (request-id %s)", len(items), status, whole.request_id
        )
        if status in {429, 503}:  # refused before any inner request ran
            return _envelope_failed(items, whole, processed=False, retry_after=retry_after)
        if status in {500, 502, 504}:  # some inner requests may have run
            return _envelope_failed(items, whole, processed=True, retry_after=retry_after)
        return {r.id: _Answer(replace(whole, id=r.id)) for r in items}

    def _items(self, items: Sequence[BatchRequest], response: httpx.Response) -> dict[str, _Answer]:
        body = _json(response)
        listed = body.get("responses") if isinstance(body, dict) else None
        by_id = {
            str(item.get("id")).lower(): item for item in listed or [] if isinstance(item, dict)
        }  # Graph may reorder answers, and compares ids case-insensitively
        answers: dict[str, _Answer] = {}
        for request in items:
            item = by_id.get(request.id.lower())
            if item is None:  # not answered: treated like a lost envelope for this request
                lost = BatchResponse(request.id, 0, {}, None, None)
                answers.update(_envelope_failed([request], lost, processed=True, retry_after=None))
                continue
            answers[request.id] = self._answer(request, item)
        return answers

    def _answer(self, request: BatchRequest, item: Mapping[str, object]) -> _Answer:
        raw_headers = item.get("headers")
        headers = {str(k): str(v) for k, v in raw_headers.items()} if isinstance(raw_headers, dict) else {}
        lowered = {k.lower(): v for k, v in headers.items()}
        status = item.get("status")
        status = status if isinstance(status, int) else 0
        body = item.get("body")
        response = BatchResponse(
            request.id, status, headers, body, lowered.get("request-id") or odata_error(body)[2]
        )
        self._pacer.observe(limit_percentage(headers))
        retry_after = parse_retry_after(lowered.get("retry-after"))
        if status == 429:
            self._pacer.throttled(BACKOFF_INITIAL if retry_after is None else retry_after)
        retryable = status in {429, 503} or (status in {500, 502, 504} and request.idempotent)
        return _Answer(response, retryable, retry_after)


# --- packing ---------------------------------------------------------------------------------------


def _ordered(requests: Sequence[BatchRequest]) -> list[BatchRequest]:
    """The requests checked, with each one after the requests it depends on (else in the given order)."""
    by_id: dict[str, BatchRequest] = {}
    seen: set[str] = set()
    for r in requests:
        if not r.id or r.id.lower() in seen:
            msg = f"batch request ids must be non-empty and unique (case-insensitively): {r.id!r}"
            raise ValueError(msg)
        seen.add(r.id.lower())
        by_id[r.id] = r
    for r in requests:
        for dep in r.depends_on:
            if dep not in by_id or by_id[dep].api != r.api:
                msg = (
                    f"batch request {r.id!r} depends on {dep!r}, which is not in this call with the same api"
                )
                raise ValueError(msg)
    order: list[BatchRequest] = []
    placed: set[str] = set()
    while len(order) < len(requests):
        ready = [r for r in requests if r.id not in placed and all(d in placed for d in r.depends_on)]
        if not ready:
            msg = "the dependsOn references of the batch requests form a cycle"
            raise ValueError(msg)
        order.extend(ready)
        placed.update(r.id for r in ready)
    for chain in _chains(order):
        if len(chain) > MAX_BATCH:
            msg = f"a dependsOn chain of {len(chain)} requests cannot fit one $batch (at most {MAX_BATCH})"
            raise ValueError(msg)
        if not _sequential(chain):
            msg = "dependsOn must link requests into linear chains (Graph refuses any other shape)"
            raise ValueError(msg)
    return order


def _sequential(chain: Sequence[BatchRequest]) -> bool:
    """Whether *chain* is fully sequential: the first depends on nothing, each next on the one before."""
    return not chain[0].depends_on and all(
        r.depends_on == (before.id,) for before, r in itertools.pairwise(chain)
    )


def _chains(ordered: Sequence[BatchRequest]) -> list[list[BatchRequest]]:
    """Requests linked by ``dependsOn`` (in either direction), each group in dependency order."""
    parent: dict[str, str] = {r.id: r.id for r in ordered}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for r in ordered:
        for dep in r.depends_on:
            parent[root(r.id)] = root(dep)
    groups: dict[str, list[BatchRequest]] = {}
    for r in ordered:
        groups.setdefault(root(r.id), []).append(r)
    return list(groups.values())


def _pack(ordered: Sequence[BatchRequest], *, spread: int = 1) -> list[tuple[str, list[BatchRequest]]]:
    """Envelopes Graph accepts: each chain alone in a sequential envelope, and the independent
    requests of one api in parallel envelopes of at most 20, in the given order, spread evenly over at
    least *spread* envelopes while there are requests enough (20 over 4: four envelopes of 5)."""
    envelopes: list[tuple[str, list[BatchRequest]]] = []
    parallel: dict[str, list[BatchRequest]] = {}
    for chain in _chains(ordered):
        if len(chain) > 1:
            envelopes.append((chain[0].api, list(chain)))
        else:
            parallel.setdefault(chain[0].api, []).append(chain[0])
    for api, items in parallel.items():
        count = max(-(-len(items) // MAX_BATCH), min(spread, len(items)))
        size, extra = divmod(len(items), count)
        start = 0
        for n in range(count):  # the first *extra* envelopes take one request more
            end = start + size + (n < extra)
            envelopes.append((api, items[start:end]))
            start = end
    return envelopes


def _payload(request: BatchRequest) -> dict[str, object]:
    headers = {"client-request-id": _new_id()}
    item: dict[str, object] = {"id": request.id, "method": request.method.upper(), "url": request.url}
    body = request.body
    if body is None and request.method.upper() in {"POST", "PATCH", "PUT"}:
        body = {}  # a batched action without a payload still carries a body and its type (section 6)
    if body is not None:
        headers["Content-Type"] = "application/json"  # required with a body (graph-api.md section 6)
        item["body"] = dict(body)
    item["headers"] = headers
    if request.depends_on:
        item["dependsOn"] = list(request.depends_on)
    return item


# --- outcomes --------------------------------------------------------------------------------------


def _envelope_failed(
    items: Sequence[BatchRequest], whole: BatchResponse, *, processed: bool, retry_after: float | None
) -> dict[str, _Answer]:
    """Every item of an envelope without per-item answers. If the envelope may have run (*processed*),
    a POST is not sent again: its fate is unknown, so it is returned for the caller to re-read."""
    return {r.id: _Answer(replace(whole, id=r.id), not processed or r.idempotent, retry_after) for r in items}


def _settle(ordered: Sequence[BatchRequest], answers: dict[str, _Answer]) -> dict[str, _Answer]:
    """Fix up dependents (in dependency order): a 424 whose failed dependencies are all re-sent is
    re-sent with them; a request re-sent without its dependency is not re-sent, and gets 424."""
    for r in ordered:
        deps = [answers[d] for d in r.depends_on if d in answers]
        answer = answers[r.id]
        blocked = any(not d.ok and not d.retryable for d in deps)
        waiting = any(d.retryable for d in deps)
        if answer.retryable and blocked:
            failed = BatchResponse(r.id, 424, {}, _FAILED_DEPENDENCY, None)
            answers[r.id] = _Answer(failed if answer.response.status in {0, 424} else answer.response)
        elif answer.response.status == 424 and waiting and not blocked:
            answers[r.id] = _Answer(answer.response, retryable=True)
    return answers


def _wait(answer: _Answer, attempt: int) -> float:
    """Graph's Retry-After (capped), else exponential backoff with up to 1 s of jitter."""
    if answer.retry_after is not None:
        return min(answer.retry_after, MAX_WAIT)
    if answer.response.status == 424:
        return 0.0  # re-sent for its dependency, which sets the wait
    backoff = min(BACKOFF_INITIAL * 2.0 ** (attempt - 1), BACKOFF_MAX)
    return backoff + random.uniform(0.0, 1.0)


def _json(response: httpx.Response) -> object:
    try:
        body: object = response.json()
    except ValueError:
        return None
    return body


def _new_id() -> str:
    return str(uuid.uuid4())
