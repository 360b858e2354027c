"""The in-process sandbox: start it on a free loopback port in a background thread, inspect it, stop it."""

from __future__ import annotations

import os
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from tests.sandbox import certs
from tests.sandbox import directory_roles as roles
from tests.sandbox import seed as seeds
from tests.sandbox.app import SandboxApp
from tests.sandbox.batch import BatchRunner
from tests.sandbox.config import SandboxConfig
from tests.sandbox.entra import GRAPH_APP_ID, Entra
from tests.sandbox.errors import GraphFailure
from tests.sandbox.faults import FaultConfig, FaultInjector
from tests.sandbox.graph import GraphService
from tests.sandbox.server import HttpsServer, server_context
from tests.sandbox.stats import Stats
from tests.sandbox.tenant import Group, Tenant
from tests.sandbox.throttle import Throttle
from tests.sandbox.tokens import TOKEN_LIFETIME_S, Signer
from tests.sandbox.users import User


class Sandbox:
    """A running Graph + Entra sandbox. Use ``Sandbox.start(...)`` as a context manager."""

    def __init__(self, app: SandboxApp, server: HttpsServer, files: certs.CertFiles, client_id: str) -> None:
        self.app = app
        self.files = files
        self.client_id = client_id
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="graph-sandbox", daemon=True)  # fmt: skip
        self._thread.start()

    @classmethod
    def start(
        cls,
        seed: dict[str, Any] | Path | str | None = None,
        config: SandboxConfig | None = None,
        state_dir: Path | str | None = None,
    ) -> Sandbox:
        """Generate or reuse key material in ``state_dir`` (default ``./.sandbox``), load the seed, listen."""
        config = config or SandboxConfig()
        files = certs.ensure(Path(state_dir) if state_dir is not None else Path.cwd() / ".sandbox")
        data, base_dir = seeds.load(seed)
        tenant, client_id = seeds.build(data, base_dir, files.client_cert_pem)
        server = HttpsServer(("127.0.0.1", config.port), server_context(files.server_cert, files.server_key))
        url = f"https://127.0.0.1:{server.port}"
        audiences = frozenset({url, url + "/", "https://graph.microsoft.com", "https://graph.microsoft.com/",
                               GRAPH_APP_ID})  # fmt: skip
        signer = Signer(files.signing_key.read_bytes())
        stats = Stats()
        graph = GraphService(tenant, signer, Throttle(config.limits()), FaultInjector(config.faults), stats, url,
                             audiences, config.throttle, config.page_size, config.delta_expiry)  # fmt: skip
        batches = BatchRunner(
            graph, shuffle=config.shuffle_batch, seed=config.faults.seed, latency=config.batch_latency_model()
        )
        app = SandboxApp(config, tenant, Entra(tenant, signer, url, audiences), graph, batches, stats)
        graph.settings = lambda: app.config  # rule choices follow configure() without app.py pushing them
        server.app = app
        return cls(app, server, files, client_id)

    # --- lifecycle ---

    def stop(self) -> None:
        """Stop listening and close open connections."""
        self._server.shutdown()
        self._server.close_connections()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- addresses and settings ---

    @property
    def port(self) -> int:
        """The listening port."""
        return self._server.port

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT``: the authority root and the Graph root."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def tenant(self) -> Tenant:
        """The live tenant state (use its locked accessors)."""
        return self.app.tenant

    @property
    def tenant_id(self) -> str:
        """The tenant id."""
        return self.app.tenant.tenant_id

    @property
    def ca_path(self) -> Path:
        """The CA certificate clients must trust."""
        return self.files.ca

    def ssl_context(self) -> ssl.SSLContext:
        """A client TLS context trusting the sandbox CA (for ``httpx.Client(verify=...)``)."""
        return ssl.create_default_context(cafile=str(self.files.ca))

    @property
    def env(self) -> dict[str, str]:
        """The variables of the env file."""
        ca = str(self.files.ca.resolve())
        return {
            "PROVISIONING_TENANT_ID": self.tenant_id,
            "PROVISIONING_CLIENT_ID": self.client_id,
            "PROVISIONING_CERTIFICATE_PATH": str(self.files.client_pem.resolve()),
            "PROVISIONING_AUTHORITY_URL": self.url,
            "PROVISIONING_GRAPH_URL": self.url,
            "REQUESTS_CA_BUNDLE": ca,
            "SSL_CERT_FILE": ca,
            "SANDBOX_URL": self.url,
        }

    def write_env(self, path: Path | str) -> Path:
        """Write the env file atomically (temp file + rename), so a waiter sees it whole or not at all."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text("".join(f"{k}={v}\n" for k, v in self.env.items()), encoding="utf-8")
        os.replace(tmp, target)
        return target

    def configure(
        self,
        *,
        latency_ms: float | None = None,
        throttle: bool | None = None,
        faults: FaultConfig | dict[str, Any] | None = None,
        **more: Any,
    ) -> SandboxConfig:
        """Change settings while running (any ``SandboxConfig`` field but ``port``); returns the new config."""
        changes = {k: v for k, v in {"latency_ms": latency_ms, "throttle": throttle, "faults": faults}.items()
                   if v is not None}  # fmt: skip
        return self.app.configure({**changes, **more})

    @property
    def config(self) -> SandboxConfig:
        """The current settings."""
        return self.app.config

    # --- inspection ---

    def user(self, ref: str) -> dict[str, Any]:
        """A detached snapshot of one user by id or UPN; ``KeyError`` when unknown."""
        return self.app.tenant.snapshot(ref)

    def users(self) -> list[dict[str, Any]]:
        """Snapshots of every user."""
        return self.app.tenant.snapshots()

    def history(
        self, ref: str | None = None, *, since: float | None = None
    ) -> dict[str, list[dict[str, Any]]]:
        """Method changes per UPN in order (optionally for one user, or only those after *since*)."""
        return self.app.tenant.history(ref, since=since)

    def group(self, group_id: str) -> dict[str, Any]:
        """A detached snapshot of one group (members as lower-case object ids); ``KeyError`` when unknown."""
        with self.tenant.lock:
            return self._group(group_id).snapshot()

    # --- directory changes (each one is seen by delta queries) ---

    def add_user(self, user: dict[str, Any]) -> dict[str, Any]:
        """Add a user in the seed format; returns its snapshot. ``ValueError`` when invalid or a duplicate."""
        return seeds.add_user(self.tenant, user).snapshot()

    def set_profile(self, ref: str, **values: Any) -> list[str]:
        """Set profile properties (``mobilePhone="+1 425 555 0100"``, ``businessPhones=[...]``) as the
        directory (or AD Connect, so also on synced users) would; returns the names that changed."""
        with self.tenant.lock:
            return self.tenant.change(self._user(ref), values)

    def delete_user(self, ref: str, *, permanent: bool = False) -> None:
        """Delete a user: ``@removed`` reason ``changed`` in delta (``deleted`` when ``permanent``)."""
        with self.tenant.lock:
            self.tenant.remove(self._user(ref), permanent=permanent)

    def add_group(self, group: dict[str, Any]) -> dict[str, Any]:
        """Add a group in the seed format (``{"id", "displayName", "members": [...]}``); its snapshot."""
        return seeds.add_group(self.tenant, group).snapshot()

    def add_member(self, group_id: str, ref: str) -> None:
        """Add a user (id or UPN) or group (id) to a group's direct members (no-op when already one)."""
        with self.tenant.lock:
            group, member = self._group(group_id), seeds.member_id(self.tenant, ref)
            if member not in group.members:
                group.members.append(member)

    def remove_member(self, group_id: str, ref: str) -> None:
        """Remove a direct member (no-op when not one)."""
        with self.tenant.lock:
            group, member = self._group(group_id), seeds.member_id(self.tenant, ref)
            if member in group.members:
                group.members.remove(member)

    def add_role_member(self, role: str, ref: str) -> dict[str, Any]:
        """Put a user (id or UPN) or group (id) in a directory role, given by built-in display name
        (``"Global Administrator"``, any case) or template id; activates the role on first use. Returns the
        role's snapshot ``{id, displayName, roleTemplateId, description, members}``; ``ValueError`` when
        the role or member is unknown. Seen by ``GET /users/{id}/transitiveMemberOf``."""
        with self.tenant.lock:
            return roles.add_member(self.tenant, role, seeds.member_id(self.tenant, ref)).snapshot()

    def remove_role_member(self, role: str, ref: str) -> dict[str, Any]:
        """Take a member out of a directory role (no-op when not one); the role's snapshot."""
        with self.tenant.lock:
            return roles.remove_member(self.tenant, role, seeds.member_id(self.tenant, ref)).snapshot()

    def expire_delta_tokens(self) -> None:
        """Expire every delta/skip token issued so far (answered per ``SandboxConfig.delta_expiry``)."""
        self.tenant.expire_delta_tokens()

    def _user(self, ref: str) -> User:
        try:
            return self.tenant.find(ref)
        except GraphFailure as exc:
            raise KeyError(ref) from exc

    def _group(self, group_id: str) -> Group:
        try:
            return self.tenant.find_group(group_id)
        except GraphFailure as exc:
            raise KeyError(group_id) from exc

    def stats(self) -> dict[str, Any]:
        """Request counters (see ``GET /_sandbox/stats``)."""
        return self.app.stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters."""
        self.app.stats.reset()

    def client_token(self, client_id: str, secret: str, scope: str) -> str:
        """An access token asked of the token endpoint over HTTPS (client credentials with a secret)."""
        with httpx.Client(verify=self.ssl_context()) as client:
            response = client.post(
                f"{self.url}/{self.tenant_id}/oauth2/v2.0/token",
                data={"grant_type": "client_credentials", "client_id": client_id,
                      "client_secret": secret, "scope": scope},
            )  # fmt: skip
        response.raise_for_status()
        return str(response.json()["access_token"])

    def token(
        self,
        client_id: str | None = None,
        resource: str | None = None,
        *,
        issued_at: int | None = None,
        lifetime_s: int | None = None,
    ) -> str:
        """An access token minted directly (no HTTP) for an app, as the token endpoint would issue it.

        *issued_at* (epoch seconds) and *lifetime_s* shift its lifetime, e.g. to mint an expired one.
        """
        app = self.app.tenant.apps[(client_id or self.client_id).lower()]
        audience = resource or self.url
        key = "graph" if seeds.is_graph_key(audience) else audience
        lifetime = TOKEN_LIFETIME_S if lifetime_s is None else lifetime_s
        return self.app.entra.signer.issue(issuer=f"https://sts.windows.net/{self.tenant_id}/",
                                           tenant_id=self.tenant_id, app_id=app.client_id, audience=audience,
                                           roles=app.roles_for(key) or [], acr="2", issued_at=issued_at,
                                           lifetime_s=lifetime)  # fmt: skip

    def add_app(self, app: dict[str, Any]) -> str:
        """Register an app in the seed format (``{"displayName", "roles", "clientSecret"?}``); its client id."""
        return seeds.add_app(self.tenant, app, self.files.client_cert_pem).client_id
