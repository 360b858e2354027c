"""Signing keys, JWKs and bearer tokens for the endpoint's tests."""

from __future__ import annotations

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from provisioning.entrypoints.http.bearer import BearerPolicy

TENANT = "8b1f6a52-3c3e-4f7a-9d0e-6f2b1c9a7e10"
APP = "4a1f0c2e-7b3d-4e5f-8a9b-0c1d2e3f4a5b"
AUDIENCE = "api://provisioning"
V1_ISSUER = f"https://sts.windows.net/{TENANT}/"
NOW = 1_750_000_000
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
POLICY = BearerPolicy(
    audiences=frozenset({AUDIENCE}),
    issuers=frozenset({V1_ISSUER, f"https://login.microsoftonline.com/{TENANT}/v2.0"}),
    tenant_id=TENANT,
)


class Keys(dict[str, jwt.PyJWK]):
    """A KeyLookup backed by a dict: kid -> public key."""


def public_jwk(key: rsa.RSAPrivateKey) -> jwt.PyJWK:
    return jwt.PyJWK(RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), algorithm="RS256")


def claims(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "aud": AUDIENCE,
        "iss": V1_ISSUER,
        "iat": NOW,
        "nbf": NOW,
        "exp": NOW + 3599,
        "tid": TENANT,
        "appid": APP,
        "azp": APP,
        "oid": "0b8e5c1e-1111-2222-3333-444455556666",
        "roles": ["Provisioning.Submit"],
        "ver": "1.0",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def token(key: rsa.RSAPrivateKey = KEY, kid: str = "k1", **overrides: object) -> str:
    return jwt.encode(claims(**overrides), key, algorithm="RS256", headers={"kid": kid})
