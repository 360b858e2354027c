"""Wiring: one ``httpx.Client``, one token provider and one retry policy into a ``GraphClient``.

Nothing is built at import time; call ``build_graph`` once per process.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable

import httpx

from provisioning.auth import BearerAuth, TokenSource, build_token_provider
from provisioning.graph import GraphClient
from provisioning.retry import graph_retrying
from provisioning.settings import Settings

USER_AGENT = "entra-auth-provisioning/0.1"


def build_graph(
    settings: Settings,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    tokens: TokenSource | None = None,
) -> GraphClient:
    """The Graph adapter for *settings*.

    *transport* replaces the network (tests pass ``httpx.MockTransport``); *tokens* replaces MSAL.
    The certificate is read here, so a bad one raises ``AuthenticationError`` now; the token
    endpoint is first called on the first Graph request.
    """
    on_close: Callable[[], None] | None = None
    if tokens is None:
        provider = build_token_provider(settings, sleep=sleep)
        tokens, on_close = provider, provider.close
    # SSL_CERT_FILE (read into settings) lets a test server's CA in; otherwise httpx's default trust.
    verify: ssl.SSLContext | bool = (
        ssl.create_default_context(cafile=settings.ca_file) if settings.ca_file else True
    )
    # One connection per worker plus headroom for the re-reads and lookups a worker makes in between.
    limits = httpx.Limits(
        max_connections=settings.concurrency * 2,
        max_keepalive_connections=settings.concurrency * 2,
        keepalive_expiry=30.0,
    )
    http = httpx.Client(
        auth=BearerAuth(tokens),
        timeout=httpx.Timeout(settings.http_timeout, connect=min(settings.http_timeout, 10.0)),
        verify=verify,
        http2=False,
        limits=limits,
        headers={"User-Agent": USER_AGENT},
        transport=transport,
        follow_redirects=False,
    )
    retrying = graph_retrying(attempts=settings.max_attempts, sleep=sleep)
    return GraphClient(http, retrying, graph_root=settings.graph_root, on_close=on_close)
