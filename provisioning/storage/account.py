"""The Azure Storage connection the pipeline uses: settings read from env, SDK clients built from them.

The connection is named ``PROVISIONING_STORAGE`` and takes the two forms Azure Functions defines for a
named connection: a connection string, or identity-based ``<NAME>__blobServiceUri`` and
``<NAME>__queueServiceUri`` (learn.microsoft.com/azure/azure-functions/functions-reference#connections).
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient
from azure.storage.blob import ExponentialRetry as BlobRetry
from azure.storage.queue import ExponentialRetry as QueueRetry
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from provisioning.errors import ConfigurationError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

CONNECTION = "PROVISIONING_STORAGE"
FALLBACK_CONNECTION = "AzureWebJobsStorage"
POISON_SUFFIX = "-poison"
DEFAULT_NAMES: Mapping[str, str] = {
    "PROVISIONING_INPUT_CONTAINER": "provisioning-input",
    "PROVISIONING_REPORT_CONTAINER": "provisioning-reports",
    "PROVISIONING_STATE_CONTAINER": "provisioning-state",
    "PROVISIONING_WORK_QUEUE": "provisioning-work",
}
# Downloads stream in blocks of this size: the SDK's default first GET is 32 MiB, held in memory whole.
DOWNLOAD_BLOCK_BYTES = 4 * 1024 * 1024
# Container and queue names: 3-63 lowercase letters, digits and single hyphens, no hyphen at either end
# (learn.microsoft.com/rest/api/storageservices/naming-and-referencing-containers--blobs--and-metadata).
_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(?:-[a-z0-9]+)*$")
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


@dataclass(frozen=True)
class StorageConnection:
    """Either a connection string, or service URIs reached with an Entra identity."""

    connection_string: str | None = field(default=None, repr=False)
    blob_service_uri: str | None = None
    queue_service_uri: str | None = None
    managed_identity: bool = False  # ``__credential=managedidentity``; otherwise DefaultAzureCredential
    client_id: str | None = None  # a user-assigned managed identity


@dataclass(frozen=True)
class StorageSettings:
    """Where the pipeline keeps its inputs, reports, job state and work queue."""

    connection: StorageConnection
    connection_name: str  # the setting it came from, for messages
    input_container: str = DEFAULT_NAMES["PROVISIONING_INPUT_CONTAINER"]
    report_container: str = DEFAULT_NAMES["PROVISIONING_REPORT_CONTAINER"]
    state_container: str = DEFAULT_NAMES["PROVISIONING_STATE_CONTAINER"]
    work_queue: str = DEFAULT_NAMES["PROVISIONING_WORK_QUEUE"]

    @property
    def poison_queue(self) -> str:
        """Where the Functions host moves a work message after its last failed attempt."""
        return self.work_queue + POISON_SUFFIX

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StorageSettings:
        """Read the connection and the names; raise ``ConfigurationError`` listing every problem.

        ``PROVISIONING_STORAGE`` (either form) wins; when neither form of it is set, the Functions
        host's own ``AzureWebJobsStorage`` is used.
        """
        problems: list[str] = []
        name = CONNECTION if _has_connection(env, CONNECTION) else FALLBACK_CONNECTION
        connection = _read_connection(env, name, problems)
        names = {key: env.get(key, "").strip() or default for key, default in DEFAULT_NAMES.items()}
        for key, value in names.items():
            if not _NAME.fullmatch(value):
                problems.append(f"{key}={value!r}: use 3-63 lowercase letters, digits and single hyphens")
        queue = names["PROVISIONING_WORK_QUEUE"]
        if len(queue + POISON_SUFFIX) > 63:
            problems.append(f"PROVISIONING_WORK_QUEUE={queue!r}: at most 56 characters (+ '{POISON_SUFFIX}')")
        source = names["PROVISIONING_INPUT_CONTAINER"]
        if source in (names["PROVISIONING_REPORT_CONTAINER"], names["PROVISIONING_STATE_CONTAINER"]):
            # A report or state blob written to the input container would trigger a new job.
            problems.append(
                f"PROVISIONING_INPUT_CONTAINER={source!r}: must differ from the report/state containers"
            )
        if problems or connection is None:
            msg = "storage settings: " + "; ".join(problems)
            raise ConfigurationError(msg)
        return cls(
            connection,
            name,
            input_container=source,
            report_container=names["PROVISIONING_REPORT_CONTAINER"],
            state_container=names["PROVISIONING_STATE_CONTAINER"],
            work_queue=queue,
        )


def _sections(env: Mapping[str, str], name: str) -> dict[str, str]:
    """``NAME__key`` settings as ``{key.lower(): value}``; Functions reads these keys case-insensitively."""
    prefix = f"{name}__".lower()
    return {
        key[len(prefix) :].lower(): value.strip()
        for key, value in env.items()
        if key.lower().startswith(prefix) and value.strip()
    }


def _has_connection(env: Mapping[str, str], name: str) -> bool:
    return bool(env.get(name, "").strip()) or bool(_sections(env, name))


def _read_connection(env: Mapping[str, str], name: str, problems: list[str]) -> StorageConnection | None:
    text, sections = env.get(name, "").strip(), _sections(env, name)
    if text and sections:
        problems.append(f"{name}: set a connection string or {name}__* identity settings, not both")
        return None
    if text:
        return _connection_string(name, text, problems)
    if sections:
        return _identity(name, sections, problems)
    problems.append(
        f"{CONNECTION} is not set: give a connection string, or {CONNECTION}__blobServiceUri and "
        f"{CONNECTION}__queueServiceUri (or set {FALLBACK_CONNECTION})"
    )
    return None


def _connection_string(name: str, text: str, problems: list[str]) -> StorageConnection | None:
    pairs = dict(part.split("=", 1) for part in text.split(";") if "=" in part)
    keys = {key.strip().lower(): value.strip() for key, value in pairs.items()}
    development = keys.get("usedevelopmentstorage", "").lower() == "true"
    has_endpoints = {"blobendpoint", "queueendpoint"} <= keys.keys()
    if not (development or "accountname" in keys or has_endpoints):
        # Never echo the value: it may hold an account key.
        problems.append(f"{name}: not a storage connection string (no AccountName or endpoints)")
        return None
    return StorageConnection(connection_string=text)


def _identity(name: str, sections: Mapping[str, str], problems: list[str]) -> StorageConnection | None:
    before = len(problems)
    uris = {}
    for key in ("blobServiceUri", "queueServiceUri"):
        uri = sections.get(key.lower(), "")
        parts = urlsplit(uri)
        if not uri:
            problems.append(f"{name}__{key} is missing (identity-based connections need both service URIs)")
        elif parts.scheme != "https" or not parts.netloc:
            problems.append(f"{name}__{key}={uri!r}: must be an https:// URL")
        uris[key] = uri.rstrip("/")
    credential = sections.get("credential")
    if credential is not None and credential.lower() != "managedidentity":
        problems.append(f"{name}__credential={credential!r}: the only supported value is managedidentity")
    client_id = sections.get("clientid")
    if client_id is not None and credential is None:
        problems.append(f"{name}__clientId needs {name}__credential=managedidentity")
    if client_id is not None and not _GUID.fullmatch(client_id):
        problems.append(f"{name}__clientId={client_id!r}: must be a GUID (the identity's client id)")
    if len(problems) > before:
        return None
    return StorageConnection(
        blob_service_uri=uris["blobServiceUri"],
        queue_service_uri=uris["queueServiceUri"],
        managed_identity=credential is not None,
        client_id=client_id,
    )


# Storage retries. The SDK's default waits about 18 s before its first retry (15 s + 3^1, then 24 s and
# 42 s), so one reset connection stalls a chunk, and every chunk behind it in that thread, for 18 s.
# These start at about 3 s and double (3, 5, 9, 17, 33 s, +-1 s): a blip costs seconds, and an outage
# of about a minute is still ridden out, close to the default's 84 s in all.


def blob_retry() -> BlobRetry:
    """The blob clients' retry policy (see above)."""
    return BlobRetry(initial_backoff=1, increment_base=2, retry_total=5, random_jitter_range=1)


def queue_retry() -> QueueRetry:
    """The queue clients' retry policy, the same as ``blob_retry``."""
    return QueueRetry(initial_backoff=1, increment_base=2, retry_total=5, random_jitter_range=1)


# With its environment trusted, requests reads os.environ (proxies, CA bundles) and ~/.netrc again for
# every request (measured: about 2% of the fan-out's CPU).
def transport_options(environ: Mapping[str, str]) -> dict[str, Any]:
    """Storage client options that read the environment once instead of on every request.

    With a proxy variable set, the SDK's default stays (requests matches each URL against no_proxy).
    Otherwise the environment is not trusted per request, and a CA bundle it names
    (``REQUESTS_CA_BUNDLE``, then ``CURL_CA_BUNDLE``, as requests reads them) is passed as
    ``connection_verify``. ~/.netrc is then never read, which is wanted: an entry for the storage host
    would replace the request's signature.
    """
    if any(key.lower().endswith("_proxy") and value for key, value in environ.items()):
        return {}
    bundle = environ.get("REQUESTS_CA_BUNDLE") or environ.get("CURL_CA_BUNDLE")
    return {"use_env_settings": False, **({"connection_verify": bundle} if bundle else {})}


def build_blob_service(settings: StorageSettings) -> BlobServiceClient:
    """A blob service client for the connection; downloads stream in 4 MiB pieces."""
    connection, size = settings.connection, DOWNLOAD_BLOCK_BYTES
    if connection.connection_string is not None:
        return BlobServiceClient.from_connection_string(
            connection.connection_string,
            max_single_get_size=size,
            max_chunk_get_size=size,
            retry_policy=blob_retry(),
            **transport_options(os.environ),
        )
    assert connection.blob_service_uri is not None  # from_env guarantees one form or the other
    return BlobServiceClient(
        connection.blob_service_uri,
        credential=_credential(connection),
        max_single_get_size=size,
        max_chunk_get_size=size,
        retry_policy=blob_retry(),
        **transport_options(os.environ),
    )


def build_queue(settings: StorageSettings, name: str) -> QueueClient:
    """A queue client that writes and reads base64 text, as host.json's ``messageEncoding`` declares."""
    encode, decode = TextBase64EncodePolicy(), TextBase64DecodePolicy()
    connection = settings.connection
    if connection.connection_string is not None:
        return QueueClient.from_connection_string(
            connection.connection_string,
            name,
            message_encode_policy=encode,
            message_decode_policy=decode,
            retry_policy=queue_retry(),
            **transport_options(os.environ),
        )
    assert connection.queue_service_uri is not None
    return QueueClient(
        connection.queue_service_uri,
        name,
        credential=_credential(connection),
        message_encode_policy=encode,
        message_decode_policy=decode,
        retry_policy=queue_retry(),
        **transport_options(os.environ),
    )


def ensure_resources(settings: StorageSettings) -> None:
    """Create the three containers, the work queue and its poison queue where missing (idempotent)."""
    service = build_blob_service(settings)
    for container in dict.fromkeys(
        (settings.input_container, settings.report_container, settings.state_container)
    ):
        with contextlib.suppress(ResourceExistsError):
            service.create_container(container)
    for queue in (settings.work_queue, settings.poison_queue):
        with contextlib.suppress(ResourceExistsError):
            build_queue(settings, queue).create_queue()


@functools.cache
def _credential(connection: StorageConnection) -> TokenCredential:
    """One credential per connection, shared by its clients so they share its token cache."""
    # Imported here: azure-identity is heavy and only the identity-based form needs it.
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if connection.managed_identity:
        return ManagedIdentityCredential(client_id=connection.client_id)
    return DefaultAzureCredential()
