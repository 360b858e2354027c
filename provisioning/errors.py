"""The project's exceptions and the HTTP API's error codes, and nothing else (the bottom layer).

    ProvisioningError
    ├── ConfigurationError        settings missing or contradictory; fails at start, one message
    ├── InputError                a file or request that cannot be read (file, line, column in the text)
    │   ├── CellError             one CSV cell that cannot be used (also a ValueError)
    │   ├── PhoneError            a cell or field that is not a usable phone number (also a ValueError)
    │   └── PayloadError          an HTTP request that cannot be used: an ``ErrorCode`` and the field
    ├── AccessDenied              an HTTP request refused before its body is read: an ``ErrorCode``
    ├── TokenRejected             no usable bearer token (answered 401 invalidToken)
    ├── RoleMissing               a valid token whose app lacks the app role (answered 403 missingRole)
    ├── KeysUnavailable           the token issuer's keys cannot be had (answered 503 serviceUnavailable)
    └── GraphError                Graph answered with an error, or could not be reached
        ├── TransientGraphError   429, 503, 504, transport errors: worth retrying (carries retry_after)
        │   └── UncertainWriteError  a POST that may have applied anyway (timeout, 500, 502, 504): re-read
        └── PermanentGraphError   everything else: 400, 401, 403, 404, 409, other 5xx after re-read
            ├── AuthenticationError  no token could be had (MSAL error, bad certificate)
            └── DeltaExpiredError    the stored users-delta link is no longer valid: sync in full

Per-user Graph failures become values in the report (``Outcome``); only configuration errors and
bugs escape a run. ``ErrorCode`` is every ``error.code`` the HTTP API answers, each with its status
and one description; the OpenAPI document lists and describes them from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Generic, Protocol, TypeVar


class ErrorCode(StrEnum):
    """The ``error.code`` values of the HTTP API: wire value, HTTP status, description."""

    _value_: str
    status: int
    description: str

    def __new__(cls, value: str, status: int, description: str) -> ErrorCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.status = status
        member.description = description
        return member

    # About the request itself.
    INVALID_JSON = ("invalidJson", 400, "The body is not valid JSON.")
    INVALID_REQUEST = ("invalidRequest", 400, "The body is JSON but not a user object or a batch object.")
    UNKNOWN_FIELD = ("unknownField", 400, "A field the API does not know; `field` names it.")
    MISSING_FIELD = ("missingField", 400, "A required field is absent; `field` names it.")
    INVALID_FIELD = ("invalidField", 400, "A field's value cannot be used; `field` names it.")
    DUPLICATE_USER = ("duplicateUser", 400, "The same user appears twice in one request.")
    PAYLOAD_TOO_LARGE = ("payloadTooLarge", 413, "The body is larger than the API accepts (256 KiB).")
    TOO_MANY_USERS = ("tooManyUsers", 413, "The request lists more users than the API accepts.")
    UNSUPPORTED_MEDIA_TYPE = ("unsupportedMediaType", 415, "The body is not sent as application/json.")
    METHOD_NOT_ALLOWED = ("methodNotAllowed", 405, "The HTTP method is not allowed on this path.")
    JOB_NOT_FOUND = ("jobNotFound", 404, "No job with this id.")
    UPSTREAM_UNAVAILABLE = (
        "upstreamUnavailable",
        503,
        "Graph cannot be used with the app's settings now (certificate, consent): tell the admin.",
    )
    INTERNAL_ERROR = ("internalError", 500, "Unexpected error; quote the correlation id to the admin.")
    # About the caller (its token, its role, its rate) and the service's ability to check them.
    INVALID_TOKEN = (
        "invalidToken",
        401,
        "No valid bearer token: missing, expired, for another audience or forged; the message says which.",
    )
    MISSING_ROLE = ("missingRole", 403, "The bearer token's app lacks the app role Provisioning.Submit.")
    TOO_MANY_REQUESTS = (
        "tooManyRequests",
        429,
        "Too many requests from this caller; retry after Retry-After.",
    )
    SERVICE_UNAVAILABLE = (
        "serviceUnavailable",
        503,
        "The app's own settings, or the token issuer's signing keys, cannot be used now.",
    )


class Caller(Protocol):
    """A verified caller as ``RoleMissing`` carries it (``bearer.Principal``): ids for the log."""

    def describe(self) -> str: ...


_C = TypeVar("_C", bound=Caller)


class ProvisioningError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigurationError(ProvisioningError):
    """Settings are missing or contradict each other; the message says what to set."""


class InputError(ProvisioningError):
    """An input file or request body that cannot be used; the message names where."""


class CellError(InputError, ValueError):
    """A cell that cannot be used; the message says why, without the column name."""


class PhoneError(InputError, ValueError):
    """A cell that is not a usable phone number; the message tells the admin why."""


class PayloadError(InputError):
    """A request body that cannot be used: the code, what to fix, and the field (None for the body)."""

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class AccessDenied(ProvisioningError):
    """A request refused before its body is read: code, message for the caller, answer headers."""

    def __init__(self, code: ErrorCode, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


class TokenRejected(ProvisioningError):
    """No usable token: the message says what is wrong and what to do (answered 401)."""

    def __init__(self, message: str, *, missing: bool = False, claimed: str = "-") -> None:
        super().__init__(message)
        self.message = message
        self.missing = missing  # no credentials at all (RFC 6750: the challenge carries no error code)
        self.claimed = claimed  # the unverified appid/oid, for the log only


class RoleMissing(ProvisioningError, Generic[_C]):
    """A valid token whose app lacks the required app role (answered 403)."""

    def __init__(self, message: str, principal: _C) -> None:
        super().__init__(message)
        self.message = message
        self.principal = principal


class KeysUnavailable(ProvisioningError):
    """The issuer's keys could not be fetched and none are cached: no token can be checked now."""


class GraphError(ProvisioningError):
    """Graph answered with an error status, or the call could not complete."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        client_request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.client_request_id = client_request_id
        self.retry_after = retry_after


class TransientGraphError(GraphError):
    """Worth retrying: throttled (429), unavailable (503, 504) or a transport failure."""


class PermanentGraphError(GraphError):
    """Retrying the same request will not help."""


class AuthenticationError(PermanentGraphError):
    """No access token: the certificate, client id or tenant is wrong, or consent is missing."""


class UncertainWriteError(TransientGraphError):
    """A POST that failed in a way that may still have applied it (timeout, 500, 502, 504): re-read first."""


class DeltaExpiredError(PermanentGraphError):
    """The stored delta link is no longer valid (410 Gone or ``syncStateNotFound``): sync in full."""
