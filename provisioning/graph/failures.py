"""Graph HTTP failures turned into ``GraphError``s with admin-readable, number- and address-free messages."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import httpx

from provisioning.core.masking import mask_text, mask_user
from provisioning.core.models import AddEmail, AddPhone, DeleteEmail, DeletePhone, Operation, SetSmsSignIn
from provisioning.errors import (
    AuthenticationError,
    GraphError,
    PermanentGraphError,
    TransientGraphError,
    UncertainWriteError,
)
from provisioning.graph.retry import parse_retry_after

READ_PERMISSION = "UserAuthenticationMethod.Read.All"
WRITE_PERMISSION = "UserAuthenticationMethod.ReadWrite.All"

# Codes Graph uses when the user (not one of its methods) does not exist (graph-api.md section 8).
USER_NOT_FOUND_CODES = frozenset({"Request_ResourceNotFound", "Directory_ObjectNotFound", "ResourceNotFound"})


@dataclass(frozen=True)
class Call:
    """One Graph request as the client describes it, for sending, logging and error messages."""

    method: str
    url: str
    user: str
    what: str  # "add mobile phone", "read phone methods": never a value
    permission: str
    body: Mapping[str, str] | None = None
    one_method: bool = False  # the URL names one method, so a 404 may mean the method is missing
    subject: str = "user"  # what a 404 means is missing ("user", "group")

    @property
    def idempotent(self) -> bool:
        return self.method != "POST"


def odata_error(body: object) -> tuple[str | None, str | None, str | None]:
    """Graph's ``error.code``, ``error.message`` and ``error.innerError.request-id`` from a body, if any."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, None, None
    inner = error.get("innerError") or error.get("innererror")
    request_id = inner.get("request-id") if isinstance(inner, dict) else None
    code, message = error.get("code"), error.get("message")
    return (
        code if isinstance(code, str) else None,
        message if isinstance(message, str) else None,
        request_id if isinstance(request_id, str) else None,
    )


def error_for(call: Call, response: httpx.Response, client_request_id: str) -> GraphError:
    """The ``GraphError`` for a non-2xx answer; transient only where retrying can help."""
    try:
        body: object = response.json()
    except ValueError:
        body = None
    return error_for_status(call, response.status_code, response.headers, body, client_request_id)


def error_for_status(
    call: Call, status: int, headers: Mapping[str, str], body: object, client_request_id: str | None
) -> GraphError:
    """The ``GraphError`` for a status, headers and body (a whole response, or one ``$batch`` item)."""
    code, message, inner_id = odata_error(body)
    error_type, text, code = _classify(call, status, code, message)
    lowered = {k.lower(): v for k, v in headers.items()}
    return error_type(
        text,
        status=status,
        code=code,
        request_id=lowered.get("request-id") or inner_id,
        client_request_id=client_request_id,
        retry_after=parse_retry_after(lowered.get("retry-after")),
    )


def _classify(
    call: Call, status: int, code: str | None, message: str | None
) -> tuple[type[GraphError], str, str | None]:
    """Error type, message and code for a status (learn.microsoft.com/graph/errors)."""
    user = mask_user(call.user)
    said = f" Graph said: {mask_text(message)}" if message else ""
    head = f"{call.what} for {user} failed ({status} {code or 'no code'})"
    if status in {500, 502, 504} and not call.idempotent:
        return UncertainWriteError, f"{head}: it may have been applied.{said}", code
    if status in {429, 503, 504} or (status in {500, 502} and call.idempotent):
        return TransientGraphError, f"{head}: Graph is throttling or unavailable.{said}", code
    if status == 401:
        text = (
            f"Graph rejected the token (401 {code or 'no code'}): check PROVISIONING_TENANT_ID and the cloud or "
            "PROVISIONING_GRAPH_URL, and that the app registration's certificate is current"
        )
        return AuthenticationError, text, code
    if status == 403:
        text = (
            f"{head}: the app lacks the {call.permission} application permission or its admin consent: "
            f"add it to the app registration and grant admin consent.{said}"
        )
        return PermanentGraphError, text, code
    if status == 404 and (not call.one_method or code in USER_NOT_FOUND_CODES):
        code = code or "Request_ResourceNotFound"
        missing = f"{call.subject} {user}"
        return PermanentGraphError, f"{missing} not found in the tenant ({call.what}, 404 {code})", code
    if status == 404:
        return PermanentGraphError, f"{head}: the method does not exist.{said}", code or "itemNotFound"
    return PermanentGraphError, f"{head}.{said}", code


def transport_error(call: Call, exc: httpx.TransportError, client_request_id: str) -> TransientGraphError:
    """No answer from Graph. A POST that may have reached Graph is uncertain; a failed connect is not."""
    never_sent = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
    error_type = TransientGraphError if call.idempotent or never_sent else UncertainWriteError
    msg = f"{call.what} for {mask_user(call.user)}: no answer from Graph ({type(exc).__name__})"
    return error_type(msg, client_request_id=client_request_id)


def may_have_applied(op: Operation, status: int) -> bool:
    """Whether a failed write may have taken effect all the same, so the user is re-read first.

    A POST whose answer was lost may have been applied (graph-api.md section 7). A DELETE answered
    404, or an add answered 400/409 ("already exists"), may meet the effect of an earlier try whose
    answer was lost (the sender re-sends a DELETE after a 500/502/504) or of another delivery of the
    same chunk running at the same time; the re-read tells.
    """
    if isinstance(op, AddPhone | AddEmail | SetSmsSignIn) and unanswered(status):
        return True
    if isinstance(op, DeletePhone | DeleteEmail):
        return status == 404
    return isinstance(op, AddPhone | AddEmail) and status in (400, 409)


def unanswered(status: int) -> bool:
    """No answer, or one that does not say whether the request ran (timeout, drop, 500/502/504)."""
    return status in (0, 500, 502, 504)
