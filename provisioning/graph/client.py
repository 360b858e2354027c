"""The single-request Graph client: one ``httpx.Client``, one retry policy per call, for directory reads.

The directory sync's pages and delta links go through ``get_json``; a user's methods are read and
written in chunks over ``$batch`` (``graph.batch``, ``use_cases.executor``). Statuses become
``GraphError``s in ``graph.failures``. Logs carry statuses, request ids and masked UPNs, never values.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import tenacity

from provisioning.core.masking import mask_user
from provisioning.graph.failures import Call, error_for, transport_error
from provisioning.graph.paths import GraphPaths

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Reply:
    body: object
    request_id: str | None


class GraphClient:
    """GETs of Microsoft Graph (v1.0 and beta) with the retry policy.

    Every request carries a fresh ``client-request-id``. Each call is retried by *retrying* (only
    ``TransientGraphError``).
    """

    def __init__(
        self,
        http: httpx.Client,
        retrying: tenacity.Retrying,
        *,
        graph_root: str,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self._http = http
        self._retrying = retrying
        self._paths = GraphPaths(graph_root)
        self._on_close = on_close
        self._requests_sent = 0
        self._count_lock = threading.Lock()

    @property
    def requests_sent(self) -> int:
        """Graph requests sent so far, retries included (for the summary's cost figures)."""
        return self._requests_sent

    def close(self) -> None:
        """Close the HTTP client's connections (and the token provider's, when it was given)."""
        self._http.close()
        if self._on_close is not None:
            self._on_close()

    def __enter__(self) -> GraphClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get_json(
        self, url: str, *, what: str, permission: str, subject: str = "user", ref: str = ""
    ) -> object:
        """GET an absolute Graph URL (a page, a nextLink or deltaLink) with the retry policy; the JSON body."""
        return self._send(Call("GET", url, ref, what, permission, subject=subject)).body

    @property
    def paths(self) -> GraphPaths:
        """URL builder for this client's Graph root."""
        return self._paths

    # --- HTTP --------------------------------------------------------------------------------

    def _send(self, call: Call) -> _Reply:
        return self._retrying.copy()(self._send_once, call)

    def _send_once(self, call: Call) -> _Reply:
        client_request_id = str(uuid.uuid4())
        with self._count_lock:
            self._requests_sent += 1
        try:
            response = self._http.request(
                call.method, call.url, json=call.body, headers={"client-request-id": client_request_id}
            )
        except httpx.TransportError as exc:
            raise transport_error(call, exc, client_request_id) from exc
        request_id = response.headers.get("request-id")
        logger.debug(
            "%s for %s: %d (request-id %s, client-request-id %s)",
            call.what,
            mask_user(call.user),
            response.status_code,
            request_id,
            client_request_id,
        )
        if response.is_success:
            return _Reply(_json(response), request_id)
        error = error_for(call, response, client_request_id)
        # INFO, not WARNING: the outcome reaches the report; this line is for support cases.
        logger.info(
            "%s for %s: %d %s (request-id %s, client-request-id %s, date %s, x-ms-ags-diagnostic %s)",
            call.what,
            mask_user(call.user),
            response.status_code,
            error.code,
            request_id,
            client_request_id,
            response.headers.get("Date"),
            response.headers.get("x-ms-ags-diagnostic"),
        )
        raise error


def _json(response: httpx.Response) -> object:
    try:
        body: object = response.json()
    except ValueError:  # 201/204 may come with an empty or non-JSON body
        return None
    return body
