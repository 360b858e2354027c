"""The Microsoft Graph adapter: ``GraphPort`` over one ``httpx.Client``, one retry policy per single call.

Responses become models here; statuses become ``GraphError``s in ``graph_errors``; URLs come from
``graph_paths``. Logs carry method kinds, statuses, request ids and masked UPNs, never values.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import assert_never

import httpx
import tenacity

from provisioning.core.masking import mask_user
from provisioning.core.models import (
    PHONE_KINDS,
    AddEmail,
    AddPhone,
    CurrentMethods,
    DeleteEmail,
    DeletePhone,
    MethodKind,
    Operation,
    SetDefaultMethod,
    SetSmsSignIn,
    UpdateEmail,
    UpdatePhone,
    method_key,
)
from provisioning.errors import GraphError, PermanentGraphError, TransientGraphError, UncertainWriteError
from provisioning.graph.failures import (
    READ_PERMISSION,
    USER_NOT_FOUND_CODES,
    WRITE_PERMISSION,
    Call,
    error_for,
    transport_error,
)
from provisioning.graph.paths import GraphPaths

logger = logging.getLogger(__name__)

_PHONE_TYPES: Mapping[str, MethodKind] = {kind.value: kind for kind in PHONE_KINDS}
# Methods that cannot be a default sign-in method: the password, and email (SSPR only).
_NOT_MFA = frozenset({"passwordAuthenticationMethod", "emailAuthenticationMethod"})


@dataclass(frozen=True)
class _Reply:
    body: object
    request_id: str | None


class GraphClient:
    """``GraphPort`` for Microsoft Graph (v1.0, and beta for signInPreferences).

    Every request carries a fresh ``client-request-id``; writes return Graph's ``request-id``. Each
    single call is retried by *retrying* (only ``TransientGraphError``); a POST that may have been
    applied is re-read before it is sent again.
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

    # --- reads -------------------------------------------------------------------------------

    def get_json(
        self, url: str, *, what: str, permission: str, subject: str = "user", ref: str = ""
    ) -> object:
        """GET an absolute Graph URL (a page, a nextLink or deltaLink) with the retry policy; the JSON body."""
        return self._send(Call("GET", url, ref, what, permission, subject=subject)).body

    @property
    def paths(self) -> GraphPaths:
        """URL builder for this client's Graph root."""
        return self._paths

    def read_methods(self, user: str) -> CurrentMethods:
        """All of the user's methods in one read: phones with the mobile's SMS state, email, the rest.

        ``GET /authentication/methods`` lists every method with its ``@odata.type``
        (learn.microsoft.com/graph/api/authentication-list-methods); 404 user raises.
        """
        reply = self._send(Call("GET", self._paths.methods(user), user, "read methods", READ_PERMISSION))
        return methods_from_items(user, _items(reply))

    def read_default_method(self, user: str) -> tuple[str | None, bool | None]:
        """Graph's ``userPreferredMethodForSecondaryAuthentication`` and system-preferred flag (beta)."""
        url = self._paths.sign_in_preferences(user)
        body = self._send(Call("GET", url, user, "read default method", READ_PERMISSION)).body
        prefs = body if isinstance(body, dict) else {}
        method = prefs.get("userPreferredMethodForSecondaryAuthentication")
        system = prefs.get("isSystemPreferredAuthenticationMethodEnabled")
        return (method if isinstance(method, str) else None, system if isinstance(system, bool) else None)

    def read_sms_sign_in_state(self, user: str) -> str | None:
        """The mobile's ``smsSignInState``, or None when the user has no mobile (404 itemNotFound)."""
        url = self._paths.phone_method(user, MethodKind.MOBILE)
        call = Call("GET", url, user, "read mobile phone", READ_PERMISSION, one_method=True)
        try:
            body = self._send(call).body
        except PermanentGraphError as exc:
            if exc.status == 404 and exc.code not in USER_NOT_FOUND_CODES:
                return None
            raise
        state = body.get("smsSignInState") if isinstance(body, dict) else None
        return state if isinstance(state, str) else None

    # --- writes ------------------------------------------------------------------------------

    def apply(self, operation: Operation) -> str | None:
        """Perform one write and return Graph's ``request-id``; raises ``GraphError``."""
        call, applied = self._request_for(operation)
        return self._write(call) if applied is None else self._post(call, applied)

    def _request_for(self, operation: Operation) -> tuple[Call, Callable[[], bool] | None]:
        """The request for one operation and, for a POST, how a re-read tells that it applied."""
        # The row's own reference (UPN or object id) on every path, as in $batch: Graph takes either
        # (graph-api.md section 2). An SMS action that answers 204 without effect (docs issue #13328)
        # shows in the smsSignInState read after it, which decides the row's outcome.
        user = operation.user
        call = operation_call(self._paths, operation, user)
        match operation:
            case AddPhone(kind=kind, number=number):
                return call, lambda: _same(kind, self.read_methods(user).phones.get(kind), number)
            case AddEmail(address=address):
                return call, lambda: _same(MethodKind.EMAIL, self.read_methods(user).email, address)
            case SetSmsSignIn(enable=enable):
                return call, lambda: (self.read_sms_sign_in_state(user) == "ready") == enable
            case _:
                return call, None

    def _write(self, call: Call) -> str | None:
        """PATCH or DELETE, retried as is; a DELETE meeting 404 after a failed try already took effect."""
        failed_before = False

        def attempt() -> str | None:
            nonlocal failed_before
            try:
                return self._send_once(call).request_id
            except TransientGraphError:
                failed_before = True
                raise
            except PermanentGraphError as exc:
                gone = exc.status == 404 and exc.code not in USER_NOT_FOUND_CODES
                if call.method == "DELETE" and failed_before and gone:
                    return exc.request_id
                raise

        return self._retrying.copy()(attempt)

    def _post(self, call: Call, applied: Callable[[], bool]) -> str | None:
        """A POST is not idempotent: after a timeout or 500/502/504, re-read and send again only if needed."""

        def attempt() -> str | None:
            try:
                return self._send_once(call).request_id
            except UncertainWriteError as exc:
                if self._confirm(call, applied, exc):
                    logger.info("%s for %s: re-read shows it applied", call.what, mask_user(call.user))
                    return exc.request_id
                retry = TransientGraphError(
                    f"{exc.message}; a re-read shows it was not applied, so it is sent again",
                    status=exc.status,
                    code=exc.code,
                    request_id=exc.request_id,
                    client_request_id=exc.client_request_id,
                    retry_after=exc.retry_after,
                )
                raise retry from exc

        return self._retrying.copy()(attempt)

    def _confirm(self, call: Call, applied: Callable[[], bool], uncertain: GraphError) -> bool:
        try:
            return applied()
        except GraphError as exc:
            msg = f"{uncertain.message}; re-reading to check failed too, so check the user in the Entra admin center"
            raise PermanentGraphError(
                msg,
                status=uncertain.status,
                code=uncertain.code,
                request_id=uncertain.request_id,
                client_request_id=uncertain.client_request_id,
            ) from exc

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


def _write_call(
    method: str,
    url: str,
    user: str,
    what: str,
    body: Mapping[str, str] | None = None,
    *,
    one_method: bool = True,
) -> Call:
    """A write; unless *one_method* is False its URL names one method (a 404 may mean that method)."""
    return Call(method, url, user, what, WRITE_PERMISSION, body, one_method=one_method)


def _json(response: httpx.Response) -> object:
    try:
        body: object = response.json()
    except ValueError:  # 201/204 may come with an empty or non-JSON body
        return None
    return body


def collection_items(body: object) -> list[Mapping[str, object]]:
    """The objects of a collection body (``{"value": [...]}``); empty when it is not one."""
    values = body.get("value") if isinstance(body, Mapping) else None
    return [v for v in values if isinstance(v, Mapping)] if isinstance(values, list) else []


def _items(reply: _Reply) -> list[Mapping[str, object]]:
    """The objects of a collection answer; a body without a value list is an error here."""
    body = reply.body
    if not (isinstance(body, Mapping) and isinstance(body.get("value"), list)):
        msg = "Graph returned a collection without a value list"
        raise PermanentGraphError(msg, request_id=reply.request_id)
    return collection_items(body)


def _unexpected(call: Call, reply: _Reply) -> PermanentGraphError:
    msg = f"{call.what} for {mask_user(call.user)}: Graph returned an unexpected body"
    return PermanentGraphError(msg, request_id=reply.request_id)


def _same(kind: MethodKind, have: str | None, want: str) -> bool:
    return have is not None and method_key(kind, have) == method_key(kind, want)


def methods_from_items(user: str, items: Sequence[Mapping[str, object]]) -> CurrentMethods:
    """A user's methods from the items of ``GET /authentication/methods`` (each with ``@odata.type``)."""
    phones: dict[MethodKind, str] = {}
    sms_state: str | None = None
    email: str | None = None
    others: list[str] = []
    for item in items:
        odata_type = str(item.get("@odata.type", "")).removeprefix("#microsoft.graph.")
        if odata_type == "phoneAuthenticationMethod":
            kind = _PHONE_TYPES.get(str(item.get("phoneType")))
            number = item.get("phoneNumber")
            if kind is None or not isinstance(number, str):
                continue  # unknownFutureValue and the like: not ours to manage
            phones[kind] = number
            state = item.get("smsSignInState")
            if kind is MethodKind.MOBILE and isinstance(state, str):
                sms_state = state
        elif odata_type == "emailAuthenticationMethod":
            address = item.get("emailAddress")
            email = address if isinstance(address, str) else None
        elif odata_type and odata_type not in _NOT_MFA:
            others.append(odata_type.removesuffix("AuthenticationMethod"))
    return CurrentMethods(
        user=user, phones=phones, email=email, sms_sign_in_state=sms_state, other_methods=tuple(others)
    )


def operation_call(paths: GraphPaths, operation: Operation, target: str) -> Call:
    """The Graph request for one write; *target* is the user path reference (UPN or object id)."""
    user = operation.user
    match operation:
        case AddPhone(kind=kind, number=number):
            body = {"phoneNumber": number, "phoneType": kind.value}
            return _write_call(
                "POST", paths.phone_methods(target), user, f"add {kind} phone", body, one_method=False
            )
        case UpdatePhone(kind=kind, number=number):
            body = {"phoneNumber": number, "phoneType": kind.value}
            return _write_call("PATCH", paths.phone_method(target, kind), user, f"update {kind} phone", body)
        case DeletePhone(kind=kind):
            return _write_call("DELETE", paths.phone_method(target, kind), user, f"delete {kind} phone")
        case AddEmail(address=address):
            body = {"emailAddress": address}
            return _write_call("POST", paths.email_methods(target), user, "add email", body, one_method=False)
        case UpdateEmail(address=address):
            body = {"emailAddress": address}
            return _write_call("PATCH", paths.email_method(target), user, "update email", body)
        case DeleteEmail():
            return _write_call("DELETE", paths.email_method(target), user, "delete email")
        case SetDefaultMethod(method=method):
            body = {"userPreferredMethodForSecondaryAuthentication": method.value}
            url = paths.sign_in_preferences(target)
            return _write_call("PATCH", url, user, "set default method", body, one_method=False)
        case SetSmsSignIn(enable=enable):
            what = "enable SMS sign-in" if enable else "disable SMS sign-in"
            return _write_call("POST", paths.sms_sign_in(target, enable=enable), user, what)
        case _:
            assert_never(operation)
