"""A small typed adapter over one ``BlobServiceClient``: JSON with ETag conditions, text, streams.

Condition failures (409 "already exists", 412 "condition not met") come back as ``False``; every
other storage error is raised as the SDK's ``HttpResponseError``.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobBlock, BlobClient, BlobServiceClient, ContentSettings

from provisioning.core.serialization import dumps

JSON_CONTENT = "application/json"
BLOCK_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class BlobProperties:
    """What the pipeline needs to know about a blob without reading it."""

    etag: str
    size: int


class BlobStore:
    """Blob reads and writes for the pipeline, over one service client (thread-safe, as the SDK is)."""

    def __init__(self, service: BlobServiceClient) -> None:
        self._service = service

    def _blob(self, container: str, name: str) -> BlobClient:
        return self._service.get_blob_client(container, name)

    def url(self, container: str, name: str) -> str:
        """The blob's URL (without any credential)."""
        return self._blob(container, name).url

    def get_json(self, container: str, name: str) -> tuple[object, str] | None:
        """The blob's JSON value and ETag, or None when the blob does not exist.

        A missing container raises: it is a deployment problem, not a missing record.
        """
        try:
            download = self._blob(container, name).download_blob()
        except ResourceNotFoundError as exc:
            if getattr(exc, "error_code", None) == "ContainerNotFound":
                raise
            return None
        value: object = json.loads(download.readall())
        return value, _etag(download.properties.etag)

    def put_json(
        self,
        container: str,
        name: str,
        value: object,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
    ) -> bool:
        """Write *value* as compact JSON; False when the condition failed (409/412).

        *if_none_match* writes only a blob that does not exist yet; *if_match* only over that ETag.
        """
        if if_none_match and if_match is not None:
            msg = "put_json: give if_none_match or if_match, not both"
            raise ValueError(msg)
        conditions: dict[str, Any] = {"overwrite": not if_none_match}
        if if_match is not None:
            conditions |= {"etag": if_match, "match_condition": MatchConditions.IfNotModified}
        data = dumps(value).encode("utf-8")
        try:
            self._blob(container, name).upload_blob(
                data, content_settings=ContentSettings(content_type=JSON_CONTENT), **conditions
            )
        except (ResourceExistsError, ResourceModifiedError):
            return False
        return True

    def put_text(self, container: str, name: str, text: str, *, content_type: str) -> None:
        """Write (or overwrite) a small text blob, UTF-8 encoded."""
        self._blob(container, name).upload_blob(
            text.encode("utf-8"),
            overwrite=True,
            content_settings=ContentSettings(content_type=content_type),
        )

    def modified_since(self, container: str, prefix: str, since: datetime) -> list[str]:
        """Names of blobs under *prefix* last written at or after *since* (a listing: use sparingly)."""
        listing = self._service.get_container_client(container).list_blobs(name_starts_with=prefix)
        return [b.name for b in listing if b.last_modified is not None and b.last_modified >= since]

    def exists(self, container: str, name: str) -> bool:
        """Whether the blob exists (False too when the container does not)."""
        return bool(self._blob(container, name).exists())

    def properties(self, container: str, name: str) -> BlobProperties | None:
        """The blob's ETag and size, or None when it does not exist."""
        try:
            props = self._blob(container, name).get_blob_properties()
        except ResourceNotFoundError:
            return None
        return BlobProperties(_etag(props.etag), int(props.size))

    def open_chunks(
        self, container: str, name: str, *, etag: str | None = None
    ) -> Callable[[], Iterable[bytes]]:
        """A function that opens a fresh streaming download of the blob on every call.

        Each call yields the content in pieces of at most 4 MiB (as the client was built), so a
        reader can read a large blob twice without holding it. Every call reads the version with
        *etag*, or, without one, the version the first call saw: if the blob changed, the download
        raises ``ResourceModifiedError`` instead of mixing two versions.
        """
        blob = self._blob(container, name)
        seen: list[str] = [] if etag is None else [etag]

        def open_() -> Iterable[bytes]:
            if not seen:
                download = blob.download_blob()
                seen.append(download.properties.etag)
            else:
                download = blob.download_blob(etag=seen[0], match_condition=MatchConditions.IfNotModified)
            return download.chunks()

        return open_

    def block_writer(
        self, container: str, name: str, *, content_type: str, block_bytes: int = BLOCK_BYTES
    ) -> BlockWriter:
        """A writer that builds the blob from staged blocks; nothing is visible until ``commit``."""
        return BlockWriter(self._blob(container, name), content_type=content_type, block_bytes=block_bytes)


class BlockWriter:
    """Text written in pieces, staged as blocks of about *block_bytes*, committed as one blob.

    At most one block's worth of text is held in memory. Block ids carry a per-writer prefix, so two
    writers racing on one blob never mix their blocks: the first commit wins whole, and discards the
    other writer's uncommitted blocks, whose commit then fails (``InvalidBlockList``).
    """

    def __init__(self, blob: BlobClient, *, content_type: str, block_bytes: int = BLOCK_BYTES) -> None:
        self._blob = blob
        self._content_type = content_type
        self._block_bytes = block_bytes
        self._prefix = uuid.uuid4().hex
        self._buffer = bytearray()
        self._blocks: list[BlobBlock] = []
        self.size = 0

    def write(self, text: str) -> None:
        """Append *text*; stage a block once the buffer reaches the block size."""
        self._buffer += text.encode("utf-8")
        if len(self._buffer) >= self._block_bytes:
            self._stage()

    def commit(self) -> None:
        """Stage what is buffered and commit every block, in write order, as the blob's content."""
        if self._buffer:
            self._stage()
        self._blob.commit_block_list(
            self._blocks, content_settings=ContentSettings(content_type=self._content_type)
        )

    def _stage(self) -> None:
        # Every id of a blob must have the same length; the SDK base64-encodes it for the wire.
        block_id = f"{self._prefix}-{len(self._blocks):08d}"
        self._blob.stage_block(block_id, bytes(self._buffer))
        self._blocks.append(BlobBlock(block_id))
        self.size += len(self._buffer)
        self._buffer.clear()


def _etag(value: str | None) -> str:
    if value is None:  # pragma: no cover - the service always sends one
        msg = "the storage service returned no ETag"
        raise RuntimeError(msg)
    return value
