"""Certificate loading, the MSAL credential, token error mapping and the bearer header."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import jwt
import msal
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from provisioning.errors import AuthenticationError
from provisioning.graph.auth import (
    BearerAuth,
    CertificateCredential,
    LazyMsalApp,
    TokenProvider,
    build_token_provider,
    load_certificate,
)
from provisioning.settings import Settings

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class _Pair:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def key_pem(self, password: bytes | None = None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
        )

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _pair(days: int = 365) -> _Pair:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "provisioning-test")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return _Pair(key, cert)


@pytest.fixture(name="pair", scope="module")
def _pair_fixture() -> _Pair:
    return _pair()


def test_a_pem_with_key_and_certificate_loads_into_memory(tmp_path: Path, pair: _Pair) -> None:
    """The key comes back as unencrypted PKCS#8 PEM text and the certificate as PEM, with its portal thumbprint."""
    path = tmp_path / "app.pem"
    path.write_bytes(pair.cert_pem() + pair.key_pem())

    credential = load_certificate(path, None, now=NOW)

    assert credential.certificate_pem == pair.cert_pem().decode()
    assert credential.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert credential.portal_thumbprint == pair.cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303
    assert "PRIVATE" not in repr(credential)


def test_an_encrypted_pem_opens_with_the_password(tmp_path: Path, pair: _Pair) -> None:
    """An encrypted key is decrypted in memory with PROVISIONING_CERTIFICATE_PASSWORD."""
    path = tmp_path / "app.pem"
    path.write_bytes(pair.key_pem(b"pw") + pair.cert_pem())

    credential = load_certificate(path, "pw", now=NOW)

    key = serialization.load_pem_private_key(credential.private_key_pem.encode(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    assert key.private_numbers() == pair.key.private_numbers()


@pytest.mark.parametrize(
    ("password", "expected"),
    [
        pytest.param(None, "set PROVISIONING_CERTIFICATE_PASSWORD", id="missing"),
        pytest.param("wrong", "check PROVISIONING_CERTIFICATE_PASSWORD", id="wrong"),
    ],
)
def test_an_encrypted_pem_without_the_right_password_is_refused(
    tmp_path: Path, pair: _Pair, password: str | None, expected: str
) -> None:
    """The error says what to do with the password setting."""
    path = tmp_path / "app.pem"
    path.write_bytes(pair.key_pem(b"pw") + pair.cert_pem())

    with pytest.raises(AuthenticationError, match=expected):
        load_certificate(path, password, now=NOW)


def test_a_pfx_opens_with_the_password(tmp_path: Path, pair: _Pair) -> None:
    """A PKCS#12 file yields the same key and certificate."""
    path = tmp_path / "app.pfx"
    encryption = serialization.BestAvailableEncryption(b"pw")
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"app", pair.key, pair.cert, None, encryption))

    credential = load_certificate(path, "pw", now=NOW)

    assert credential.certificate_pem == pair.cert_pem().decode()


def test_a_pfx_with_the_wrong_password_is_refused(tmp_path: Path, pair: _Pair) -> None:
    """The error names both settings to check."""
    path = tmp_path / "app.p12"
    encryption = serialization.BestAvailableEncryption(b"pw")
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"app", pair.key, pair.cert, None, encryption))

    with pytest.raises(AuthenticationError, match="PROVISIONING_CERTIFICATE_PASSWORD"):
        load_certificate(path, "nope", now=NOW)


def test_a_pem_whose_certificate_belongs_to_another_key_is_refused(tmp_path: Path, pair: _Pair) -> None:
    """Key and certificate must match."""
    path = tmp_path / "app.pem"
    path.write_bytes(pair.key_pem() + _pair().cert_pem())

    with pytest.raises(AuthenticationError, match="no certificate for its private key"):
        load_certificate(path, None, now=NOW)


def test_an_expired_certificate_is_refused(tmp_path: Path, pair: _Pair) -> None:
    """An expired certificate would be rejected by Entra anyway; say so up front."""
    path = tmp_path / "app.pem"
    path.write_bytes(pair.key_pem() + pair.cert_pem())

    with pytest.raises(AuthenticationError, match="expired"):
        load_certificate(path, None, now=NOW + dt.timedelta(days=400))


@dataclass
class _AuthorityHttp:
    """A fake HTTP client for MSAL (its ``http_client`` port): discovery and token endpoint."""

    forms: list[Mapping[str, object]] = field(default_factory=list)

    def get(self, url: str, **_: object) -> _Reply:
        base = url.split("/v2.0/")[0]
        config = {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "issuer": f"{base}/v2.0",
        }
        return _Reply(200, json.dumps(config))

    def post(self, url: str, data: object = None, **_: object) -> _Reply:
        form = data if isinstance(data, dict) else parse_qs(str(data))
        self.forms.append(form)
        return _Reply(200, json.dumps({"access_token": "tok-1", "token_type": "Bearer", "expires_in": 3599}))

    def close(self) -> None:
        """Nothing to close."""


@dataclass
class _Reply:
    status_code: int
    text: str
    headers: dict[str, str] = field(default_factory=dict)

    def raise_for_status(self) -> None:
        """Only 200s here."""


def test_the_msal_credential_signs_ps256_with_a_sha256_thumbprint_and_x5c(
    tmp_path: Path, pair: _Pair
) -> None:
    """MSAL sends an assertion with alg PS256, x5t#S256 and x5c, verifiable with the certificate."""
    path = tmp_path / "app.pem"
    path.write_bytes(pair.key_pem() + pair.cert_pem())
    credential = load_certificate(path, None)
    authority_http = _AuthorityHttp()
    app = msal.ConfidentialClientApplication(
        CLIENT,
        authority=f"https://login.test/{TENANT}",
        client_credential=credential.as_msal_credential(),
        instance_discovery=False,
        http_client=authority_http,
    )

    token = TokenProvider(app, "https://graph.test/.default").token()

    assert token == "tok-1"
    raw = authority_http.forms[0]["client_assertion"]
    assertion = raw.decode() if isinstance(raw, bytes) else str(raw)
    header = jwt.get_unverified_header(assertion)
    assert header["alg"] == "PS256"
    assert "x5t#S256" in header
    assert "x5t" not in header
    assert header["x5c"]
    claims = jwt.decode(
        assertion,
        pair.cert.public_key(),  # type: ignore[arg-type]
        algorithms=["PS256"],
        audience=f"https://login.test/{TENANT}/oauth2/v2.0/token",
    )
    assert claims["iss"] == claims["sub"] == CLIENT


def test_the_msal_credential_carries_no_sha1_thumbprint(pair: _Pair) -> None:
    """No ``thumbprint`` key: MSAL would treat it as SHA-1 and sign RS256."""
    credential = CertificateCredential(pair.key_pem().decode(), pair.cert_pem().decode(), "AB", NOW)

    as_msal = credential.as_msal_credential()

    assert set(as_msal) == {"private_key", "public_certificate"}


class _FakeApp:
    """A TokenApp answering with the given results (or raising the given exceptions) in turn."""

    def __init__(self, *results: Mapping[str, object] | Exception) -> None:
        self._results = list(results)
        self.scopes: list[list[str]] = []

    def acquire_token_for_client(self, scopes: list[str]) -> Mapping[str, object]:
        self.scopes.append(scopes)
        result = self._results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def _aadsts(code: str, error: str = "invalid_client") -> dict[str, object]:
    return {
        "error": error,
        "error_description": f"AADSTS{code}: something went wrong.\r\nTrace ID: abc",
        "error_codes": [int(code)],
        "trace_id": "trace-1",
        "correlation_id": "corr-1",
    }


def test_a_token_is_asked_for_the_graph_default_scope() -> None:
    """The provider requests ``{graph_root}/.default`` and returns the access token."""
    app = _FakeApp({"access_token": "tok", "token_source": "cache"})

    token = TokenProvider(app, "https://graph.microsoft.com/.default").token()

    assert token == "tok"
    assert app.scopes == [["https://graph.microsoft.com/.default"]]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        pytest.param("700027", "the certificate is not registered on the app registration", id="cert"),
        pytest.param("700016", "no app with this client id in the tenant", id="app"),
        pytest.param("7000215", "invalid client secret", id="secret"),
        pytest.param("90002", "tenant was not found", id="tenant"),
        pytest.param("123456", "AADSTS123456: something went wrong.", id="unknown-keeps-first-line"),
    ],
)
def test_msal_errors_become_admin_readable_authentication_errors(code: str, expected: str) -> None:
    """The AADSTS code picks the hint; the note and MSAL's trace and correlation ids come along."""
    sleeps: list[float] = []
    provider = TokenProvider(
        _FakeApp(_aadsts(code)), "s", note="app X, certificate thumbprint AB", sleep=sleeps.append
    )

    with pytest.raises(AuthenticationError) as info:
        provider.token()

    message = str(info.value)
    assert expected in message
    assert f"AADSTS{code}" in message
    assert "certificate thumbprint AB" in message
    assert "trace_id trace-1" in message
    assert "correlation_id corr-1" in message
    assert sleeps == []


def test_a_throttled_token_endpoint_is_retried_after_a_backoff() -> None:
    """Transient MSAL errors and network failures wait out MSAL's cached answer, then succeed."""
    sleeps: list[float] = []
    app = _FakeApp(_aadsts("50196", "temporarily_unavailable"), OSError("reset"), {"access_token": "tok"})
    provider = TokenProvider(app, "s", sleep=sleeps.append, backoff=(5.0, 10.0, 20.0))

    token = provider.token()

    assert token == "tok"
    assert sleeps == [5.0, 10.0]


def test_a_token_endpoint_that_stays_down_gives_up_after_the_backoff() -> None:
    """The backoff is bounded and ends in an AuthenticationError."""
    sleeps: list[float] = []
    app = _FakeApp(*[{"error": "temporarily_unavailable"} for _ in range(4)])
    provider = TokenProvider(app, "s", sleep=sleeps.append, backoff=(5.0, 10.0, 20.0))

    with pytest.raises(AuthenticationError, match="stayed unavailable"):
        provider.token()

    assert sleeps == [5.0, 10.0, 20.0]


def test_an_authority_that_cannot_be_discovered_names_the_tenant_settings() -> None:
    """MSAL's ValueError for a missing OpenID configuration is mapped, not leaked."""
    app = _FakeApp(ValueError("Unable to get authority configuration for https://x/t. More text"))

    with pytest.raises(AuthenticationError, match="PROVISIONING_TENANT_ID"):
        TokenProvider(app, "s").token()


def test_the_lazy_app_is_built_on_first_use_and_kept() -> None:
    """Building MSAL (which calls the authority) waits for the first token and happens once."""
    built: list[_FakeApp] = []

    def build() -> _FakeApp:
        app = _FakeApp({"access_token": "a"}, {"access_token": "b"})
        built.append(app)
        return app

    lazy = LazyMsalApp(build)
    before = list(built)
    tokens = [TokenProvider(lazy, "s").token() for _ in range(2)]

    assert before == []
    assert tokens == ["a", "b"]  # one app answered both: a second build would have said "a" again


def test_a_bad_certificate_fails_when_the_provider_is_built(tmp_path: Path) -> None:
    """The certificate is read at wiring time, so a broken file stops the run before any user."""
    path = tmp_path / "app.pem"
    path.write_text("garbage")
    settings = Settings.from_env(
        {
            "PROVISIONING_TENANT_ID": TENANT,
            "PROVISIONING_CLIENT_ID": CLIENT,
            "PROVISIONING_CERTIFICATE_PATH": str(path),
        }
    )

    with pytest.raises(AuthenticationError, match="PROVISIONING_CERTIFICATE_PATH"):
        build_token_provider(settings)


def test_bearer_auth_adds_the_token_to_each_request() -> None:
    """Every request carries ``Authorization: Bearer <token>``."""
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Authorization"))
        return httpx.Response(200)

    class _Tokens:
        def token(self) -> str:
            return "tok-9"

    with httpx.Client(auth=BearerAuth(_Tokens()), transport=httpx.MockTransport(handler)) as client:
        client.get("https://graph.test/v1.0/users")

    assert seen == ["Bearer tok-9"]
