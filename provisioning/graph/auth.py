"""App-only Graph tokens: the certificate loaded once into memory, one MSAL app, errors an admin can act on.

MSAL's network calls stay behind ``TokenProvider``; tests give it a fake app (``TokenApp``).
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import httpx
import msal
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from provisioning.errors import AuthenticationError
from provisioning.graph.keyvault import SecretReader, read_certificate_secret
from provisioning.log_redaction import add_secret
from provisioning.settings import CLOUD_ENDPOINTS, Settings

logger = logging.getLogger(__name__)

_PEM_KEY = re.compile(rb"-----BEGIN ((?:ENCRYPTED |RSA )?PRIVATE KEY)-----.+?-----END \1-----", re.DOTALL)
_PEM_CERT = re.compile(rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)
_EXPIRY_WARNING = dt.timedelta(days=30)

# Hosts MSAL knows; any other authority (a test server) must skip instance discovery (graph-api.md 11).
_MICROSOFT_AUTHORITY_HOSTS = frozenset(
    {urlsplit(authority).hostname for authority, _ in CLOUD_ENDPOINTS.values()}
    | {"login.microsoft.com", "login.windows.net"}
)

# AADSTS codes seen with client-credential tokens, and what the admin should check.
_AADSTS_HINTS: Mapping[str, str] = {
    "700027": "the certificate is not registered on the app registration (upload its public part under "
    "Certificates & secrets), or it expired",
    "700016": "no app with this client id in the tenant: check PROVISIONING_CLIENT_ID and PROVISIONING_TENANT_ID",
    "7000215": "invalid client secret: check PROVISIONING_CLIENT_SECRET (use the secret's value, not its id)",
    "7000222": "the client secret expired: create a new one, or better, use a certificate",
    "90002": "the tenant was not found: check PROVISIONING_TENANT_ID and PROVISIONING_CLOUD",
    "900023": "the tenant id is neither a GUID nor a verified domain: check PROVISIONING_TENANT_ID",
    "700024": "the client assertion is outside its valid time: check this machine's clock",
    "7000112": "the application is disabled in the tenant",
    "500011": "Graph is not available to this tenant at this URL: check PROVISIONING_GRAPH_URL and the cloud",
    "1002012": "the scope is invalid: check PROVISIONING_GRAPH_URL",
    "70011": "the scope is invalid: check PROVISIONING_GRAPH_URL",
    "53003": "a Conditional Access policy for workload identities blocked the token",
}
_TRANSIENT_ERRORS = frozenset({"temporarily_unavailable", "server_error", "slow_down"})


@dataclass(frozen=True)
class CertificateCredential:
    """The app's certificate as in-memory PEM text: an unencrypted key and the leaf certificate."""

    private_key_pem: str = field(repr=False)
    certificate_pem: str
    portal_thumbprint: str  # SHA-1, as the Entra portal shows it; MSAL itself signs with SHA-256
    not_after: dt.datetime

    def as_msal_credential(self) -> dict[str, str]:
        """MSAL's credential dict: no thumbprint, so MSAL uses SHA-256, PS256 and x5c (graph-api.md 9)."""
        return {"private_key": self.private_key_pem, "public_certificate": self.certificate_pem}


def load_certificate(
    path: Path, password: str | None, *, now: dt.datetime | None = None
) -> CertificateCredential:
    """Read a PEM (key and certificate) or PFX/P12 file once; never write the key anywhere.

    Raises ``AuthenticationError`` when the file cannot be used, naming the setting to fix.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"cannot read PROVISIONING_CERTIFICATE_PATH ({path}): {exc.strerror}"
        raise AuthenticationError(msg) from exc
    pfx = path.suffix.lower() in {".pfx", ".p12"}
    return parse_certificate(data, password, pfx=pfx, source="PROVISIONING_CERTIFICATE_PATH", now=now)


def parse_certificate(
    data: bytes, password: str | None, *, pfx: bool, source: str, now: dt.datetime | None = None
) -> CertificateCredential:
    """A credential from PEM or PFX bytes held in memory; *source* names where they came from in errors.

    PEM is recognised by its private-key block unless *pfx* says otherwise.
    """
    secret = password.encode() if password is not None else None
    if pfx or _PEM_KEY.search(data) is None:
        key, leaf = _load_pfx(data, secret, source)
    else:
        key, leaf = _load_pem(data, secret, source)
    return _credential(key, leaf, now or dt.datetime.now(dt.UTC), source)


def _load_pfx(data: bytes, password: bytes | None, source: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    try:
        key, leaf, _ = pkcs12.load_key_and_certificates(data, password)
    except ValueError as exc:
        msg = (
            f"{source} is neither a PEM with a private key nor a PFX that "
            "PROVISIONING_CERTIFICATE_PASSWORD opens: check the file and the password"
        )
        raise AuthenticationError(msg) from exc
    if key is None or leaf is None:
        msg = f"the PFX in {source} must hold both the private key and its certificate"
        raise AuthenticationError(msg)
    return _rsa(key, source), leaf


def _load_pem(data: bytes, password: bytes | None, source: str) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key_match = _PEM_KEY.search(data)
    assert key_match is not None  # parse_certificate chose PEM because a key block is there
    try:
        key = serialization.load_pem_private_key(key_match.group(0), password)
    except TypeError as exc:  # cryptography: password missing for an encrypted key, or given for a plain one
        needs = (
            "set PROVISIONING_CERTIFICATE_PASSWORD"
            if password is None
            else "unset PROVISIONING_CERTIFICATE_PASSWORD"
        )
        msg = f"the private key in {source} does not match the password setting: {needs}"
        raise AuthenticationError(msg) from exc
    except ValueError as exc:
        msg = f"the private key in {source} cannot be read: check PROVISIONING_CERTIFICATE_PASSWORD"
        raise AuthenticationError(msg) from exc
    rsa_key = _rsa(key, source)
    public = rsa_key.public_key().public_numbers()
    for block in _PEM_CERT.findall(data):
        cert = x509.load_pem_x509_certificate(block)
        cert_key = cert.public_key()
        if isinstance(cert_key, rsa.RSAPublicKey) and cert_key.public_numbers() == public:
            return rsa_key, cert
    msg = f"{source} holds no certificate for its private key: put key and certificate in one PEM"
    raise AuthenticationError(msg)


def _rsa(key: object, source: str) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        msg = f"the certificate in {source} must have an RSA key (Entra signs PS256 assertions)"
        raise AuthenticationError(msg)
    return key


def _credential(
    key: rsa.RSAPrivateKey, leaf: x509.Certificate, now: dt.datetime, source: str
) -> CertificateCredential:
    leaf_key = leaf.public_key()
    if (
        not isinstance(leaf_key, rsa.RSAPublicKey)
        or leaf_key.public_numbers() != key.public_key().public_numbers()
    ):
        msg = f"the PFX in {source} pairs a key with another key's certificate"
        raise AuthenticationError(msg)
    thumbprint = leaf.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - display only, as the portal shows it
    if leaf.not_valid_after_utc <= now:
        msg = (
            f"the certificate {thumbprint} expired on {leaf.not_valid_after_utc:%Y-%m-%d}: register a new one"
        )
        raise AuthenticationError(msg)
    if leaf.not_valid_after_utc - now < _EXPIRY_WARNING:
        logger.warning("certificate %s expires on %s", thumbprint, f"{leaf.not_valid_after_utc:%Y-%m-%d}")
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    cert_pem = leaf.public_bytes(serialization.Encoding.PEM).decode()
    return CertificateCredential(key_pem, cert_pem, thumbprint, leaf.not_valid_after_utc)


class TokenApp(Protocol):
    """The one MSAL call we make; ``msal.ConfidentialClientApplication`` satisfies it."""

    def acquire_token_for_client(self, scopes: list[str]) -> Mapping[str, object]: ...


class TokenSource(Protocol):
    """Anything that hands out a bearer token for Graph."""

    def token(self) -> str: ...


class LazyMsalApp:
    """Builds the MSAL app on first use: its constructor already calls the authority (tenant discovery)."""

    def __init__(self, build: Callable[[], TokenApp]) -> None:
        self._build = build
        self._app: TokenApp | None = None
        self._lock = threading.Lock()

    def acquire_token_for_client(self, scopes: list[str]) -> Mapping[str, object]:
        with self._lock:
            if self._app is None:
                self._app = self._build()
            app = self._app
        return app.acquire_token_for_client(scopes=scopes)

    def close(self) -> None:
        """Close MSAL's HTTP session, if the app was built."""
        with self._lock:
            session = getattr(self._app, "http_client", None)
        close = getattr(session, "close", None)
        if callable(close):
            close()


class TokenProvider:
    """App-only tokens for one scope. MSAL caches them; errors become ``AuthenticationError``.

    A throttled or failing token endpoint is retried after each delay in *backoff*: MSAL replays a
    429/5xx answer from its cache for the Retry-After time (default 5 s), so retrying at once is useless.
    """

    def __init__(
        self,
        app: TokenApp,
        scope: str,
        *,
        note: str = "",
        sleep: Callable[[float], None] = time.sleep,
        backoff: Sequence[float] = (5.0, 10.0, 20.0),
    ) -> None:
        self._app = app
        self._scope = scope
        self._note = note
        self._sleep = sleep
        self._backoff = tuple(backoff)
        self._acquire_lock = threading.Lock()

    def close(self) -> None:
        """Release the app's connections (MSAL keeps a requests session)."""
        close = getattr(self._app, "close", None)
        if callable(close):
            close()

    def token(self) -> str:
        """A valid access token; raises ``AuthenticationError`` with what to fix."""
        for delay in (*self._backoff, None):
            result = self._acquire()
            token = result.get("access_token")
            if isinstance(token, str):
                return token
            if not _is_transient(result) or delay is None:
                raise AuthenticationError(self._describe(result))
            logger.info("token endpoint unavailable (%s); retrying in %.0f s", result.get("error"), delay)
            self._sleep(delay)
        raise AssertionError  # pragma: no cover - the loop returns or raises

    def _acquire(self) -> Mapping[str, object]:
        # One caller at a time: threads starting together would each miss the empty cache and ask
        # the token endpoint; after the first, MSAL answers from its cache in microseconds.
        with self._acquire_lock:
            return self._acquire_unlocked()

    def _acquire_unlocked(self) -> Mapping[str, object]:
        try:
            return self._app.acquire_token_for_client(scopes=[self._scope])
        except (OSError, msal.exceptions.MsalServiceError) as exc:  # network, or 5xx from the token endpoint
            return {"error": "temporarily_unavailable", "error_description": type(exc).__name__}
        except ValueError as exc:  # MSAL: the authority's OpenID configuration could not be read
            return {"error": "invalid_authority", "error_description": str(exc).split(".")[0]}

    def _describe(self, result: Mapping[str, object]) -> str:
        error = str(result.get("error", "unknown_error"))
        description = str(result.get("error_description", ""))
        codes = re.findall(r"AADSTS(\d+)", description)
        code = codes[0] if codes else None
        first_line = description.splitlines()[0][:200] if description else ""
        if error in _TRANSIENT_ERRORS:
            hint = f"the token endpoint stayed unavailable ({first_line or error}); try again later"
        elif error == "invalid_authority":
            hint = "the authority did not answer: check PROVISIONING_TENANT_ID and PROVISIONING_AUTHORITY_URL or cloud"
        else:
            hint = _AADSTS_HINTS.get(code or "", first_line or error)
        label = f"AADSTS{code}" if code else error
        ids = ", ".join(f"{k} {result[k]}" for k in ("trace_id", "correlation_id") if result.get(k))
        parts = [f"no Graph token ({label}): {hint}", self._note, f"[{ids}]" if ids else ""]
        return "; ".join(p for p in parts if p)


def _is_transient(result: Mapping[str, object]) -> bool:
    return result.get("error") in _TRANSIENT_ERRORS


class BearerAuth(httpx.Auth):
    """Adds ``Authorization: Bearer`` from a token source to every request."""

    def __init__(self, tokens: TokenSource) -> None:
        self._tokens = tokens

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._tokens.token()}"
        yield request


def build_token_provider(
    settings: Settings,
    *,
    sleep: Callable[[float], None] = time.sleep,
    secret_reader: SecretReader | None = None,
) -> TokenProvider:
    """One lazily built MSAL app for the process; the certificate is read now, the token endpoint used later.

    The certificate comes from Key Vault when ``PROVISIONING_CERTIFICATE_KEYVAULT_URL`` is set (Azure),
    else from ``PROVISIONING_CERTIFICATE_PATH`` (a developer's machine); a client secret is the fallback.
    *secret_reader* replaces Key Vault in tests.
    """
    add_secret(settings.client_secret)  # never in a log line, whichever library would print it
    add_secret(settings.certificate_password)
    certificate: CertificateCredential | None = None
    if (
        settings.keyvault_certificate is not None
    ):  # Azure: read once with the managed identity, kept in memory
        secret = read_certificate_secret(settings.keyvault_certificate, client=secret_reader)
        certificate = parse_certificate(secret.data, None, pfx=secret.pfx, source=secret.source)
    elif settings.certificate_path is not None:
        certificate = load_certificate(settings.certificate_path, settings.certificate_password)
    if certificate is not None:
        credential: object = certificate.as_msal_credential()
        used = f"certificate thumbprint {certificate.portal_thumbprint}"
    else:
        credential = settings.client_secret
        used = "client secret"
    note = f"app {settings.client_id} at {settings.authority}, {used}"
    discovery = urlsplit(settings.authority_root).hostname in _MICROSOFT_AUTHORITY_HOSTS

    def build() -> TokenApp:
        app: TokenApp = msal.ConfidentialClientApplication(
            settings.client_id,
            authority=settings.authority,
            client_credential=credential,
            instance_discovery=discovery,
            timeout=settings.http_timeout,
            verify=settings.ca_file or True,
            app_name="entra-auth-provisioning",
            app_version="0.1",
        )
        return app

    return TokenProvider(LazyMsalApp(build), settings.scope, note=note, sleep=sleep)
