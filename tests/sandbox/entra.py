"""The Entra ID (v2.0) endpoints: OpenID discovery, JWKS and the client-credentials token endpoint."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from tests.sandbox.messages import Reply, Request
from tests.sandbox.tenant import GRAPH, App, Tenant
from tests.sandbox.tokens import TOKEN_LIFETIME_S, Signer, TokenRejected, verify_assertion

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class EntraFailure(Exception):
    """An error the token endpoint answers with, in Entra's JSON shape."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status, self.error, self.description = status, error, description

    def reply(self) -> Reply:
        """Entra's error body: error, AADSTS description, error_codes, timestamp, trace and correlation ids."""
        trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
        code = self.description.split(":", 1)[0].removeprefix("AADSTS")
        body = {
            "error": self.error,
            "error_description": f"{self.description} Trace ID: {trace} Correlation ID: {correlation} "
            f"Timestamp: {stamp}",
            "error_codes": [int(code)] if code.isdigit() else [],
            "timestamp": stamp, "trace_id": trace, "correlation_id": correlation,
            "error_uri": "https://login.microsoftonline.com/error?code=" + code,
        }  # fmt: skip
        return Reply(self.status, body, {"Content-Type": "application/json; charset=utf-8"})


@dataclass
class Entra:
    """The token service of the sandbox tenant, reachable at ``base_url``."""

    tenant: Tenant
    signer: Signer
    base_url: str
    graph_audiences: frozenset[str]

    def handle(self, request: Request, segments: list[str]) -> Reply | None:
        """Answer an Entra request, or None when the path is not an Entra path."""
        tail = segments[1:]
        try:
            if request.method == "GET" and tail == ["v2.0", ".well-known", "openid-configuration"]:
                return _json(self._metadata(self._tenant(segments[0])))
            if request.method == "GET" and tail in (["discovery", "v2.0", "keys"], ["discovery", "keys"]):
                self._tenant(segments[0])
                return _json(self.signer.jwks())
            if request.method == "POST" and tail == ["oauth2", "v2.0", "token"]:
                return _json(self._token(self._tenant(segments[0]), request))
        except EntraFailure as failure:
            return failure.reply()
        return None

    def _tenant(self, name: str) -> str:
        if name.lower() != self.tenant.tenant_id.lower():
            raise EntraFailure(400, "invalid_request", f"AADSTS90002: Tenant '{name}' not found. Check to make "
                               "sure you have the correct tenant ID and are signing into the correct cloud.")  # fmt: skip
        return self.tenant.tenant_id

    def token_url(self, tenant_id: str) -> str:
        """The token endpoint URL (the ``aud`` a client assertion must carry)."""
        return f"{self.base_url}/{tenant_id}/oauth2/v2.0/token"

    def _metadata(self, tenant_id: str) -> dict[str, Any]:
        root = f"{self.base_url}/{tenant_id}"
        return {
            "token_endpoint": self.token_url(tenant_id),
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{root}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "issuer": f"{root}/v2.0",
            "authorization_endpoint": f"{root}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{root}/oauth2/v2.0/logout",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "sandbox.local",
        }

    def _token(self, tenant_id: str, request: Request) -> dict[str, Any]:
        form = {k: v[0] for k, v in parse_qs(request.body.decode("utf-8", "replace")).items()}
        if form.get("grant_type") != "client_credentials":
            raise EntraFailure(400, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant "
                               f"type '{form.get('grant_type')}'.")  # fmt: skip
        client_id = form.get("client_id", "")
        if not client_id:
            raise EntraFailure(
                400,
                "invalid_request",
                "AADSTS900144: The request body must contain the following parameter: 'client_id'.",
            )
        app = self.tenant.apps.get(client_id.lower())
        if app is None:
            raise EntraFailure(400, "unauthorized_client", f"AADSTS700016: Application with identifier "
                               f"'{client_id}' was not found in the directory '{tenant_id}'.")  # fmt: skip
        acr = self._authenticate(app, form, tenant_id)
        resource, key = self._resource(form.get("scope", ""), tenant_id)
        token = self.signer.issue(issuer=f"https://sts.windows.net/{tenant_id}/", tenant_id=tenant_id,
                                  app_id=app.client_id, audience=resource, roles=app.roles_for(key) or [],
                                  acr=acr)  # fmt: skip
        return {"token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S, "ext_expires_in": TOKEN_LIFETIME_S,
                "access_token": token}  # fmt: skip

    def _authenticate(self, app: App, form: dict[str, str], tenant_id: str) -> str:
        assertion, secret = form.get("client_assertion"), form.get("client_secret")
        if assertion is not None:
            if form.get("client_assertion_type") != ASSERTION_TYPE or app.certificate_pem is None:
                raise EntraFailure(401, "invalid_client", "AADSTS700027: Client assertion contains an invalid "
                                   "signature. [Reason - The key was not found.]")  # fmt: skip
            audiences = [
                self.token_url(tenant_id),
                self.token_url(tenant_id).replace("/oauth2/v2.0/", "/oauth2/"),
            ]
            try:
                verify_assertion(assertion, client_id=app.client_id, certificate_pem=app.certificate_pem,
                                 audiences=audiences)  # fmt: skip
            except TokenRejected as exc:
                raise EntraFailure(401, "invalid_client", str(exc)) from exc
            return "2"
        if secret is not None:
            if app.client_secret is None or secret != app.client_secret:
                raise EntraFailure(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. Ensure "
                                   f"the secret being sent in the request is the client secret value, not the "
                                   f"client secret ID, for a secret added to app '{app.client_id}'.")  # fmt: skip
            return "1"
        raise EntraFailure(401, "invalid_client", "AADSTS7000218: The request body must contain the following "
                           "parameter: 'client_assertion' or 'client_secret'.")  # fmt: skip

    def _resource(self, scope: str, tenant_id: str) -> tuple[str, str]:
        scopes = scope.split()
        defaults = [s for s in scopes if s.endswith("/.default")]
        if len(defaults) != 1 or len(scopes) != 1:
            raise EntraFailure(400, "invalid_scope", f"AADSTS1002012: The provided value for scope {scope} is not "
                               "valid. Client credential flows must have a scope value with /.default suffixed to "
                               "the resource identifier (application ID URI).")  # fmt: skip
        resource = defaults[0].removesuffix("/.default")
        key = GRAPH if resource.rstrip("/") in self.graph_audiences else resource
        if key != GRAPH and not any(key in app.roles for app in self.tenant.apps.values()):
            raise EntraFailure(400, "invalid_resource", f"AADSTS500011: The resource principal named {resource} "
                               f"was not found in the tenant named {tenant_id}.")  # fmt: skip
        return resource.rstrip("/") if key == GRAPH else resource, key


def _json(body: dict[str, Any]) -> Reply:
    return Reply(
        200, body, {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store, no-cache"}
    )
