"""The project's exceptions, and nothing else.

    ProvisioningError
    ├── ConfigurationError        settings missing or contradictory; fails at start, one message
    ├── InputError                a file or request that cannot be read (file, line, column in the text)
    └── GraphError                Graph answered with an error, or could not be reached
        ├── TransientGraphError   429, 503, 504, transport errors: worth retrying (carries retry_after)
        └── PermanentGraphError   everything else: 400, 401, 403, 404, 409, other 5xx after re-read
            └── AuthenticationError  no token could be had (MSAL error, bad certificate)

Per-user Graph failures become values in the report (``Outcome``); only configuration errors and
bugs escape a run.
"""

from __future__ import annotations


class ProvisioningError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigurationError(ProvisioningError):
    """Settings are missing or contradict each other; the message says what to set."""


class InputError(ProvisioningError):
    """An input file or request body that cannot be used; the message names where."""


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
