"""Settings read once from the environment into frozen values; bad settings fail fast in one message.

``Settings.from_env`` is for commands that call Graph; ``Settings.offline`` returns only the
``InputLimits`` a command needs to read and check an input file without Graph (the CSV ``check``).
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from urllib.parse import urlsplit

from provisioning.errors import ConfigurationError

logger = logging.getLogger(__name__)

PREFIX = "PROVISIONING_"
DEFAULT_MAX_FILE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_ROWS = 1_000_000
DEFAULT_HTTP_TIMEOUT = 30.0
DEFAULT_MAX_ATTEMPTS = 6
DEFAULT_CONCURRENCY = 4
MAX_CONCURRENCY = 64

_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
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
        certificate, password, secret = _read_credential(reader)
        cloud, authority_root, graph_root = _read_endpoints(reader, tenant)
        timeout = reader.number("HTTP_TIMEOUT", DEFAULT_HTTP_TIMEOUT, minimum=1.0, maximum=600.0)
        attempts = reader.integer("MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS, minimum=1, maximum=20)
        concurrency = reader.integer("CONCURRENCY", DEFAULT_CONCURRENCY, minimum=1, maximum=MAX_CONCURRENCY)
        reader.raise_problems()
        if secret is not None:
            logger.warning(
                "PROVISIONING_CLIENT_SECRET is set: a client secret works but a certificate "
                "(PROVISIONING_CERTIFICATE_PATH) is recommended"
            )
        assert tenant is not None  # raise_problems() raised otherwise
        assert client_id is not None
        return cls(
            tenant_id=tenant,
            client_id=client_id,
            certificate_path=certificate,
            certificate_password=password,
            client_secret=secret,
            cloud=cloud,
            authority_root=authority_root,
            graph_root=graph_root,
            limits=limits,
            http_timeout=timeout,
            max_attempts=attempts,
            concurrency=concurrency,
            ca_file=env.get("SSL_CERT_FILE") or None,
        )

    @staticmethod
    def offline(env: Mapping[str, str]) -> InputLimits:
        """Only the input limits (region, file size, rows), for commands that never call Graph."""
        reader = _Reader(env)
        limits = _read_limits(reader)
        reader.raise_problems()
        return limits


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
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            value = minimum - 1
        if not minimum <= value <= maximum:
            self.problem(name, f"must be a whole number from {minimum} to {maximum} (default {default})")
            return default
        return value

    def number(self, name: str, default: float, *, minimum: float, maximum: float) -> float:
        raw = self.get(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = minimum - 1
        if not minimum <= value <= maximum:  # also rejects nan
            self.problem(
                name, f"must be a number of seconds from {minimum:g} to {maximum:g} (default {default:g})"
            )
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
    )


def _read_credential(reader: _Reader) -> tuple[Path | None, str | None, str | None]:
    raw_path = reader.get("CERTIFICATE_PATH")
    password = reader.get("CERTIFICATE_PASSWORD")
    secret = reader.get("CLIENT_SECRET")
    if raw_path is None and secret is None:
        reader.problem(
            "CERTIFICATE_PATH",
            "is not set: set it to a PEM (key and certificate) or .pfx file of the app registration",
        )
    if raw_path is not None and secret is not None:
        reader.problem(
            "CLIENT_SECRET", "is set together with PROVISIONING_CERTIFICATE_PATH: unset one of them"
        )
    if password is not None and raw_path is None:
        reader.problem(
            "CERTIFICATE_PASSWORD", "is set without PROVISIONING_CERTIFICATE_PATH: set the path or unset it"
        )
    if raw_path is None:
        return None, password, secret
    path = Path(raw_path).expanduser()
    if not path.is_file():
        reader.problem("CERTIFICATE_PATH", f"names no file ({path}): set it to an existing PEM or .pfx file")
    elif not os.access(path, os.R_OK):
        reader.problem(
            "CERTIFICATE_PATH", f"names a file this process cannot read ({path}): fix its permissions"
        )
    return path, password, secret


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
