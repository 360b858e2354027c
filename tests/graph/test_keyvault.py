"""The Graph certificate read from Key Vault through a fake secret client: no network, nothing on disk."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from provisioning.errors import AuthenticationError, ConfigurationError
from provisioning.graph.auth import build_token_provider, parse_certificate
from provisioning.graph.keyvault import PEM_CONTENT_TYPE, PFX_CONTENT_TYPE, read_certificate_secret
from provisioning.settings import KeyVaultCertificate, Settings

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"
IDENTITY = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
VAULT = "https://kv-provisioning.vault.azure.net/"
LOCATION = KeyVaultCertificate(vault_url=VAULT, name="graph-app", client_id=IDENTITY)


@dataclass
class _Properties:
    content_type: str | None


@dataclass
class _Secret:
    value: str | None
    properties: _Properties


@dataclass
class FakeSecretClient:
    """Holds secrets by name, or raises *error*; records the names asked for."""

    secrets: dict[str, _Secret] = field(default_factory=dict)
    error: Exception | None = None
    asked: list[str] = field(default_factory=list)

    def get_secret(self, name: str) -> _Secret:
        self.asked.append(name)
        if self.error is not None:
            raise self.error
        if name not in self.secrets:
            raise ResourceNotFoundError(f"Secret not found: {name}")
        return self.secrets[name]


@dataclass(frozen=True)
class _Certificate:
    key: rsa.RSAPrivateKey
    cert: x509.Certificate

    def pfx_base64(self) -> str:
        data = pkcs12.serialize_key_and_certificates(
            b"graph-app", self.key, self.cert, None, serialization.NoEncryption()
        )
        return base64.b64encode(data).decode()

    def pem(self) -> str:
        key = self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return (key + self.cert.public_bytes(serialization.Encoding.PEM)).decode()

    def thumbprint(self) -> str:
        return self.cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - as the portal shows it


@pytest.fixture(name="certificate", scope="module")
def _certificate() -> _Certificate:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "graph-app")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return _Certificate(key, cert)


def _client(value: str | None, content_type: str | None) -> FakeSecretClient:
    return FakeSecretClient({"graph-app": _Secret(value, _Properties(content_type))})


@pytest.mark.parametrize(
    ("form", "content_type"),
    [
        pytest.param("pfx", PFX_CONTENT_TYPE, id="pfx-as-key-vault-stores-it"),
        pytest.param("pem", PEM_CONTENT_TYPE, id="pem-content-type"),
        pytest.param("pem", None, id="pem-recognised-without-content-type"),
    ],
)
def test_the_certificate_secret_becomes_the_msal_credential_in_memory(
    certificate: _Certificate, form: str, content_type: str | None
) -> None:
    """A PFX (base64) or PEM secret yields the app's key and certificate, with the portal thumbprint."""
    value = certificate.pfx_base64() if form == "pfx" else certificate.pem()
    client = _client(value, content_type)

    secret = read_certificate_secret(LOCATION, client=client)
    credential = parse_certificate(secret.data, None, pfx=secret.pfx, source=secret.source)

    assert client.asked == ["graph-app"]
    assert credential.portal_thumbprint == certificate.thumbprint()
    assert "BEGIN PRIVATE KEY" in credential.private_key_pem


def test_loading_writes_nothing_to_disk(
    certificate: _Certificate, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key stays in memory: the working directory is as empty after loading as before."""
    monkeypatch.chdir(tmp_path)

    read_certificate_secret(LOCATION, client=_client(certificate.pfx_base64(), PFX_CONTENT_TYPE))

    assert list(tmp_path.iterdir()) == []


def _forbidden() -> HttpResponseError:
    error = HttpResponseError(message="Forbidden: caller is not authorized")
    error.status_code = 403
    return error


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        pytest.param(ResourceNotFoundError("not found"), "was not found", id="missing-certificate"),
        pytest.param(_forbidden(), "Key Vault Secrets User", id="missing-role"),
        pytest.param(
            ClientAuthenticationError("ManagedIdentityCredential authentication unavailable"),
            "PROVISIONING_IDENTITY_CLIENT_ID",
            id="wrong-identity",
        ),
        pytest.param(ServiceRequestError("name resolution failed"), "could not be reached", id="no-network"),
    ],
)
def test_key_vault_failures_say_what_to_fix(error: Exception, expected: str) -> None:
    """Each Key Vault failure becomes an AuthenticationError naming the fix."""
    client = FakeSecretClient(error=error)

    with pytest.raises(AuthenticationError, match=expected):
        read_certificate_secret(LOCATION, client=client)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(None, "has no value", id="empty"),
        pytest.param("%%% not base64 %%%", "neither a PEM nor a base64 PFX", id="garbage"),
    ],
)
def test_an_unusable_secret_is_refused(value: str | None, expected: str) -> None:
    """A secret without a value, or one that is neither PEM nor base64, is refused before MSAL sees it."""
    with pytest.raises(AuthenticationError, match=expected):
        read_certificate_secret(LOCATION, client=_client(value, None))


def _env(**extra: str) -> dict[str, str]:
    return {"PROVISIONING_TENANT_ID": TENANT, "PROVISIONING_CLIENT_ID": CLIENT, **extra}


def test_key_vault_settings_are_read_into_the_settings() -> None:
    """URL, certificate name and identity client id become one KeyVaultCertificate; no file is needed."""
    settings = Settings.from_env(
        _env(
            PROVISIONING_CERTIFICATE_KEYVAULT_URL="https://KV-Provisioning.vault.azure.net",
            PROVISIONING_CERTIFICATE_NAME="graph-app",
            PROVISIONING_IDENTITY_CLIENT_ID=IDENTITY,
        )
    )

    assert settings.keyvault_certificate == LOCATION
    assert settings.certificate_path is None


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        pytest.param(
            {"PROVISIONING_CERTIFICATE_KEYVAULT_URL": VAULT},
            "PROVISIONING_CERTIFICATE_NAME is not set",
            id="url-without-name",
        ),
        pytest.param(
            {
                "PROVISIONING_CERTIFICATE_KEYVAULT_URL": "http://kv.vault.azure.net",
                "PROVISIONING_CERTIFICATE_NAME": "a",
            },
            "must be the vault URL",
            id="not-https",
        ),
        pytest.param(
            {"PROVISIONING_CERTIFICATE_KEYVAULT_URL": VAULT, "PROVISIONING_CERTIFICATE_NAME": "graph_app"},
            "must be a Key Vault certificate name",
            id="bad-name",
        ),
        pytest.param(
            {
                "PROVISIONING_CERTIFICATE_KEYVAULT_URL": VAULT,
                "PROVISIONING_CERTIFICATE_NAME": "graph-app",
                "PROVISIONING_CLIENT_SECRET": "s3cret",
            },
            "is set together with PROVISIONING_CLIENT_SECRET",
            id="with-a-secret",
        ),
        pytest.param(
            {
                "PROVISIONING_CERTIFICATE_KEYVAULT_URL": VAULT,
                "PROVISIONING_CERTIFICATE_NAME": "graph-app",
                "PROVISIONING_IDENTITY_CLIENT_ID": "not-a-guid",
            },
            "PROVISIONING_IDENTITY_CLIENT_ID must be the client id GUID",
            id="bad-identity",
        ),
    ],
)
def test_inconsistent_key_vault_settings_are_refused(extra: dict[str, str], expected: str) -> None:
    """Half-set, malformed or competing credential settings are configuration problems."""
    with pytest.raises(ConfigurationError, match=expected):
        Settings.from_env(_env(**extra))


def test_the_token_provider_reads_the_certificate_from_key_vault_when_built(
    certificate: _Certificate,
) -> None:
    """Wiring with Key Vault settings fetches the certificate once, at build time, before any token call."""
    settings = Settings.from_env(
        _env(PROVISIONING_CERTIFICATE_KEYVAULT_URL=VAULT, PROVISIONING_CERTIFICATE_NAME="graph-app")
    )
    client = _client(certificate.pfx_base64(), PFX_CONTENT_TYPE)

    build_token_provider(settings, secret_reader=client)

    assert client.asked == ["graph-app"]
