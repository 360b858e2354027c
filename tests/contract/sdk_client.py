"""Microsoft's Graph SDK clients (v1.0 and beta) on a running sandbox, keeping every raw exchange so the
SDK models (``sdk_models``) can judge the JSON the SDK itself parsed.

The SDK's request builders warn on import (``DeprecationWarning`` for the generated per-builder
``RequestConfiguration`` classes and kiota's ``GetQueryParameters``); test modules filter exactly those
two messages (``SDK_WARNINGS``), since pytest turns warnings into errors.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
from kiota_abstractions.authentication.access_token_provider import AccessTokenProvider
from kiota_abstractions.authentication.allowed_hosts_validator import AllowedHostsValidator
from kiota_abstractions.authentication.base_bearer_token_authentication_provider import (
    BaseBearerTokenAuthenticationProvider,
)
from kiota_http.httpx_request_adapter import HttpxRequestAdapter
from msgraph import GraphServiceClient
from msgraph_beta import GraphServiceClient as BetaGraphServiceClient
from msgraph_core.requests.batch_request_item import BatchRequestItem

from tests.contract import sdk_models
from tests.sandbox import Sandbox

SDK_WARNINGS = (
    "ignore:This class is deprecated. Please use the generic RequestConfiguration class:DeprecationWarning",
    "ignore:GetQueryParameters is deprecated. Use QueryParameters instead.:DeprecationWarning",
)
WRITES = frozenset({"POST", "PATCH", "PUT"})


class SandboxTokens(AccessTokenProvider):  # type: ignore[misc]
    """Hands out one sandbox token, and only for the sandbox's host."""

    def __init__(self, token: str) -> None:
        self._token = token
        self._hosts = AllowedHostsValidator(["127.0.0.1"])

    async def get_authorization_token(
        self, uri: str, additional_authentication_context: dict[str, Any] | None = None
    ) -> str:
        return self._token if self._hosts.is_url_host_valid(uri) else ""

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return self._hosts


@dataclass(frozen=True)
class Exchange:
    """One HTTP request the SDK sent and the raw JSON of both sides (None when there was no body)."""

    version: str
    method: str
    path: str  # without the version prefix and the query, percent-decoded
    status: int
    request: Any
    response: Any


@dataclass
class SdkGraph:
    """The v1.0 and beta SDK clients over one ``httpx.AsyncClient``, and the exchanges they made."""

    v1: Any  # msgraph.GraphServiceClient
    beta: Any  # msgraph_beta.GraphServiceClient
    exchanges: list[Exchange] = field(default_factory=list)

    def raw_problems(self) -> list[str]:
        """What the SDK models do not know in any body sent or received so far (inner batch bodies too)."""
        problems: list[str] = []
        for ex in self.exchanges:
            if ex.path == sdk_models.BATCH:
                problems += _batch_problems(ex)
                continue
            if ex.method in WRITES and ex.request is not None:
                problems += sdk_models.request_problems(ex.version, ex.method, ex.path, ex.request)
            problems += sdk_models.response_problems(ex.version, ex.method, ex.path, ex.status, ex.response)
        return problems


@asynccontextmanager
async def sdk_graph(sb: Sandbox) -> AsyncIterator[SdkGraph]:
    """SDK clients on *sb* (``/v1.0`` and ``/beta``) with a token for its default app."""
    graph = SdkGraph(None, None)

    async def keep(response: httpx.Response) -> None:
        await response.aread()
        graph.exchanges.append(_exchange(response))

    auth = BaseBearerTokenAuthenticationProvider(SandboxTokens(sb.token()))
    async with httpx.AsyncClient(verify=sb.ssl_context(), event_hooks={"response": [keep]}) as http:
        v1, beta = HttpxRequestAdapter(auth, http_client=http), HttpxRequestAdapter(auth, http_client=http)
        v1.base_url, beta.base_url = f"{sb.url}/v1.0", f"{sb.url}/beta"
        graph.v1, graph.beta = (
            GraphServiceClient(request_adapter=v1),
            BetaGraphServiceClient(request_adapter=beta),
        )
        yield graph


def leftovers(
    parsed: Any, pointer: str = "", allowed: frozenset[str] = frozenset({"@odata.context"})
) -> list[str]:
    """Every key the SDK kept in ``additional_data`` of *parsed* or any object below it, as JSON-pointer-ish
    attribute paths: what the SDK itself read but could not place. ``@odata.context`` is allowed on the
    root and ``@removed`` on delta items (see ``sdk_models``)."""
    found = [
        f"{pointer}/{key}" for key in getattr(parsed, "additional_data", None) or {} if key not in allowed
    ]
    delta = any(base.__name__ == "BaseDeltaFunctionResponse" for base in type(parsed).__mro__)
    for name, value in vars(parsed).items():
        if name in ("backing_store", "additional_data"):
            continue
        for index, item in enumerate(value) if isinstance(value, list) else [(None, value)]:
            if hasattr(item, "additional_data"):
                where = f"{pointer}/{name}" + ("" if index is None else f"/{index}")
                found += leftovers(item, where, frozenset({"@removed"}) if delta else frozenset())
    return found


class SequencedItem(BatchRequestItem):  # type: ignore[misc]
    """A ``BatchRequestItem`` whose dependencies reach Graph: msgraph-core 1.5.2 writes them as
    ``depends_on`` (msgraph-sdk-python-core PR #996, still open), a key Graph ignores, so an envelope the
    SDK calls sequential runs as a parallel one. This writes the ``dependsOn`` that Graph reads."""

    def serialize(self, writer: Any) -> None:
        super().serialize(_DependsOnWriter(writer))


class _DependsOnWriter:
    def __init__(self, writer: Any) -> None:
        self._writer = writer

    def write_collection_of_primitive_values(self, key: str, values: Any) -> None:
        self._writer.write_collection_of_primitive_values("dependsOn" if key == "depends_on" else key, values)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


def _exchange(response: httpx.Response) -> Exchange:
    request = response.request
    version, _, rest = unquote(request.url.path).lstrip("/").partition("/")
    return Exchange(version, request.method, "/" + rest, response.status_code, _json(request.content),
                    _json(response.content))  # fmt: skip


def _json(raw: bytes) -> Any:
    return json.loads(raw) if raw.strip() else None


def _batch_problems(ex: Exchange) -> list[str]:
    """The envelope and its inner requests, each inner answer judged against its own request's route."""
    problems = sdk_models.request_problems(ex.version, "POST", sdk_models.BATCH, ex.request)
    problems += sdk_models.response_problems(ex.version, "POST", sdk_models.BATCH, ex.status, ex.response)
    sent = {str(i.get("id")).lower(): i for i in (ex.request or {}).get("requests", [])}
    for answer in (ex.response or {}).get("responses", []) if isinstance(ex.response, dict) else []:
        item = sent.get(str(answer.get("id")).lower(), {})
        path = "/" + unquote(str(item.get("url", ""))).partition("?")[0].lstrip("/")
        status = int(answer.get("status", 0))
        if status < 400:  # inner errors were judged with the envelope
            problems += sdk_models.response_problems(ex.version, str(item.get("method")), path, status,
                                                     answer.get("body"))  # fmt: skip
    return problems
