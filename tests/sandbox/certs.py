"""Key material in the state dir: a CA, the loopback server certificate, the default app's client
certificate (PEM and PFX) and the token-signing key. Existing valid files are reused."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PFX_PASSWORD = "sandbox"
_VALID_DAYS = 825
_MIN_LEFT = dt.timedelta(days=7)


@dataclass(frozen=True)
class CertFiles:
    """Paths of the generated key material."""

    ca: Path
    server_cert: Path
    server_key: Path
    client_pem: Path  # private key + certificate, what the CLI's certificate path points at
    client_cert: Path
    client_pfx: Path
    signing_key: Path

    @property
    def client_cert_pem(self) -> bytes:
        """The client certificate alone (PEM)."""
        return self.client_cert.read_bytes()


def ensure(state_dir: Path) -> CertFiles:
    """Make sure valid key material exists in ``state_dir``; generate whatever is missing or stale."""
    state_dir.mkdir(parents=True, exist_ok=True)
    files = CertFiles(
        ca=state_dir / "ca.pem",
        server_cert=state_dir / "server.pem",
        server_key=state_dir / "server.key.pem",
        client_pem=state_dir / "client.pem",
        client_cert=state_dir / "client.crt.pem",
        client_pfx=state_dir / "client.pfx",
        signing_key=state_dir / "signing.key.pem",
    )
    if not _valid(files):
        _generate(files)
    return files


def _valid(files: CertFiles) -> bool:
    try:
        ca = x509.load_pem_x509_certificate(files.ca.read_bytes())
        server = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
        client = x509.load_pem_x509_certificate(files.client_cert.read_bytes())
        load_own_key(files.server_key.read_bytes())
        load_own_key(files.client_pem.read_bytes())
        load_own_key(files.signing_key.read_bytes())
        server.verify_directly_issued_by(ca)
        files.client_pfx.stat()
    except (OSError, ValueError, TypeError, InvalidSignature):
        return False
    horizon = dt.datetime.now(dt.UTC) + _MIN_LEFT
    return all(cert.not_valid_after_utc > horizon for cert in (ca, server, client))


def _generate(files: CertFiles) -> None:
    ca_key = new_key()
    ca_cert = _ca_certificate(ca_key)
    server_key = new_key()
    server_cert = _server_certificate(server_key, ca_key, ca_cert)
    client_key, client_cert = new_client_certificate("sandbox-provisioning-app")
    _write(files.ca, ca_cert.public_bytes(serialization.Encoding.PEM))
    _write(files.server_key, _key_pem(server_key))
    _write(files.server_cert, server_cert.public_bytes(serialization.Encoding.PEM) + files.ca.read_bytes())
    _write(files.client_pem, client_key + client_cert)
    _write(files.client_cert, client_cert)
    _write(files.client_pfx, pfx_bytes(client_key, client_cert, PFX_PASSWORD))
    _write(files.signing_key, _key_pem(new_key()))


def new_key() -> rsa.RSAPrivateKey:
    """A fresh 2048-bit RSA key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _builder(subject: x509.Name, issuer: x509.Name, key: rsa.RSAPrivateKey) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=_VALID_DAYS))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _ca_certificate(key: rsa.RSAPrivateKey) -> x509.Certificate:
    name = _name("Graph Sandbox Local CA")
    usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
    return (
        _builder(name, name, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .sign(key, hashes.SHA256())
    )


def _server_certificate(
    key: rsa.RSAPrivateKey, ca_key: rsa.RSAPrivateKey, ca: x509.Certificate
) -> x509.Certificate:
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    usage = x509.KeyUsage(True, False, True, False, False, False, False, False, False)
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    return (
        _builder(_name("127.0.0.1"), ca.subject, key)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(aki, critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def new_client_certificate(common_name: str) -> tuple[bytes, bytes]:
    """(private key PEM, self-signed certificate PEM), as an admin would upload to an app registration."""
    key = new_key()
    cert = (
        _builder(_name(common_name), _name(common_name), key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _key_pem(key), cert.public_bytes(serialization.Encoding.PEM)


def pfx_bytes(key_pem: bytes, cert_pem: bytes, password: str) -> bytes:
    """A PKCS#12 bundle of the key and certificate, encrypted with ``password``."""
    key = load_own_key(key_pem)
    assert isinstance(key, rsa.RSAPrivateKey)
    cert = x509.load_pem_x509_certificate(cert_pem)
    encryption = serialization.BestAvailableEncryption(password.encode())
    return pkcs12.serialize_key_and_certificates(b"sandbox", key, cert, None, encryption)


def thumbprint_sha256(cert_pem: bytes) -> bytes:
    """SHA-256 digest of the certificate's DER encoding (``x5t#S256`` before base64url)."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).digest()


def thumbprint_sha1(cert_pem: bytes) -> bytes:
    """SHA-1 digest of the certificate's DER encoding (legacy ``x5t``)."""
    der = x509.load_pem_x509_certificate(cert_pem).public_bytes(serialization.Encoding.DER)
    return hashlib.sha1(der).digest()  # noqa: S324 - a certificate thumbprint, not a security hash


def load_own_key(key_pem: bytes) -> rsa.RSAPrivateKey:
    """Load a key this module generated (skips the slow RSA consistency check: we made it)."""
    key = serialization.load_pem_private_key(key_pem, None, unsafe_skip_rsa_key_validation=True)
    if not isinstance(key, rsa.RSAPrivateKey):
        msg = "expected an RSA private key"
        raise TypeError(msg)
    return key
