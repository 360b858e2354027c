"""Wiring: one ``httpx.Client``, one token provider and one retry policy into a ``GraphClient``; with
``build_graph_stack`` also the process-wide ``Pacer`` and the ``$batch`` ``BatchSender`` on that client.

Nothing is built at import time; call ``build_graph`` or ``build_graph_stack`` once per process and
reuse the result across chunks (token, TLS connections and the pacer's budget are per process).
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from provisioning.graph.auth import BearerAuth, TokenSource, build_token_provider
from provisioning.graph.batch import ENVELOPES_PER_ROUND, BatchSender
from provisioning.graph.client import GraphClient
from provisioning.graph.pacer import Pacer, SingleRequestPacing
from provisioning.graph.retry import graph_retrying
from provisioning.settings import Settings

USER_AGENT = "entra-auth-provisioning/0.1"
POOL_SHARD = 8  # connections per pool of the $batch sender (build_graph_stack says why)


def build_graph(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    tokens: TokenSource | None = None,
    pacer: Pacer | None = None,
) -> GraphClient:
    """The Graph adapter for *settings*.

    *transport* replaces the network (tests pass ``httpx.MockTransport``); *tokens* replaces MSAL.
    The certificate is read here, so a bad one raises ``AuthenticationError`` now; the token
    endpoint is first called on the first Graph request. With *pacer*, every request waits for
    its budget and reports 429s and limit percentages to it (``SingleRequestPacing``).
    """
    http, on_close = build_http(settings, transport=transport, sleep=sleep, tokens=tokens)
    if pacer is not None:
        SingleRequestPacing(pacer).install(http)
    retrying = graph_retrying(attempts=settings.max_attempts, sleep=sleep)
    return GraphClient(http, retrying, graph_root=settings.graph_root, on_close=on_close)


@dataclass(frozen=True)
class GraphStack:
    """The single-request client and the ``$batch`` sender over one HTTP client, paced by one pacer."""

    graph: GraphClient
    batch: BatchSender
    pacer: Pacer

    def close(self) -> None:
        """Close the shared HTTP client and the token provider."""
        self.graph.close()

    def __enter__(self) -> GraphStack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# The pacer runs this share below the configured rates. Graph counts a write when it arrives, the pacer
# when it leaves: on a busy host several processes' writes leave on time and arrive bunched, and at
# 100% a window then holds a few too many (fd7bc4a, 4 processes on 2 cores: 3,004 tried in one 30-s
# window, answered with limit percentages over 1.0, a 10%-a-second slow-down and 4 429s). 0.5% of
# Graph's 3,000 per 150 s is 15 writes: the steady state goes from 99.3% to 98.8% of the quota.
ARRIVAL_MARGIN = 0.005


def _below(rate: float | None) -> float | None:
    return None if rate is None else rate * (1 - ARRIVAL_MARGIN)


def build_pacer(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Pacer:
    """The process-wide pacer: PROVISIONING_WRITE_RATE and PROVISIONING_REQUEST_RATE per second, less
    ``ARRIVAL_MARGIN``."""
    return Pacer(
        write_rate=_below(settings.write_rate),
        request_rate=_below(settings.request_rate),
        write_window_s=settings.write_window_s,
        request_window_s=settings.request_window_s,
        clock=clock,
        sleep=sleep,
    )


def build_graph_stack(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    tokens: TokenSource | None = None,
    pacer: Pacer | None = None,
) -> GraphStack:
    """``GraphClient`` and ``BatchSender`` sharing one token provider and *pacer* (built from
    *settings* when not given). Build once per process; both are thread-safe.

    The sender's envelopes go over several small connection pools (``POOL_SHARD`` connections each)
    rather than one large one: httpcore 1.0.9's pool scans every connection for every queued request
    (encode/httpcore#1035), so with 64 connections in one pool its bookkeeping took most of the CPU
    of a CLI run (measured: 11 of 13 s for 2,000 rows); in pools of 8 it costs a sixty-fourth."""
    pacer = pacer or build_pacer(settings, sleep=sleep)
    on_close: Callable[[], None] | None = None
    if tokens is None:
        provider = build_token_provider(settings, sleep=sleep)
        tokens, on_close = provider, provider.close
    connections = settings.concurrency * ENVELOPES_PER_ROUND
    sizes = [min(POOL_SHARD, connections - start) for start in range(0, connections, POOL_SHARD)]
    pools = [
        build_http(settings, transport=transport, sleep=sleep, tokens=tokens, connections=size)[0]
        for size in sizes
    ]
    SingleRequestPacing(pacer).install(pools[0])  # skips $batch envelopes: the sender paces those itself
    retrying = graph_retrying(attempts=settings.max_attempts, sleep=sleep)

    def close() -> None:
        for pool in pools[1:]:
            pool.close()
        if on_close is not None:
            on_close()

    graph = GraphClient(pools[0], retrying, graph_root=settings.graph_root, on_close=close)
    batch = BatchSender(
        pools,
        graph_root=settings.graph_root,
        pacer=pacer,
        max_attempts=settings.max_attempts,
        sleep=sleep,
        concurrency=ENVELOPES_PER_ROUND,
    )
    return GraphStack(graph, batch, pacer)


def build_http(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None,
    sleep: Callable[[float], None],
    tokens: TokenSource | None,
    user_agent: str = USER_AGENT,
    connections: int | None = None,
) -> tuple[httpx.Client, Callable[[], None] | None]:
    """The one HTTP client for Graph, and what closes the token provider built for it (if any).
    *user_agent*: the conformance kit names itself apart from the product (tests/contract/check.py)."""
    on_close: Callable[[], None] | None = None
    if tokens is None:
        provider = build_token_provider(settings, sleep=sleep)
        tokens, on_close = provider, provider.close
    # SSL_CERT_FILE (read into settings) lets a test server's CA in; otherwise httpx's default trust.
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=settings.ca_file) if settings.ca_file else True
    )
    # Every chunk in flight (PROVISIONING_CONCURRENCY of them) may have a round's envelopes in flight at
    # once, so the pool holds that many connections; a smaller pool would queue envelopes behind each
    # other and, if Graph serves an envelope's items one after another, cut the throughput to the pool's.
    connections = connections or settings.concurrency * ENVELOPES_PER_ROUND
    limits = httpx.Limits(
        max_connections=connections, max_keepalive_connections=connections, keepalive_expiry=30.0
    )
    http = httpx.Client(
        auth=BearerAuth(tokens),
        timeout=httpx.Timeout(settings.http_timeout, connect=min(settings.http_timeout, 10.0)),
        verify=verify,
        http2=False,
        limits=limits,
        headers={"User-Agent": user_agent},
        transport=transport,
        follow_redirects=False,
    )
    return http, on_close
