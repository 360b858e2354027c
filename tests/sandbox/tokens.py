"""Token crypto: the sandbox signing key and JWKS, access-token issue and validation, and
verification of MSAL client assertions against an app's registered certificate."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.sandbox.certs import load_own_key, thumbprint_sha1, thumbprint_sha256

TOKEN_LIFETIME_S = 3599
_CLOCK_SKEW_S = 300


class TokenRejected(Exception):
    """A token or assertion failed validation; the message says why (AADSTS code first for assertions)."""


def b64url(data: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _int_b64(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@dataclass(frozen=True)
class AccessClaims:
    """What the Graph front door needs from a validated access token."""

    app_id: str
    tenant_id: str
    audience: str
    roles: frozenset[str]


class Signer:
    """Issues and validates the sandbox's RS256 access tokens."""

    def __init__(self, key_pem: bytes) -> None:
        key = load_own_key(key_pem)
        assert isinstance(key, rsa.RSAPrivateKey)
        self._key = key
        self._public = key.public_key()
        der = self._public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = b64url(hashlib.sha256(der).digest()[:20])
        self._cache: dict[str, tuple[float, AccessClaims]] = {}
        self._cache_lock = threading.Lock()

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set publishing the signing key."""
        numbers = self._public.public_numbers()
        key = {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, "n": _int_b64(numbers.n),
               "e": _int_b64(numbers.e), "alg": "RS256"}  # fmt: skip
        return {"keys": [key]}

    def issue(
        self, *, issuer: str, tenant_id: str, app_id: str, audience: str, roles: list[str], acr: str,
        issued_at: int | None = None, lifetime_s: int = TOKEN_LIFETIME_S,
    ) -> str:  # fmt: skip
        """A v1-style app-only access token (``iss`` = sts.windows.net form, ``ver`` 1.0).

        *issued_at* (epoch seconds, default now) and *lifetime_s* let tests mint expired tokens.
        """
        now = int(time.time()) if issued_at is None else issued_at
        claims = {
            "aud": audience, "iss": issuer, "iat": now, "nbf": now, "exp": now + lifetime_s,
            "aio": b64url(uuid.uuid4().bytes), "app_displayname": app_id, "appid": app_id, "azp": app_id,
            "appidacr": acr, "idp": issuer, "idtyp": "app", "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, app_id)),
            "rh": "0.sandbox.", "roles": roles, "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, app_id)),
            "tid": tenant_id, "uti": b64url(uuid.uuid4().bytes), "ver": "1.0",
        }  # fmt: skip
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid})

    def validate(self, token: str, audiences: frozenset[str]) -> AccessClaims:
        """The claims of a valid, unexpired token for one of ``audiences``; ``TokenRejected`` otherwise."""
        now = time.time()
        with self._cache_lock:
            hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            if hit[1].audience not in audiences:
                msg = "Invalid audience."
                raise TokenRejected(msg)
            return hit[1]
        try:
            claims = jwt.decode(token, self._public, algorithms=["RS256"], audience=list(audiences),
                                options={"require": ["exp", "aud", "tid", "appid"]})  # fmt: skip
        except jwt.ExpiredSignatureError as exc:
            msg = "Lifetime validation failed, the token is expired."
            raise TokenRejected(msg) from exc
        except jwt.InvalidAudienceError as exc:
            msg = "Invalid audience."
            raise TokenRejected(msg) from exc
        except jwt.PyJWTError as exc:
            msg = "IDX14100: JWT is not well formed, or the signature is invalid."
            raise TokenRejected(msg) from exc
        parsed = AccessClaims(
            claims["appid"], claims["tid"], claims["aud"], frozenset(claims.get("roles", []))
        )
        with self._cache_lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (float(claims["exp"]), parsed)
        return parsed


def verify_assertion(assertion: str, *, client_id: str, certificate_pem: bytes, audiences: list[str]) -> None:
    """Check an MSAL client assertion against the app's registered certificate (raises ``TokenRejected``)."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.PyJWTError as exc:
        msg = "AADSTS50027: JWT token is invalid or malformed."
        raise TokenRejected(msg) from exc
    _check_header(header, certificate_pem)
    public_key = x509.load_pem_x509_certificate(certificate_pem).public_key()
    try:
        claims = jwt.decode(assertion, public_key, algorithms=["PS256", "RS256"], audience=audiences,  # type: ignore[arg-type]
                            leeway=_CLOCK_SKEW_S, options={"require": ["exp", "aud", "iss", "sub", "jti"]})  # fmt: skip
    except jwt.ExpiredSignatureError as exc:
        msg = "AADSTS700024: Client assertion is not within its valid time range."
        raise TokenRejected(msg) from exc
    except jwt.InvalidAudienceError as exc:
        msg = "AADSTS700023: Client assertion audience claim does not match Realm issuer."
        raise TokenRejected(msg) from exc
    except jwt.InvalidSignatureError as exc:
        raise TokenRejected(_sig_message(header)) from exc
    except jwt.PyJWTError as exc:
        msg = f"AADSTS50027: JWT token is invalid or malformed. {exc}"
        raise TokenRejected(msg) from exc
    if claims["iss"] != client_id or claims["sub"] != client_id:
        msg = "AADSTS700021: Client assertion application identifier doesn't match 'client_id' parameter."
        raise TokenRejected(msg)


def _check_header(header: dict[str, Any], certificate_pem: bytes) -> None:
    if header.get("alg") not in ("PS256", "RS256"):
        msg = (
            f"AADSTS5002738: Invalid JWT token. '{header.get('alg')}' is not a supported signature algorithm."
        )
        raise TokenRejected(msg)
    registered = thumbprint_sha256(certificate_pem)
    x5t256, x5t = header.get("x5t#S256"), header.get("x5t")
    if x5t256 is None and x5t is not None and not _same_digest(x5t, thumbprint_sha1(certificate_pem)):
        raise TokenRejected(_sig_message(header))
    if x5t256 is not None and not _same_digest(x5t256, registered):
        raise TokenRejected(_sig_message(header))
    chain = header.get("x5c")
    if chain:
        leaf = hashlib.sha256(base64.b64decode(chain[0] if isinstance(chain, list) else chain)).digest()
        if leaf != registered:
            raise TokenRejected(_sig_message(header))
    if x5t256 is None and not chain and x5t is None:
        msg = (
            "AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was not found.]"
        )
        raise TokenRejected(msg)


def _same_digest(header_value: object, digest: bytes) -> bool:
    """Compare a thumbprint header (base64url or base64, padded or not, as clients vary) to a digest."""
    if not isinstance(header_value, str):
        return False
    text = header_value.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4)) == digest
    except ValueError:
        return False


def _sig_message(header: dict[str, Any]) -> str:
    used = header.get("x5t#S256") or header.get("x5t") or "unknown"
    return (
        "AADSTS700027: Client assertion contains an invalid signature. [Reason - The key was not found., "
        f"Thumbprint of key used by client: '{used}', Please visit the Azure Portal, Graph Explorer or directly "
        "use MS Graph to see configured keys for app.]"
    )
