"""Who may call the HTTP endpoint, and how often: the optional Entra bearer check and the rate limit.

The Functions host checks the function key before any code runs. ``ApiAccess.admit`` then, when
``PROVISIONING_API_AUDIENCE`` is set, requires a valid Entra ID token with the app role, and counts
the request against the caller's token bucket. Refusals are ``errors.AccessDenied`` with the
``error.code`` and the headers (``WWW-Authenticate``, ``Retry-After``) of the answer.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from provisioning.entrypoints.http.bearer import (
    BearerPolicy,
    BearerValidator,
    Principal,
)
from provisioning.entrypoints.http.jwks import SigningKeys, https_client
from provisioning.entrypoints.http.rate_limit import (
    DEFAULT_BURST,
    DEFAULT_PER_MINUTE,
    RateLimit,
    RateLimiter,
    retry_after_header,
)
from provisioning.errors import AccessDenied, ErrorCode, KeysUnavailable, RoleMissing, TokenRejected

# The settings module's reader: one way of reading PROVISIONING_* and one style of problem message.
from provisioning.settings import Cloud, _read_endpoints, _Reader

log = logging.getLogger(__name__)

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ROLE = re.compile(r"^[A-Za-z0-9._:-]{1,120}$")
# Entra's v1 token issuer per cloud (v2 is the authority root + /{tenant}/v2.0); US Government
# clouds issue v1 tokens as sts.windows.net too.
_V1_ISSUER = {Cloud.CHINA: "https://sts.chinacloudapi.cn"}
_V1_DEFAULT = "https://sts.windows.net"


@dataclass(frozen=True)
class ApiAccessSettings:
    """``PROVISIONING_API_*``: bearer tokens (off unless an audience is set) and the per-caller rate."""

    bearer: BearerPolicy | None = None
    metadata_url: str | None = None  # the issuer's OpenID metadata (jwks_uri)
    rate: RateLimit | None = field(default_factory=RateLimit)  # None: not limited
    ca_file: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> ApiAccessSettings:
        """Read and check the settings; one ``ConfigurationError`` lists every problem."""
        reader = _Reader(env)
        audiences = frozenset((reader.get("API_AUDIENCE") or "").replace(",", " ").split())
        role = reader.get("API_ROLE") or "Provisioning.Submit"
        if not _ROLE.match(role):
            reader.problem("API_ROLE", "must be an app role value such as Provisioning.Submit (no spaces)")
        explicit_issuers = frozenset((reader.get("API_ISSUERS") or "").replace(",", " ").split())
        rate = _read_rate(reader)
        tenant = reader.get("TENANT_ID")
        cloud, authority_root, _ = _read_endpoints(reader, tenant)
        if audiences and not (tenant and _GUID.match(tenant)):
            reader.problem(
                "TENANT_ID",
                "must be the tenant id GUID (not a domain) when PROVISIONING_API_AUDIENCE is set: "
                "tokens carry the GUID in tid",
            )
        reader.raise_problems()
        if not audiences:
            return cls(rate=rate, ca_file=env.get("SSL_CERT_FILE") or None)
        assert tenant is not None
        issuers = explicit_issuers or _issuers(cloud, authority_root, tenant)
        policy = BearerPolicy(audiences=audiences, issuers=issuers, tenant_id=tenant, role=role)
        metadata = f"{authority_root}/{tenant}/v2.0/.well-known/openid-configuration"
        return cls(policy, metadata, rate, env.get("SSL_CERT_FILE") or None)


def _issuers(cloud: Cloud, authority_root: str, tenant: str) -> frozenset[str]:
    """The v1 (``sts.windows.net``, Entra's default for APIs) and v2 issuers of the tenant."""
    v1 = _V1_ISSUER.get(cloud, _V1_DEFAULT)
    return frozenset({f"{v1}/{tenant}/", f"{authority_root}/{tenant}/v2.0"})


def _read_rate(reader: _Reader) -> RateLimit | None:
    raw = reader.get("API_RATE_PER_MINUTE")
    burst = reader.integer("API_BURST", DEFAULT_BURST, minimum=1, maximum=100_000)
    if raw is not None and raw.lower() == "off":
        return None
    try:
        per_minute = DEFAULT_PER_MINUTE if raw is None else float(raw)
    except ValueError:
        per_minute = 0.0
    if not 0.1 <= per_minute <= 1_000_000:  # also rejects nan
        reader.problem(
            "API_RATE_PER_MINUTE",
            f"must be requests per minute per caller from 0.1 to 1000000, or off (default {DEFAULT_PER_MINUTE:g})",
        )
        per_minute = DEFAULT_PER_MINUTE
    return RateLimit(per_minute, burst)


class ApiAccess:
    """The gate every API call but the OpenAPI document passes: bearer token (optional), rate limit."""

    def __init__(
        self,
        bearer: BearerValidator | None = None,
        limiter: RateLimiter | None = None,
        *,
        close: Callable[[], None] | None = None,
    ) -> None:
        self.bearer = bearer
        self.limiter = limiter
        self._close = close

    def close(self) -> None:
        """Release the connection to the token issuer, if one was opened."""
        if self._close is not None:
            self._close()

    def admit(self, operation: str, headers: Mapping[str, str], params: Mapping[str, str]) -> str:
        """The caller's identity once admitted; ``AccessDenied`` otherwise. Never logs a token or key."""
        lowered = {k.lower(): v for k, v in headers.items()}
        principal = self._authenticate(operation, lowered)
        caller = principal.identity if principal is not None else caller_identity(lowered, params)
        if self.limiter is not None:
            wait = self.limiter.acquire(caller)
            if wait is not None:
                log.warning("%s: rate limit reached for %s; retry after %.1f s", operation, caller, wait)
                msg = (
                    f"more than {self.limiter.limit.per_minute:g} requests per minute from this caller: "
                    "retry after the number of seconds in Retry-After"
                )
                headers_out = {"Retry-After": retry_after_header(wait)}
                raise AccessDenied(ErrorCode.TOO_MANY_REQUESTS, msg, headers_out)
        return caller

    def _authenticate(self, operation: str, headers: Mapping[str, str]) -> Principal | None:
        if self.bearer is None:
            return None
        try:
            return self.bearer.validate(headers.get("authorization"))
        except TokenRejected as exc:
            log.warning("%s: bearer token refused (%s): %s", operation, exc.claimed, exc.message)
            challenge = 'Bearer realm="provisioning"'
            if not exc.missing:
                challenge += f', error="invalid_token", error_description="{_quoted(exc.message)}"'
            raise AccessDenied(ErrorCode.INVALID_TOKEN, exc.message, {"WWW-Authenticate": challenge}) from exc
        except RoleMissing as exc:
            log.warning(
                "%s: token of %s lacks the app role: %s", operation, exc.principal.describe(), exc.message
            )
            challenge = (
                f'Bearer realm="provisioning", error="insufficient_scope", scope="{self.bearer.policy.role}"'
            )
            raise AccessDenied(ErrorCode.MISSING_ROLE, exc.message, {"WWW-Authenticate": challenge}) from exc
        except KeysUnavailable as exc:
            log.error("%s: bearer tokens cannot be checked: %s", operation, exc)  # noqa: TRY400 - no traceback: the cause is in the message
            msg = (
                "bearer tokens cannot be checked right now (the issuer's signing keys are unavailable); "
                "retry later, and tell the administrator if it persists"
            )
            raise AccessDenied(ErrorCode.SERVICE_UNAVAILABLE, msg, {"Retry-After": "30"}) from exc


def caller_identity(headers: Mapping[str, str], params: Mapping[str, str]) -> str:
    """Who is calling when there is no token: the function key (hashed), else the client address.

    The host has checked the key already, so only valid keys reach here and each names one caller.
    Without one (the host may not pass it on), the rightmost ``X-Forwarded-For`` entry is the one the
    platform's front end added, which a client cannot forge; failing that all callers share a bucket.
    """
    key = headers.get("x-functions-key") or params.get("code")
    if key:
        return "key:" + hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:16]
    forwarded = (headers.get("x-forwarded-for") or "").split(",")[-1].strip()
    address = _address(forwarded) or _address((headers.get("x-client-ip") or "").strip())
    return f"ip:{address}" if address else "anonymous"


def _address(value: str) -> str | None:
    """An IP address from ``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:5678`` or ``::1``; None otherwise."""
    if value.startswith("["):
        value = value[1:].partition("]")[0]
    elif value.count(":") == 1:
        value = value.partition(":")[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def _quoted(text: str) -> str:
    """Text safe inside a quoted-string of a challenge (RFC 6750 limits error_description to ASCII)."""
    return "".join(c for c in text if 0x20 <= ord(c) < 0x7F and c not in '"\\')


def build_access(settings: ApiAccessSettings, http: Callable[[], httpx.Client] | None = None) -> ApiAccess:
    """The gate for *settings*; *http* makes the client that fetches the issuer's keys (built lazily)."""
    limiter = RateLimiter(settings.rate) if settings.rate is not None else None
    if settings.bearer is None or settings.metadata_url is None:
        return ApiAccess(None, limiter)
    if http is not None:
        keys = SigningKeys(settings.metadata_url, http)
        return ApiAccess(BearerValidator(settings.bearer, keys), limiter)
    client = _LazyClient(settings.ca_file)
    keys = SigningKeys(settings.metadata_url, client)
    return ApiAccess(BearerValidator(settings.bearer, keys), limiter, close=client.close)


class _LazyClient:
    """One httpx client for the issuer, built on the first key fetch (never at import or start)."""

    def __init__(self, ca_file: str | None) -> None:
        self._ca_file = ca_file
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    def __call__(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = https_client(self._ca_file)
            return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
