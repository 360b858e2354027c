"""Settings read once from the environment into frozen values; bad settings fail fast in one message.

``Settings.from_env`` is for commands that call Graph; ``Settings.offline`` returns only the
``InputLimits`` a command needs to read and check an input file without Graph (the CSV ``check``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

from provisioning.core.pace import QUOTA_REQUESTS, QUOTA_WINDOW_S, QUOTA_WRITES, REQUEST_WINDOW_S
from provisioning.errors import ConfigurationError

logger = logging.getLogger(__name__)
T = TypeVar("T")
N = TypeVar("N", int, float)

PREFIX = "PROVISIONING_"
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_MAX_ATTEMPTS = 6
# Chunks of up to 20 users in flight in the CLI and the HTTP path (a queue worker's come from host.json);
# each may have ENVELOPES_PER_ROUND envelopes in flight (graph/batch.py). Graph documents no limit on
# concurrent requests for identity and access, only rates (graph-api.md section 7), which the pacer
# holds whatever the concurrency; 16 is what it takes to reach the write quota and the read budget
# even if Graph serves a $batch's items one after another (the strict reading of section 6).
DEFAULT_CONCURRENCY = 16
MAX_CONCURRENCY = 64
# Graph's identity-and-access limits per app + tenant (graph-api.md section 7): 3,000 writes per 150 s;
# 3,500 resource units per 10 s for the smallest tenants (5,000 medium, 8,000 large). Split evenly over
# the PROVISIONING_INSTANCES processes that share the app registration and tenant.
GRAPH_WRITES_PER_SECOND = QUOTA_WRITES / QUOTA_WINDOW_S
GRAPH_REQUESTS_PER_SECOND = QUOTA_REQUESTS / REQUEST_WINDOW_S
DEFAULT_INSTANCES = 1
MAX_INSTANCES = 1000

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Key Vault object names: 1-127 letters, digits and hyphens (learn.microsoft.com/azure/key-vault/general/about-keys-secrets-certificates).
_KEYVAULT_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]{2,63}$")


class Cloud(StrEnum):
    """Microsoft's clouds (graph-api.md section 9, national clouds table)."""

    GLOBAL = "global"
    USGOV = "usgov"
    USGOVDOD = "usgovdod"
    CHINA = "china"


# Authority root and Graph root per cloud (learn.microsoft.com/graph/deployments).
CLOUD_ENDPOINTS: Mapping[Cloud, tuple[str, str]] = {
    Cloud.GLOBAL: ("https://login.microsoftonline.com", "https://graph.microsoft.com"),
    Cloud.USGOV: ("https://login.microsoftonline.us", "https://graph.microsoft.us"),
    Cloud.USGOVDOD: ("https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
    Cloud.CHINA: ("https://login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn"),
}


@dataclass(frozen=True)
class InputLimits:
    """What reading and checking an input file needs: no Graph, no credentials."""

    default_region: str | None = None
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_rows: int = DEFAULT_MAX_ROWS
    # PROVISIONING_WRITE_RATE is not ``off``: this app's writes share a quota, so the fan-out tapers a
    # job's last messages (core.job_records.TAPER) to keep the instances' shares busy to the end
    paced_writes: bool = True


@dataclass(frozen=True)
class KeyVaultCertificate:
    """Where the app's certificate lives in Key Vault, and which managed identity reads it."""

    vault_url: str
    name: str
    client_id: str | None = None  # user-assigned managed identity; None = DefaultAzureCredential


@dataclass(frozen=True)
class Settings:
    """Everything a Graph-calling command needs. Secrets are kept out of ``repr``."""

    tenant_id: str
    client_id: str
    certificate_path: Path | None
    certificate_password: str | None = field(repr=False)
    client_secret: str | None = field(repr=False)
    cloud: Cloud
    authority_root: str
    graph_root: str
    limits: InputLimits
    http_timeout: float = DEFAULT_HTTP_TIMEOUT
    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    concurrency: int = DEFAULT_CONCURRENCY
    ca_file: str | None = None  # SSL_CERT_FILE: extra CA bundle for Graph and the token endpoint
    instances: int = DEFAULT_INSTANCES  # processes sharing Graph's per-app-and-tenant budget
    write_rate: float | None = GRAPH_WRITES_PER_SECOND  # writes/s for this process; None: not paced
    request_rate: float | None = GRAPH_REQUESTS_PER_SECOND  # requests/s for this process; None: not paced
    write_window_s: float = QUOTA_WINDOW_S  # the span Graph counts writes over
    request_window_s: float = REQUEST_WINDOW_S  # and requests (resource units) over
    keyvault_certificate: KeyVaultCertificate | None = None  # in Azure, instead of certificate_path

    @property
    def authority(self) -> str:
        """The MSAL authority: the authority root plus the tenant."""
        return f"{self.authority_root}/{self.tenant_id}"

    @property
    def scope(self) -> str:
        """The app-only scope for Graph in this cloud (graph-api.md section 9)."""
        return f"{self.graph_root}/.default"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read and check every setting; raise one ``ConfigurationError`` listing all problems."""
        reader = _Reader(env)
        limits = _read_limits(reader)
        tenant = reader.required("TENANT_ID", "the directory (tenant) id GUID or a verified domain")
        if tenant is not None and not (_GUID.match(tenant) or _DOMAIN.match(tenant)):
            reader.problem("TENANT_ID", "must be a GUID or a verified domain such as contoso.onmicrosoft.com")
        client_id = reader.required("CLIENT_ID", "the application (client) id GUID of the app registration")
        if client_id is not None and not _GUID.match(client_id):
            reader.problem("CLIENT_ID", "must be the application (client) id GUID")
        credential = _read_credential(reader)
        cloud, authority_root, graph_root = _read_endpoints(reader, tenant)
        timeout = reader.number("HTTP_TIMEOUT", DEFAULT_HTTP_TIMEOUT, minimum=1.0, maximum=600.0)
        attempts = reader.integer("MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, minimum=1, maximum=20)
        concurrency = _read_concurrency(reader)
        instances = reader.integer("INSTANCES", DEFAULT_INSTANCES, minimum=1, maximum=MAX_INSTANCES)
        write_rate = _read_rate(reader, "WRITE_RATE", GRAPH_WRITES_PER_SECOND / instances)
        request_rate = _read_rate(reader, "REQUEST_RATE", GRAPH_REQUESTS_PER_SECOND / instances)
        write_window = reader.number("WRITE_WINDOW", QUOTA_WINDOW_S, minimum=1.0, maximum=3600.0)
        request_window = reader.number("REQUEST_WINDOW", REQUEST_WINDOW_S, minimum=0.1, maximum=3600.0)
        reader.raise_problems()
        if credential.secret is not None:
            logger.warning(
                "PROVISIONING_CLIENT_SECRET is set: a client secret works but a certificate "
                "(PROVISIONING_CERTIFICATE_PATH) is recommended"
            )
        assert tenant is not None  # raise_problems() raised otherwise
        assert client_id is not None
        return cls(
            tenant_id=tenant,
            client_id=client_id,
            certificate_path=credential.path,
            certificate_password=credential.password,
            client_secret=credential.secret,
            cloud=cloud,
            authority_root=authority_root,
            graph_root=graph_root,
            limits=limits,
            http_timeout=timeout,
            max_attempts=attempts,
            concurrency=concurrency,
            ca_file=env.get("SSL_CERT_FILE") or None,
            keyvault_certificate=credential.keyvault,
            instances=instances,
            write_rate=write_rate,
            request_rate=request_rate,
            write_window_s=write_window,
            request_window_s=request_window,
        )

    @staticmethod
    def offline(env: Mapping[str, str]) -> InputLimits:
        """Only the input limits (region, file size, rows), for commands that never call Graph."""
        return _read_alone(env, _read_limits)

    @staticmethod
    def concurrency_of(env: Mapping[str, str]) -> int:
        """``PROVISIONING_CONCURRENCY`` alone (1..64), for the HTTP endpoint's wiring."""
        return _read_alone(env, _read_concurrency)


def _read_alone(env: Mapping[str, str], read: Callable[[_Reader], T]) -> T:
    """One group of settings read on its own; a ``ConfigurationError`` lists its problems."""
    reader = _Reader(env)
    value = read(reader)
    reader.raise_problems()
    return value


def _read_concurrency(reader: _Reader) -> int:
    return reader.integer("CONCURRENCY", DEFAULT_CONCURRENCY, minimum=1, maximum=MAX_CONCURRENCY)


class _Reader:
    """Reads ``PROVISIONING_*`` variables and collects every problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env
        self.problems: list[str] = []

    def get(self, name: str) -> str | None:
        value = self._env.get(PREFIX + name, "").strip()
        return value or None

    def problem(self, name: str, text: str) -> None:
        self.problems.append(f"{PREFIX}{name} {text}")

    def required(self, name: str, what: str) -> str | None:
        value = self.get(name)
        if value is None:
            self.problem(name, f"is not set: set it to {what}")
        return value

    def integer(self, name: str, default: int, *, minimum: int, maximum: int) -> int:
        words = f"a whole number from {minimum} to {maximum} (default {default})"
        return self._bounded(name, default, minimum, maximum, lambda raw: int(raw.replace("_", "")), words)

    def number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        words = f"a number of seconds from {minimum:g} to {maximum:g} (default {default:g})"
        return self._bounded(name, default, minimum, maximum, float, words)

    def _bounded(
        self, name: str, default: N, minimum: N, maximum: N, parse: Callable[[str], N], words: str
    ) -> N:
        """*name* parsed and held to minimum..maximum (nan too is refused); *default* when unset or bad."""
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value: N | None = parse(raw)
        except ValueError:
            value = None
        if value is None or not minimum <= value <= maximum:
            self.problem(name, f"must be {words}")
            return default
        return value

    def raise_problems(self) -> None:
        if self.problems:
            lines = "\n".join(f"  - {p}" for p in self.problems)
            msg = f"{len(self.problems)} configuration problem(s):\n{lines}"
            raise ConfigurationError(msg)


def _read_limits(reader: _Reader) -> InputLimits:
    region = reader.get("DEFAULT_REGION")
    if region is not None:
        region = region.upper()
        if not re.fullmatch(r"[A-Z]{2}", region):
            reader.problem("DEFAULT_REGION", "must be a two-letter ISO 3166 country code such as US or NL")
            region = None
    return InputLimits(
        default_region=region,
        max_file_bytes=reader.integer("MAX_FILE_BYTES", DEFAULT_MAX_FILE_BYTES, minimum=1, maximum=2**40),
        max_rows=reader.integer("MAX_ROWS", DEFAULT_MAX_ROWS, minimum=1, maximum=100_000_000),
        paced_writes=(reader.get("WRITE_RATE") or "").lower() != "off",  # checked by _read_rate
    )


@dataclass(frozen=True)
class _Credential:
    path: Path | None = None
    password: str | None = None
    secret: str | None = None
    keyvault: KeyVaultCertificate | None = None


def _read_rate(reader: _Reader, name: str, default: float) -> float | None:
    """A per-second rate for this process: a positive number, or ``off`` (not paced; 429s still pause)."""
    raw = reader.get(name)
    if raw is None:
        return default
    if raw.lower() == "off":
        return None
    try:
        value = float(raw)
    except ValueError:
        value = 0.0
    if not 0.01 <= value <= 100_000:  # also rejects nan
        reader.problem(
            name, f"must be a number per second from 0.01 to 100000, or off (default {default:g} per second)"
        )
        return default
    return value


def _read_credential(reader: _Reader) -> _Credential:
    raw_path = reader.get("CERTIFICATE_PATH")
    password = reader.get("CERTIFICATE_PASSWORD")
    secret = reader.get("CLIENT_SECRET")
    keyvault = _read_keyvault(reader)
    given = [name for name, value in (("CERTIFICATE_PATH", raw_path), ("CLIENT_SECRET", secret)) if value]
    if reader.get("CERTIFICATE_KEYVAULT_URL") or reader.get("CERTIFICATE_NAME"):  # even when malformed
        given.append("CERTIFICATE_KEYVAULT_URL")
    if not given:
        reader.problem(
            "CERTIFICATE_PATH",
            "is not set: set it to a PEM (key and certificate) or .pfx file of the app registration, "
            "or set PROVISIONING_CERTIFICATE_KEYVAULT_URL and PROVISIONING_CERTIFICATE_NAME",
        )
    if len(given) > 1:
        reader.problem(given[1], f"is set together with {PREFIX}{given[0]}: unset one of them")
    if password is not None and raw_path is None:
        reader.problem(
            "CERTIFICATE_PASSWORD", "is set without PROVISIONING_CERTIFICATE_PATH: set the path or unset it"
        )
    if raw_path is None:
        return _Credential(password=password, secret=secret, keyvault=keyvault)
    path = Path(raw_path).expanduser()
    if not path.is_file():
        reader.problem("CERTIFICATE_PATH", f"names no file ({path}): set it to an existing PEM or .pfx file")
    elif not os.access(path, os.R_OK):
        reader.problem(
            "CERTIFICATE_PATH", f"names a file this process cannot read ({path}): fix its permissions"
        )
    return _Credential(path=path, password=password, secret=secret, keyvault=keyvault)


def _read_keyvault(reader: _Reader) -> KeyVaultCertificate | None:
    """The Key Vault certificate settings (Azure: Flex Consumption loads no platform certificates)."""
    url = reader.get("CERTIFICATE_KEYVAULT_URL")
    name = reader.get("CERTIFICATE_NAME")
    client_id = reader.get("IDENTITY_CLIENT_ID")
    if client_id is not None and not _GUID.match(client_id):
        reader.problem(
            "IDENTITY_CLIENT_ID", "must be the client id GUID of the user-assigned managed identity"
        )
    if url is None and name is None:
        return None
    if url is None or name is None:
        missing = "CERTIFICATE_KEYVAULT_URL" if url is None else "CERTIFICATE_NAME"
        reader.problem(missing, "is not set: the Key Vault URL and the certificate name go together")
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() != "https" or not parts.hostname or parts.path.strip("/"):
        reader.problem(
            "CERTIFICATE_KEYVAULT_URL", "must be the vault URL, such as https://kv-name.vault.azure.net/"
        )
        return None
    if not _KEYVAULT_NAME.match(name):
        reader.problem(
            "CERTIFICATE_NAME", "must be a Key Vault certificate name: 1-127 letters, digits, hyphens"
        )
        return None
    return KeyVaultCertificate(vault_url=f"https://{parts.netloc.lower()}/", name=name, client_id=client_id)


def _read_endpoints(reader: _Reader, tenant: str | None) -> tuple[Cloud, str, str]:
    raw_cloud = reader.get("CLOUD")
    cloud = Cloud.GLOBAL
    if raw_cloud is not None:
        try:
            cloud = Cloud(raw_cloud.lower())
        except ValueError:
            names = ", ".join(c.value for c in Cloud)
            reader.problem("CLOUD", f"is {raw_cloud!r}: set it to one of {names} (default global)")
            raw_cloud = None
    authority = _read_root(reader, "AUTHORITY_URL", forbidden_tail=(tenant or "").lower(), graph=False)
    graph = _read_root(reader, "GRAPH_URL", forbidden_tail="", graph=True)
    if raw_cloud is None:
        cloud = _infer_cloud(reader, authority, graph)
    else:
        default_authority, default_graph = CLOUD_ENDPOINTS[cloud]
        for name, given, default in (
            ("AUTHORITY_URL", authority, default_authority),
            ("GRAPH_URL", graph, default_graph),
        ):
            if given is not None and given != default:
                reader.problem(name, f"({given}) contradicts PROVISIONING_CLOUD={cloud.value}: {_FIX_HINT}")
    default_authority, default_graph = CLOUD_ENDPOINTS[cloud]
    return cloud, authority or default_authority, graph or default_graph


_FIX_HINT = "set PROVISIONING_CLOUD alone, or the URLs of one cloud (or of a test server) without it"


def _infer_cloud(reader: _Reader, authority: str | None, graph: str | None) -> Cloud:
    """No cloud named: infer it from Microsoft hosts in the URLs; custom hosts (a test server) infer nothing."""
    from_authority = _clouds_of(authority)
    from_graph = _clouds_of(graph)
    if from_authority and from_graph and not from_authority & from_graph:
        reader.problem("AUTHORITY_URL", f"and PROVISIONING_GRAPH_URL belong to different clouds: {_FIX_HINT}")
        return Cloud.GLOBAL
    candidates = from_graph or from_authority
    if len(candidates) > 1 and graph is None:
        names = " or ".join(sorted(c.value for c in candidates))
        reader.problem("AUTHORITY_URL", f"fits more than one cloud: set PROVISIONING_CLOUD to {names}")
    return min(candidates, key=list(Cloud).index) if candidates else Cloud.GLOBAL


def _clouds_of(url: str | None) -> set[Cloud]:
    if url is None:
        return set()
    host = urlsplit(url).hostname
    return {c for c, roots in CLOUD_ENDPOINTS.items() if host in {urlsplit(r).hostname for r in roots}}


def _read_root(reader: _Reader, name: str, *, forbidden_tail: str, graph: bool) -> str | None:
    raw = reader.get(name)
    if raw is None:
        return None
    parts = urlsplit(raw)
    example = "https://graph.microsoft.com" if graph else "https://login.microsoftonline.com"
    path = parts.path.rstrip("/")
    tail = path.rsplit("/", 1)[-1].lower()
    if parts.scheme.lower() != "https" or not parts.hostname:
        reader.problem(name, f"must be an https URL such as {example}")
    elif parts.query or parts.fragment:
        reader.problem(name, f"must be a root URL without query or fragment, such as {example}")
    elif graph and tail in {"v1.0", "beta"}:
        reader.problem(name, f"must be the Graph root without /{tail}, such as {example}")
    elif not graph and tail and tail in {forbidden_tail, "common", "organizations", "v2.0"}:
        reader.problem(name, f"must be the authority root without the tenant, such as {example}")
    else:
        return f"{parts.scheme.lower()}://{parts.netloc.lower()}{path}"
    return None
