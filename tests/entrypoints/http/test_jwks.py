"""The issuer's signing keys over MockTransport: discovery, caching, refresh on an unknown kid, failures."""

from __future__ import annotations

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from provisioning.entrypoints.http.jwks import SigningKeys
from provisioning.errors import KeysUnavailable

METADATA = "https://login.test/tenant/v2.0/.well-known/openid-configuration"
JWKS = "https://login.test/tenant/discovery/v2.0/keys"


def jwk(kid: str, **extra: object) -> dict[str, object]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": kid, "use": "sig", **extra}


class Issuer:
    """A fake issuer: OpenID metadata and a JWKS it can roll; records the URLs it was asked for."""

    def __init__(self, *keys: dict[str, object]) -> None:
        self.keys = list(keys)
        self.asked: list[str] = []
        self.down = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.asked.append(str(request.url))
        if self.down:
            return httpx.Response(503)
        if str(request.url) == METADATA:
            return httpx.Response(200, json={"issuer": "https://login.test/tenant/v2.0", "jwks_uri": JWKS})
        return httpx.Response(200, json={"keys": self.keys})


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def signing_keys(issuer: Issuer, clock: Clock) -> SigningKeys:
    client = httpx.Client(transport=httpx.MockTransport(issuer))
    return SigningKeys(METADATA, lambda: client, clock=clock, max_age_s=3600, min_refresh_s=60)


def test_keys_are_discovered_through_the_metadata_and_cached():
    """The first lookup reads metadata then JWKS; later lookups use the cache."""
    issuer, clock = Issuer(jwk("k1")), Clock()
    keys = signing_keys(issuer, clock)

    first = keys.get("k1")
    clock.now += 30
    second = keys.get("k1")

    assert isinstance(first, jwt.PyJWK)
    assert second is first
    assert issuer.asked == [METADATA, JWKS]


def test_an_unknown_kid_refreshes_once_and_finds_a_rolled_key():
    """Entra rolled its key: the new kid triggers one refresh and is then known."""
    issuer, clock = Issuer(jwk("k1")), Clock()
    keys = signing_keys(issuer, clock)
    keys.get("k1")
    issuer.keys.append(jwk("k2"))
    clock.now += 61

    assert keys.get("k2") is not None
    assert issuer.asked == [METADATA, JWKS, METADATA, JWKS]


def test_made_up_kids_cannot_make_the_process_hammer_the_issuer():
    """Within min_refresh_s of the last fetch an unknown kid is simply unknown: no new fetch."""
    issuer, clock = Issuer(jwk("k1")), Clock()
    keys = signing_keys(issuer, clock)
    keys.get("k1")

    answers = [keys.get(f"forged-{i}") for i in range(50)]

    assert answers == [None] * 50
    assert len(issuer.asked) == 2


def test_the_cache_expires_after_max_age():
    """After a day (here an hour) the keys are fetched again even for a known kid."""
    issuer, clock = Issuer(jwk("k1")), Clock()
    keys = signing_keys(issuer, clock)
    keys.get("k1")
    clock.now += 3600

    keys.get("k1")

    assert len(issuer.asked) == 4


def test_a_failed_refresh_keeps_the_known_keys():
    """The issuer being down does not stop tokens signed with known keys from being checked."""
    issuer, clock = Issuer(jwk("k1")), Clock()
    keys = signing_keys(issuer, clock)
    keys.get("k1")
    issuer.down = True
    clock.now += 3600

    assert keys.get("k1") is not None


def test_no_keys_at_all_is_keys_unavailable_and_retried_soon():
    """An unreachable issuer on the first lookup raises; a few seconds later it is tried again."""
    issuer, clock = Issuer(jwk("k1")), Clock()
    issuer.down = True
    keys = signing_keys(issuer, clock)

    with pytest.raises(KeysUnavailable, match="could not be fetched"):
        keys.get("k1")
    with pytest.raises(KeysUnavailable):
        keys.get("k1")  # not retried at once: each try may take the whole timeout
    issuer.down = False
    clock.now += 5

    assert keys.get("k1") is not None
    assert issuer.asked == [METADATA, METADATA, JWKS]


@pytest.mark.parametrize(
    ("metadata", "jwks"),
    [
        pytest.param({"issuer": "x"}, {"keys": []}, id="no-jwks-uri"),
        pytest.param({"jwks_uri": "http://login.test/keys"}, {"keys": []}, id="plain-http-jwks-uri"),
        pytest.param({"jwks_uri": JWKS}, {"nokeys": []}, id="no-keys-list"),
        pytest.param({"jwks_uri": JWKS}, {"keys": [{"kty": "EC", "kid": "e"}]}, id="only-ec"),
        pytest.param(
            {"jwks_uri": JWKS}, {"keys": [{"kty": "RSA", "kid": "k", "n": "!", "e": "AQAB"}]}, id="bad-rsa"
        ),
    ],
)
def test_unusable_documents_leave_no_keys(metadata, jwks):
    """Metadata without an https jwks_uri, or a JWKS without a usable RSA key: KeysUnavailable."""

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=metadata if str(request.url) == METADATA else jwks)

    client = httpx.Client(transport=httpx.MockTransport(handler))
    keys = SigningKeys(METADATA, lambda: client, clock=Clock())

    with pytest.raises(KeysUnavailable):
        keys.get("k")


def test_encryption_keys_and_keys_without_kid_are_skipped():
    """Only RSA signature keys with a kid are kept."""
    issuer = Issuer(jwk("enc", use="enc"), {k: v for k, v in jwk("x").items() if k != "kid"}, jwk("sig"))
    keys = signing_keys(issuer, Clock())

    assert keys.get("sig") is not None
    assert keys.get("enc") is None
