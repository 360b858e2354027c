"""The endpoint's gate: its settings, the caller identity, and the refusals with their headers."""

from __future__ import annotations

import logging

import jwt
import pytest

from provisioning.entrypoints.http.access import ApiAccess, ApiAccessSettings, build_access, caller_identity
from provisioning.entrypoints.http.bearer import BearerValidator
from provisioning.entrypoints.http.rate_limit import RateLimit, RateLimiter
from provisioning.errors import AccessDenied, ConfigurationError, ErrorCode, KeysUnavailable
from tests.tokens import APP, KEY, NOW, POLICY, TENANT, Keys, public_jwk, token

# --- settings -------------------------------------------------------------------------------------


def test_without_an_audience_the_endpoint_is_function_key_only_with_the_default_rate():
    """Nothing set: no bearer check, 300 requests per minute and bursts of 30 per caller."""
    settings = ApiAccessSettings.from_env({})

    assert settings.bearer is None
    assert settings.rate == RateLimit(300, 30)


def test_an_audience_turns_bearer_tokens_on_with_issuers_derived_from_the_tenant():
    """The v1 and v2 issuers of the tenant, the default role, the OpenID metadata URL."""
    settings = ApiAccessSettings.from_env(
        {
            "PROVISIONING_API_AUDIENCE": "api://provisioning, 1f0e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
            "PROVISIONING_TENANT_ID": TENANT,
        }
    )

    assert settings.bearer is not None
    assert settings.bearer.audiences == {"api://provisioning", "1f0e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"}
    assert settings.bearer.issuers == {
        f"https://sts.windows.net/{TENANT}/",
        f"https://login.microsoftonline.com/{TENANT}/v2.0",
    }
    assert settings.bearer.role == "Provisioning.Submit"
    assert settings.metadata_url == (
        f"https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration"
    )


def test_national_clouds_get_their_own_issuers():
    """China's v1 issuer is sts.chinacloudapi.cn; its v2 issuer is its authority."""
    settings = ApiAccessSettings.from_env(
        {
            "PROVISIONING_API_AUDIENCE": "api://p",
            "PROVISIONING_TENANT_ID": TENANT,
            "PROVISIONING_CLOUD": "china",
        }
    )

    assert settings.bearer is not None
    assert settings.bearer.issuers == {
        f"https://sts.chinacloudapi.cn/{TENANT}/",
        f"https://login.partner.microsoftonline.cn/{TENANT}/v2.0",
    }


def test_explicit_issuers_role_and_rate_are_read():
    """PROVISIONING_API_ISSUERS replaces the derived ones; the role and the rate can be set; off is off."""
    settings = ApiAccessSettings.from_env(
        {
            "PROVISIONING_API_AUDIENCE": "api://p",
            "PROVISIONING_TENANT_ID": TENANT,
            "PROVISIONING_API_ISSUERS": "https://issuer.test/a/ https://issuer.test/b/",
            "PROVISIONING_API_ROLE": "Auth.Provision",
            "PROVISIONING_API_RATE_PER_MINUTE": "off",
        }
    )

    assert settings.bearer is not None
    assert settings.bearer.issuers == {"https://issuer.test/a/", "https://issuer.test/b/"}
    assert settings.bearer.role == "Auth.Provision"
    assert settings.rate is None


def test_every_bad_setting_is_named_in_one_error():
    """A domain tenant with an audience, a role with spaces, a bad rate and burst: one message."""
    env = {
        "PROVISIONING_API_AUDIENCE": "api://p",
        "PROVISIONING_TENANT_ID": "contoso.onmicrosoft.com",
        "PROVISIONING_API_ROLE": "Provisioning Submit",
        "PROVISIONING_API_RATE_PER_MINUTE": "fast",
        "PROVISIONING_API_BURST": "0",
    }

    with pytest.raises(ConfigurationError) as info:
        ApiAccessSettings.from_env(env)

    message = str(info.value)
    for name in ("TENANT_ID must be the tenant id GUID", "API_ROLE", "API_RATE_PER_MINUTE", "API_BURST"):
        assert name in message
    assert message.startswith("4 configuration problem(s)")


# --- caller identity ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "params", "identity"),
    [
        pytest.param({"x-functions-key": "secret-key"}, {}, "key:", id="key-header"),
        pytest.param({}, {"code": "secret-key"}, "key:", id="key-query"),
        pytest.param(
            {"x-forwarded-for": "6.6.6.6, 203.0.113.7:51234"}, {}, "ip:203.0.113.7", id="xff-rightmost"
        ),
        pytest.param({"x-forwarded-for": "[2001:db8::1]:443"}, {}, "ip:2001:db8::1", id="xff-v6-port"),
        pytest.param({"x-client-ip": "198.51.100.2"}, {}, "ip:198.51.100.2", id="client-ip"),
        pytest.param({"x-forwarded-for": "not-an-ip"}, {}, "anonymous", id="junk"),
        pytest.param({}, {}, "anonymous", id="nothing"),
    ],
)
def test_the_caller_is_the_key_else_the_platforms_client_address(headers, params, identity):
    """Key (hashed) first, then the address the front end appended, else one shared bucket."""
    assert caller_identity(headers, params).startswith(identity)


def test_the_key_itself_never_appears_in_the_identity():
    """The identity is a hash prefix: it can be logged."""
    identity = caller_identity({"x-functions-key": "secret-key"}, {})

    assert "secret-key" not in identity
    assert identity == caller_identity({}, {"code": "secret-key"})
    assert identity != caller_identity({}, {"code": "other-key"})


# --- admission ------------------------------------------------------------------------------------


def gate(*, keys: object = None, rate: RateLimit | None = None, now: float = NOW) -> ApiAccess:
    lookup = keys if keys is not None else Keys(k1=public_jwk(KEY))
    bearer = BearerValidator(POLICY, lookup, clock=lambda: now)  # type: ignore[arg-type]
    limiter = RateLimiter(rate, clock=lambda: 0.0) if rate is not None else None
    return ApiAccess(bearer, limiter)


def denied(access: ApiAccess, headers: dict[str, str]) -> AccessDenied:
    with pytest.raises(AccessDenied) as info:
        access.admit("provision", headers, {})
    return info.value


def test_a_valid_token_admits_its_app():
    """The caller's identity is the token's app."""
    assert gate().admit("provision", {"Authorization": f"Bearer {token()}"}, {}) == f"app:{APP}"


def test_a_missing_token_gets_a_bare_bearer_challenge():
    """RFC 6750 section 3.1: no credentials, no error code in the challenge."""
    refusal = denied(gate(), {})

    assert refusal.code is ErrorCode.INVALID_TOKEN
    assert refusal.headers == {"WWW-Authenticate": 'Bearer realm="provisioning"'}


def test_a_bad_token_gets_invalid_token_with_the_reason(caplog):
    """401 invalid_token, the reason in the challenge and the message; the log has no token."""
    bad = token(exp=NOW - 7200)

    with caplog.at_level(logging.WARNING, logger="provisioning.entrypoints.http.access"):
        refusal = denied(gate(), {"authorization": f"Bearer {bad}"})

    challenge = refusal.headers["WWW-Authenticate"]
    assert challenge.startswith('Bearer realm="provisioning", error="invalid_token", error_description="')
    assert "expired" in challenge
    assert "expired" in refusal.message
    assert APP in caplog.text
    assert bad not in caplog.text
    assert bad.split(".")[2] not in caplog.text


def test_a_token_without_the_role_is_403_insufficient_scope():
    """403 missingRole with an insufficient_scope challenge naming the role."""
    refusal = denied(gate(), {"Authorization": f"Bearer {token(roles=[])}"})

    assert refusal.code is ErrorCode.MISSING_ROLE
    assert 'error="insufficient_scope", scope="Provisioning.Submit"' in refusal.headers["WWW-Authenticate"]


def test_unreachable_issuer_keys_are_503_not_the_callers_fault():
    """No keys can be had: serviceUnavailable with Retry-After, not 401."""

    class Down:
        def get(self, kid: str) -> jwt.PyJWK | None:
            raise KeysUnavailable("issuer unreachable")

    refusal = denied(gate(keys=Down()), {"Authorization": f"Bearer {token()}"})

    assert refusal.code is ErrorCode.SERVICE_UNAVAILABLE
    assert refusal.headers == {"Retry-After": "30"}


def test_the_rate_limit_counts_per_app_and_answers_retry_after():
    """The second request of an app with burst 1 is 429 with Retry-After; another app still passes."""
    access = gate(rate=RateLimit(per_minute=6, burst=1))
    ann = {"Authorization": f"Bearer {token()}"}
    other = {"Authorization": f"Bearer {token(appid='other-app', azp='other-app')}"}
    access.admit("provision", ann, {})

    refusal = denied(access, ann)

    assert refusal.code is ErrorCode.TOO_MANY_REQUESTS
    assert refusal.headers == {"Retry-After": "10"}
    assert access.admit("provision", other, {}) == "app:other-app"


def test_rejected_tokens_do_not_use_up_the_callers_rate():
    """Authentication comes first: a refused token is 401, never 429, and costs no token."""
    access = gate(rate=RateLimit(per_minute=6, burst=1))
    for _ in range(3):
        denied(access, {"Authorization": "Bearer junk"})

    assert access.admit("provision", {"Authorization": f"Bearer {token()}"}, {}) == f"app:{APP}"


def test_build_access_wires_what_the_settings_ask_for():
    """No audience: no bearer; a rate: a limiter; an audience: a validator over the issuer's keys."""
    open_gate = build_access(ApiAccessSettings.from_env({"PROVISIONING_API_RATE_PER_MINUTE": "off"}))
    strict = build_access(
        ApiAccessSettings.from_env({"PROVISIONING_API_AUDIENCE": "api://p", "PROVISIONING_TENANT_ID": TENANT})
    )

    assert (open_gate.bearer, open_gate.limiter) == (None, None)
    assert strict.bearer is not None
    assert strict.limiter is not None
