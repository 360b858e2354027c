"""The Entra token endpoint and Graph's 401/403: MSAL with a certificate, refusals, roles, audiences."""

from __future__ import annotations

import time
import uuid

import httpx
import jwt
import msal
import pytest

from tests.sandbox import Sandbox
from tests.sandbox.certs import new_client_certificate
from tests.sandbox.tokens import b64url
from tests.sandbox_tests.conftest import CLIENT, NOBODY, READER, TENANT, client_for, phones


def _msal_app(
    sb: Sandbox, key_pem: bytes, cert_pem: bytes, client_id: str = CLIENT
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential={"private_key": key_pem.decode(), "public_certificate": cert_pem.decode()},
        authority=f"{sb.url}/{sb.tenant_id}",
        instance_discovery=False,
    )


def _token_request(sb: Sandbox, **form: str) -> httpx.Response:
    with httpx.Client(verify=sb.ssl_context()) as client:
        return client.post(f"{sb.url}/{sb.tenant_id}/oauth2/v2.0/token", data=form)


def _assertion(sb: Sandbox, key_pem: bytes, cert_pem: bytes, **overrides: object) -> str:
    from tests.sandbox.certs import thumbprint_sha256

    now = int(time.time())
    claims = {"aud": f"{sb.url}/{sb.tenant_id}/oauth2/v2.0/token", "iss": CLIENT, "sub": CLIENT,
              "iat": now, "nbf": now, "exp": now + 600, "jti": str(uuid.uuid4()), **overrides}  # fmt: skip
    headers = {"x5t#S256": b64url(thumbprint_sha256(cert_pem))}
    return jwt.encode(claims, key_pem, algorithm="PS256", headers=headers)


def _own_credentials(sb: Sandbox) -> tuple[bytes, bytes]:
    pem = sb.files.client_pem.read_bytes()
    return pem, sb.files.client_cert.read_bytes()


def test_msal_gets_a_graph_token_with_the_registered_certificate(
    sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Real MSAL discovers the authority, signs a PS256 assertion and gets a token with the app's roles."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sandbox.ca_path))
    key_pem, cert_pem = _own_credentials(sandbox)
    app = _msal_app(sandbox, key_pem, cert_pem)

    result = app.acquire_token_for_client(scopes=[f"{sandbox.url}/.default"])

    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == sandbox.url
    assert claims["tid"] == TENANT
    assert claims["appid"] == CLIENT
    assert "UserAuthenticationMethod.ReadWrite.All" in claims["roles"]
    assert claims["exp"] - claims["iat"] == 3599
    assert app.acquire_token_for_client(scopes=[f"{sandbox.url}/.default"])["token_source"] == "cache"
    graph = httpx.get(f"{sandbox.url}/v1.0/users/mob@contoso.test", verify=sandbox.ssl_context(),
                      headers={"Authorization": f"Bearer {result['access_token']}"})  # fmt: skip
    assert graph.status_code == 200


def test_a_different_certificate_is_refused(sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """A self-consistent assertion signed with an unregistered certificate gets 401 AADSTS700027."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sandbox.ca_path))
    key_pem, cert_pem = new_client_certificate("intruder")

    result = _msal_app(sandbox, key_pem, cert_pem).acquire_token_for_client(
        scopes=[f"{sandbox.url}/.default"]
    )

    assert result.get("error") == "invalid_client"
    assert "AADSTS700027" in result["error_description"]


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        pytest.param(
            {"exp": int(time.time()) - 3600, "iat": int(time.time()) - 4000}, "AADSTS700024", id="expired"
        ),
        pytest.param(
            {"aud": "https://login.microsoftonline.com/x/oauth2/v2.0/token"}, "AADSTS700023", id="wrong-aud"
        ),
        pytest.param({"iss": READER}, "AADSTS700021", id="wrong-iss"),
    ],
)
def test_bad_assertions_are_invalid_client(sandbox: Sandbox, overrides: dict[str, object], code: str) -> None:
    """Expired, wrongly addressed or wrongly issued assertions get 401 invalid_client with their AADSTS code."""
    key_pem, cert_pem = _own_credentials(sandbox)
    response = _token_request(
        sandbox, grant_type="client_credentials", client_id=CLIENT, scope=f"{sandbox.url}/.default",
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=_assertion(sandbox, key_pem, cert_pem, **overrides),
    )  # fmt: skip

    assert response.status_code == 401
    body = response.json()
    assert body["error"] == "invalid_client"
    assert body["error_description"].startswith(code)
    assert {"error_codes", "timestamp", "trace_id", "correlation_id"} <= set(body)


def test_a_client_secret_is_accepted_and_a_wrong_one_refused(sandbox: Sandbox) -> None:
    """client_secret works for an app that has one; a wrong secret is 401 AADSTS7000215."""
    form = {
        "grant_type": "client_credentials",
        "client_id": READER,
        "scope": "https://graph.microsoft.com/.default",
    }

    good = _token_request(sandbox, **form, client_secret="s3cret")
    bad = _token_request(sandbox, **form, client_secret="nope")

    assert good.status_code == 200
    assert good.json()["token_type"] == "Bearer"
    assert good.json()["expires_in"] == 3599
    assert bad.status_code == 401
    assert "AADSTS7000215" in bad.json()["error_description"]


def test_unknown_tenant_and_unknown_client_are_400(sandbox: Sandbox) -> None:
    """Unknown tenant is invalid_request AADSTS90002; unknown client is unauthorized_client AADSTS700016."""
    with httpx.Client(verify=sandbox.ssl_context()) as client:
        tenant = client.post(
            f"{sandbox.url}/{uuid.uuid4()}/oauth2/v2.0/token", data={"grant_type": "client_credentials"}
        )
    client_ = _token_request(sandbox, grant_type="client_credentials", client_id=str(uuid.uuid4()),
                             scope=f"{sandbox.url}/.default", client_secret="x")  # fmt: skip

    assert (tenant.status_code, tenant.json()["error"]) == (400, "invalid_request")
    assert tenant.json()["error_codes"] == [90002]
    assert (client_.status_code, client_.json()["error"]) == (400, "unauthorized_client")
    assert client_.json()["error_codes"] == [700016]


def test_tokens_for_the_project_api_carry_its_own_roles(sandbox: Sandbox) -> None:
    """A scope of another resource yields aud = that resource and the roles granted on it."""
    key_pem, cert_pem = _own_credentials(sandbox)
    response = _token_request(
        sandbox, grant_type="client_credentials", client_id=CLIENT, scope="api://provisioning/.default",
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=_assertion(sandbox, key_pem, cert_pem),
    )  # fmt: skip

    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert (claims["aud"], claims["roles"]) == ("api://provisioning", ["Provisioning.Submit"])


def test_discovery_documents_publish_the_token_endpoint_and_keys(sandbox: Sandbox) -> None:
    """openid-configuration names the endpoints and issuer; the JWKS verifies issued tokens."""
    with httpx.Client(verify=sandbox.ssl_context()) as client:
        meta = client.get(f"{sandbox.url}/{TENANT}/v2.0/.well-known/openid-configuration").json()
        keys = client.get(meta["jwks_uri"]).json()

    assert meta["token_endpoint"] == f"{sandbox.url}/{TENANT}/oauth2/v2.0/token"
    assert meta["issuer"] == f"{sandbox.url}/{TENANT}/v2.0"
    token = sandbox.token()
    key = jwt.PyJWK(keys["keys"][0])
    assert jwt.get_unverified_header(token)["kid"] == key.key_id
    assert jwt.decode(token, key.key, algorithms=["RS256"], audience=sandbox.url)["tid"] == TENANT


def test_graph_without_a_valid_token_is_401(sandbox: Sandbox) -> None:
    """No token, a forged token and a token for another audience all get 401 InvalidAuthenticationToken."""
    forged_key, _ = new_client_certificate("forger")
    forged = jwt.encode({"aud": sandbox.url, "tid": TENANT, "appid": CLIENT, "exp": time.time() + 60},
                        forged_key, algorithm="RS256")  # fmt: skip
    tokens = ["", f"Bearer {forged}", f"Bearer {sandbox.token(resource='api://provisioning')}"]

    with httpx.Client(base_url=f"{sandbox.url}/v1.0", verify=sandbox.ssl_context()) as client:
        responses = [client.get("/users/mob@contoso.test", headers={"Authorization": t}) for t in tokens]

    assert [r.status_code for r in responses] == [401, 401, 401]
    assert {r.json()["error"]["code"] for r in responses} == {"InvalidAuthenticationToken"}


def test_graph_accepts_the_public_graph_audiences(sandbox: Sandbox) -> None:
    """Tokens for https://graph.microsoft.com or Graph's app id are accepted like the sandbox URL."""
    for resource in ("https://graph.microsoft.com", "00000003-0000-0000-c000-000000000000"):
        headers = {"Authorization": f"Bearer {sandbox.token(resource=resource)}"}
        response = httpx.get(f"{sandbox.url}/v1.0/users/mob@contoso.test", headers=headers,
                             verify=sandbox.ssl_context())  # fmt: skip
        assert response.status_code == 200


def test_missing_roles_are_403(sandbox: Sandbox) -> None:
    """A read-only app cannot write, and an app without roles cannot read: 403 Authorization_RequestDenied."""
    with client_for(sandbox, READER) as reader, client_for(sandbox, NOBODY) as nobody:
        write = reader.post(
            phones("empty@contoso.test"), json={"phoneNumber": "+1 5555551234", "phoneType": "mobile"}
        )
        read = nobody.get(phones("mob@contoso.test"))
        allowed = reader.get(phones("mob@contoso.test"))

    assert (write.status_code, read.status_code, allowed.status_code) == (403, 403, 200)
    assert write.json()["error"] == {
        "code": "Authorization_RequestDenied",
        "message": "Insufficient privileges to complete the operation.",
        "innerError": write.json()["error"]["innerError"],
    }
    assert sandbox.user("empty@contoso.test")["phoneMethods"] == {}
