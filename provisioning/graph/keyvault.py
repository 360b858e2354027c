"""The Graph certificate from Key Vault, read with the app's managed identity and held only in memory.

Flex Consumption loads no platform certificates, so the app reads the certificate's private key through
the Key Vault secret of the same name: a base64 PFX or a PEM (functions.md section 5). Nothing is written
to disk; ``auth.parse_certificate`` turns the bytes into the MSAL credential.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from provisioning.errors import AuthenticationError
from provisioning.settings import KeyVaultCertificate

# The two content types Key Vault gives a certificate's secret (the certificate policy's secret content type).
PEM_CONTENT_TYPE = "application/x-pem-file"
PFX_CONTENT_TYPE = "application/x-pkcs12"


class SecretProperties(Protocol):
    """What we read of a secret's properties."""

    @property
    def content_type(self) -> str | None: ...


class Secret(Protocol):
    """What we read of a secret; ``azure.keyvault.secrets.KeyVaultSecret`` satisfies it."""

    @property
    def value(self) -> str | None: ...

    @property
    def properties(self) -> SecretProperties: ...


class SecretReader(Protocol):
    """The one Key Vault call we make; ``azure.keyvault.secrets.SecretClient`` satisfies it."""

    def get_secret(self, name: str) -> Secret: ...


@dataclass(frozen=True)
class CertificateSecret:
    """The certificate's key and certificate as bytes in memory, and how to read them."""

    data: bytes = field(repr=False)
    pfx: bool
    source: str  # names the certificate in error messages


def read_certificate_secret(
    location: KeyVaultCertificate, *, client: SecretReader | None = None
) -> CertificateSecret:
    """Fetch the certificate's secret once; *client* replaces Key Vault in tests.

    Raises ``AuthenticationError`` saying what to fix (missing certificate, missing role, wrong identity).
    """
    source = f"the Key Vault certificate {location.name} in {location.vault_url}"
    if client is None:
        with _secret_client(location) as built:
            secret = _fetch(built, location, source)
    else:
        secret = _fetch(client, location, source)
    if not secret.value:
        msg = f"{source} has no value: create or import the certificate again (docs/deploy.md)"
        raise AuthenticationError(msg)
    return _decode(secret.value, secret.properties.content_type, source)


def _fetch(client: SecretReader, location: KeyVaultCertificate, source: str) -> Secret:
    try:
        return client.get_secret(location.name)
    except ResourceNotFoundError as exc:
        msg = f"{source} was not found: create or import it (docs/deploy.md), or fix PROVISIONING_CERTIFICATE_NAME"
        raise AuthenticationError(msg) from exc
    except ClientAuthenticationError as exc:  # also azure-identity's CredentialUnavailableError
        msg = (
            f"no managed identity token for Key Vault ({_first_line(exc)}): check "
            "PROVISIONING_IDENTITY_CLIENT_ID (the user-assigned identity's client id)"
        )
        raise AuthenticationError(msg) from exc
    except HttpResponseError as exc:
        if exc.status_code == 403:
            msg = (
                f"the app's identity may not read {source}: assign it Key Vault Secrets User on the vault "
                "(infra/app/rbac.bicep does), and check the vault's network rules"
            )
        else:
            msg = f"Key Vault answered {exc.status_code} for {source} ({_first_line(exc)}): try again later"
        raise AuthenticationError(msg) from exc
    except ServiceRequestError as exc:
        msg = f"Key Vault {location.vault_url} could not be reached ({_first_line(exc)}): check PROVISIONING_CERTIFICATE_KEYVAULT_URL"
        raise AuthenticationError(msg) from exc


def _decode(value: str, content_type: str | None, source: str) -> CertificateSecret:
    if content_type == PEM_CONTENT_TYPE or value.lstrip().startswith("-----BEGIN"):
        return CertificateSecret(value.encode(), pfx=False, source=source)
    try:
        data = base64.b64decode(value, validate=True)
    except binascii.Error as exc:
        msg = f"{source} is neither a PEM nor a base64 PFX (content type {content_type!r}): import it again"
        raise AuthenticationError(msg) from exc
    return CertificateSecret(data, pfx=True, source=source)


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


@contextlib.contextmanager
def _secret_client(location: KeyVaultCertificate) -> Iterator[SecretReader]:
    """A SecretClient with the user-assigned managed identity (or the developer's identity locally)."""
    # Imported here: only the Azure deployment needs them, and azure-identity is heavy.
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
    from azure.keyvault.secrets import SecretClient

    credential: ManagedIdentityCredential | DefaultAzureCredential = (
        ManagedIdentityCredential(client_id=location.client_id)
        if location.client_id
        else DefaultAzureCredential()
    )
    client = SecretClient(location.vault_url, credential)
    try:
        yield client
    finally:
        client.close()
        credential.close()
