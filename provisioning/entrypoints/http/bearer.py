"""Entra ID bearer tokens on the HTTP endpoint: signature, issuer, audience, lifetime, tenant, app role.

``BearerValidator.validate`` takes the ``Authorization`` header and returns the calling ``Principal``,
or raises ``TokenRejected`` (answered 401) or ``RoleMissing`` (403). Only RS256 with a key the issuer
publishes is accepted: ``alg: none``, HS256 (a forged "secret" being the public key) and any other
algorithm are refused before the signature is looked at. The clock is a parameter.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, TypeGuard

import jwt
from jwt.types import Options

from provisioning.errors import RoleMissing, TokenRejected

DEFAULT_ROLE = "Provisioning.Submit"
LEEWAY_S = 60.0  # clock skew between Entra and this host
MAX_TOKEN_CHARS = 16 * 1024  # Entra access tokens are a few KB; anything far larger is not one
_ALGORITHM = "RS256"


class KeyLookup(Protocol):
    """Where verification keys come from (``jwks.SigningKeys``; a dict-backed fake in tests)."""

    def get(self, kid: str) -> jwt.PyJWK | None: ...


@dataclass(frozen=True)
class BearerPolicy:
    """What a token must carry to be accepted."""

    audiences: frozenset[str]
    issuers: frozenset[str]
    tenant_id: str
    role: str = DEFAULT_ROLE
    leeway_s: float = LEEWAY_S


@dataclass(frozen=True)
class Principal:
    """The verified caller: an application (``azp``/``appid``) and its service principal (``oid``)."""

    app_id: str
    object_id: str | None
    roles: frozenset[str]

    @property
    def identity(self) -> str:
        """The rate-limit key: the calling application."""
        return f"app:{self.app_id}"

    def describe(self) -> str:
        """For logs: ids only, never the token."""
        return f"appid {self.app_id}, oid {self.object_id or '-'}"


class BearerValidator:
    """Checks ``Authorization: Bearer <jwt>`` against a ``BearerPolicy`` and the issuer's keys.

    ``keys.get`` may raise (``errors.KeysUnavailable``): that is not the caller's fault and is left to
    the caller of ``validate`` to answer.
    """

    def __init__(
        self, policy: BearerPolicy, keys: KeyLookup, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.policy = policy
        self._keys = keys
        self._clock = clock

    def validate(self, authorization: str | None) -> Principal:
        """The principal of a valid token carrying the role; ``TokenRejected``/``RoleMissing`` otherwise."""
        token = _bearer_token(authorization)
        claims = self._verified_claims(token)
        claimed = _claimed(claims)
        self._check_lifetime(claims, claimed)
        self._check_claims(claims, claimed)
        app_id = claims.get("azp") or claims.get("appid")
        if not isinstance(app_id, str) or not app_id:
            msg = "the token names no calling application (azp or appid)"
            raise TokenRejected(msg, claimed=claimed)
        oid = claims.get("oid")
        roles = claims.get("roles")
        granted = (
            frozenset(r for r in roles if isinstance(r, str)) if isinstance(roles, list) else frozenset()
        )
        principal = Principal(app_id, oid if isinstance(oid, str) else None, granted)
        if self.policy.role not in granted:
            msg = (
                f"the calling application lacks the app role {self.policy.role}: an administrator must "
                "assign it to the app's service principal (and grant admin consent), then get a new token"
            )
            raise RoleMissing(msg, principal)
        return principal

    def _verified_claims(self, token: str) -> Mapping[str, object]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            msg = "the bearer token is not a well-formed JWT"
            raise TokenRejected(msg) from exc
        claimed = _claimed(_unverified_claims(token))
        alg = header.get("alg")
        if alg != _ALGORITHM:
            msg = f"the token's algorithm {alg!r} is not accepted: only RS256 tokens from Entra ID are"
            raise TokenRejected(msg, claimed=claimed)
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            msg = "the token header names no signing key (kid)"
            raise TokenRejected(msg, claimed=claimed)
        key = self._keys.get(kid)
        if key is None:
            msg = "the token is signed with a key the issuer does not publish: get a token from Entra ID"
            raise TokenRejected(msg, claimed=claimed)
        try:
            # Only the signature here: every claim is checked below, against this validator's clock.
            return jwt.decode(token, key, algorithms=[_ALGORITHM], options=_SIGNATURE_ONLY)
        except jwt.InvalidSignatureError as exc:
            msg = "the token's signature is not valid"
            raise TokenRejected(msg, claimed=claimed) from exc
        except jwt.PyJWTError as exc:
            msg = "the bearer token is not a well-formed JWT"
            raise TokenRejected(msg, claimed=claimed) from exc

    def _check_lifetime(self, claims: Mapping[str, object], claimed: str) -> None:
        now, leeway = self._clock(), self.policy.leeway_s
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not _is_number(exp):
            msg = "the token has no expiry (exp)"
            raise TokenRejected(msg, claimed=claimed)
        if now > exp + leeway:
            msg = f"the token expired at {_iso(exp)}: get a new token"
            raise TokenRejected(msg, claimed=claimed)
        if nbf is not None and not (_is_number(nbf) and nbf <= now + leeway):
            msg = "the token is not valid yet (nbf): check the caller's clock"
            raise TokenRejected(msg, claimed=claimed)

    def _check_claims(self, claims: Mapping[str, object], claimed: str) -> None:
        issuer = claims.get("iss")
        if issuer not in self.policy.issuers:
            msg = f"the token was issued by '{_printable(issuer)}', not by this tenant's Entra ID"
            raise TokenRejected(msg, claimed=claimed)
        tenant = claims.get("tid")
        if not isinstance(tenant, str) or tenant.lower() != self.policy.tenant_id.lower():
            msg = "the token belongs to another tenant (tid)"
            raise TokenRejected(msg, claimed=claimed)
        audience = claims.get("aud")
        given = audience if isinstance(audience, list) else [audience]
        if not any(isinstance(a, str) and a in self.policy.audiences for a in given):
            wanted = " or ".join(sorted(self.policy.audiences))
            msg = f"the token is for another audience: request it for {wanted} (scope <audience>/.default)"
            raise TokenRejected(msg, claimed=claimed)


_SIGNATURE_ONLY: Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
}


def _bearer_token(authorization: str | None) -> str:
    value = (authorization or "").strip()
    if not value:
        msg = "no bearer token: send Authorization: Bearer <access token from Entra ID>"
        raise TokenRejected(msg, missing=True)
    scheme, _, token = value.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        msg = "the Authorization header must be: Bearer <access token>"
        raise TokenRejected(msg)
    if len(token) > MAX_TOKEN_CHARS:
        msg = f"the bearer token is longer than {MAX_TOKEN_CHARS:,} characters"
        raise TokenRejected(msg)
    return token


def _unverified_claims(token: str) -> Mapping[str, object]:
    """The payload without any check, for naming the claimed caller in logs; {} when unreadable."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return {}
    return claims if isinstance(claims, dict) else {}


def _claimed(claims: Mapping[str, object]) -> str:
    app = claims.get("azp") or claims.get("appid") or "-"
    return f"appid {_printable(app)}, oid {_printable(claims.get('oid') or '-')}"


def _printable(value: object) -> str:
    """An unverified claim made safe for one log line: printable ASCII, at most 64 characters."""
    return re.sub(r"[^\x20-\x7e]", "?", str(value))[:64]


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _iso(epoch: object) -> str:
    assert isinstance(epoch, int | float)
    try:
        return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, OSError, ValueError):
        return str(epoch)
