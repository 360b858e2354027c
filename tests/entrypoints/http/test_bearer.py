"""Bearer token checks with locally made keys and a hand-moved clock: what is accepted and why not."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives import serialization

from provisioning.entrypoints.http.bearer import BearerPolicy, BearerValidator
from provisioning.errors import RoleMissing, TokenRejected
from tests.tokens import (
    APP,
    AUDIENCE,
    KEY,
    NOW,
    OTHER_KEY,
    POLICY,
    TENANT,
    Keys,
    claims,
    public_jwk,
    token,
)


def validator(now: float = NOW, policy: BearerPolicy = POLICY) -> BearerValidator:
    return BearerValidator(policy, Keys(k1=public_jwk(KEY)), clock=lambda: now)


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def rejected(authorization: str | None, check: BearerValidator | None = None) -> TokenRejected:
    with pytest.raises(TokenRejected) as info:
        (check or validator()).validate(authorization)
    return info.value


# --- accepted -------------------------------------------------------------------------------------


def test_a_valid_token_names_the_calling_app():
    """Signature, issuer, audience, tenant, lifetime and role all fit: the app is the principal."""
    principal = validator().validate(f"Bearer {token()}")

    assert principal.app_id == APP
    assert principal.identity == f"app:{APP}"
    assert "Provisioning.Submit" in principal.roles


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0", "appid": None}, id="v2-azp"),
        pytest.param({"aud": ["other", AUDIENCE]}, id="audience-list"),
        pytest.param({"tid": TENANT.upper()}, id="tenant-case"),
        pytest.param({"nbf": None}, id="no-nbf"),
    ],
)
def test_token_variants_entra_issues_are_accepted(overrides):
    """v1 and v2 issuers, aud as a list, tid in any case, no nbf: all valid."""
    assert validator().validate(f"Bearer {token(**overrides)}").app_id == APP


def test_the_scheme_is_case_insensitive():
    """`bearer` and `BEARER` are the same scheme (RFC 9110 section 11.1)."""
    assert validator().validate(f"bearer {token()}").app_id == APP


@pytest.mark.parametrize("offset", [-59, 59])
def test_a_minute_of_clock_skew_is_allowed(offset):
    """Just expired or not quite valid yet, within the 60 s leeway: accepted."""
    now = NOW + 3599 + offset if offset > 0 else NOW + offset

    assert validator(now=now).validate(f"Bearer {token()}").app_id == APP


# --- refused: 401 -------------------------------------------------------------------------------


def test_no_header_is_a_missing_token():
    """No Authorization header: refused, marked missing (the challenge then carries no error)."""
    problem = rejected(None)

    assert problem.missing
    assert "Authorization: Bearer" in problem.message


@pytest.mark.parametrize(
    ("authorization", "reason"),
    [
        pytest.param("Basic dXNlcjpwYXNz", "must be: Bearer", id="basic"),
        pytest.param("Bearer", "must be: Bearer", id="no-token"),
        pytest.param("Bearer a b", "must be: Bearer", id="two-tokens"),
        pytest.param("Bearer not-a-jwt", "not a well-formed JWT", id="garbage"),
        pytest.param("Bearer " + "a" * 20_000, "longer than", id="huge"),
        pytest.param("Bearer e30.e30.", "algorithm None", id="no-alg"),
    ],
)
def test_malformed_headers_are_refused_with_a_reason(authorization, reason):
    """Each malformed header is a 401 whose message says what is wrong."""
    problem = rejected(authorization)

    assert reason in problem.message
    assert not problem.missing


def test_alg_none_is_refused():
    """An unsigned token (alg none) is refused before any key is looked at."""
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': 'k1'})}.{b64(claims())}."

    assert "'none' is not accepted" in rejected(f"Bearer {unsigned}").message


def test_hs256_signed_with_the_public_key_is_refused():
    """The classic key-confusion forgery: HMAC keyed with the published public key."""
    public_pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64({"alg": "HS256", "typ": "JWT", "kid": "k1"})
    body = b64(claims())
    signature = hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    assert "'HS256' is not accepted" in rejected(f"Bearer {forged}").message


def test_a_token_signed_by_another_key_with_a_known_kid_is_refused():
    """Right kid, wrong private key: the signature does not verify."""
    assert "signature is not valid" in rejected(f"Bearer {token(key=OTHER_KEY)}").message


def test_a_token_whose_payload_was_altered_is_refused():
    """A genuine token with its roles edited after signing no longer verifies."""
    header, _, signature = token(roles=[]).split(".")
    altered = f"{header}.{b64(claims())}.{signature}"

    assert "signature is not valid" in rejected(f"Bearer {altered}").message


def test_an_unpublished_kid_is_refused():
    """A kid the issuer does not publish: refused, naming the cause."""
    assert "does not publish" in rejected(f"Bearer {token(kid='k9')}").message


@pytest.mark.parametrize(
    ("overrides", "now", "reason"),
    [
        pytest.param({}, NOW + 3599 + 61, "expired at 2025-06-15T16:06:39Z", id="expired"),
        pytest.param({}, NOW - 61, "not valid yet", id="not-yet-valid"),
        pytest.param({"exp": None}, NOW, "no expiry", id="no-exp"),
        pytest.param({"exp": "tomorrow"}, NOW, "no expiry", id="exp-not-a-number"),
        pytest.param({"aud": "https://graph.microsoft.com"}, NOW, "another audience", id="audience"),
        pytest.param({"aud": None}, NOW, "another audience", id="no-audience"),
        pytest.param({"iss": "https://sts.windows.net/evil/"}, NOW, "issued by", id="issuer"),
        pytest.param({"tid": "00000000-0000-0000-0000-000000000000"}, NOW, "another tenant", id="tenant"),
        pytest.param({"tid": None}, NOW, "another tenant", id="no-tenant"),
        pytest.param({"appid": None, "azp": None}, NOW, "no calling application", id="no-app"),
    ],
)
def test_claims_that_do_not_fit_are_refused(overrides, now, reason):
    """Each claim is checked, against this validator's clock, with its own reason."""
    assert reason in rejected(f"Bearer {token(**overrides)}", validator(now=now)).message


def test_the_refusal_names_the_claimed_app_for_the_log():
    """The log gets the unverified appid and oid, never the token."""
    problem = rejected(f"Bearer {token(key=OTHER_KEY)}")

    assert problem.claimed == f"appid {APP}, oid 0b8e5c1e-1111-2222-3333-444455556666"


# --- refused: 403 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "roles",
    [
        pytest.param([], id="no-roles"),
        pytest.param(["Provisioning.Read"], id="other-role"),
        pytest.param(None, id="no-roles-claim"),
        pytest.param("Provisioning.Submit", id="roles-not-a-list"),
    ],
)
def test_a_valid_token_without_the_role_is_role_missing(roles):
    """Everything else valid, the role absent: RoleMissing carrying the verified principal."""
    with pytest.raises(RoleMissing, match=r"app role Provisioning\.Submit") as info:
        validator().validate(f"Bearer {token(roles=roles)}")

    assert info.value.principal.app_id == APP


def test_the_required_role_is_configurable():
    """A deployment may name its own role."""
    policy = BearerPolicy(POLICY.audiences, POLICY.issuers, TENANT, role="Auth.Provision")

    with pytest.raises(RoleMissing):
        validator(policy=policy).validate(f"Bearer {token()}")
    assert validator(policy=policy).validate(f"Bearer {token(roles=['Auth.Provision'])}").app_id == APP


def test_a_claimed_app_id_cannot_forge_log_lines():
    """Unverified claims are reduced to printable ASCII before they reach a log line."""
    forged = token(key=OTHER_KEY, appid=None, azp="x\nERROR forged entry", oid="o" * 500)

    claimed = rejected(f"Bearer {forged}").claimed

    assert "\n" not in claimed
    assert claimed.startswith("appid x?ERROR forged entry, oid ooo")
    assert len(claimed) < 160
