"""Refusals of the HTTP API before a request's body is read: their error codes and statuses (pure).

``api_input.ErrorCode`` holds the codes about the request itself; these are about the caller
(its token, its role, its rate) and the service's ability to check them.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from provisioning.errors import ProvisioningError


class AccessCode(StrEnum):
    """The ``error.code`` values of access refusals."""

    INVALID_TOKEN = "invalidToken"  # noqa: S105 - an error code, not a secret
    MISSING_ROLE = "missingRole"
    TOO_MANY_REQUESTS = "tooManyRequests"
    SERVICE_UNAVAILABLE = "serviceUnavailable"  # the app's own settings, or the token issuer's keys


ACCESS_STATUS: Mapping[AccessCode, int] = {
    AccessCode.INVALID_TOKEN: 401,
    AccessCode.MISSING_ROLE: 403,
    AccessCode.TOO_MANY_REQUESTS: 429,
    AccessCode.SERVICE_UNAVAILABLE: 503,
}


class AccessDenied(ProvisioningError):
    """A request refused before its body is read: code, message for the caller, answer headers."""

    def __init__(self, code: AccessCode, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
