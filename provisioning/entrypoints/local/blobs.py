"""Blob-created events for the Event Grid blob trigger, which Azurite cannot emit.

The runner lists the trigger's container and delivers each blob it has no receipt for (receipts are
kept like the host's, keyed by name and ETag, in ``azure-webjobs-hosts``). A failing delivery is
retried up to ``maxDequeueCount`` times, then recorded on ``webjobs-blobtrigger-poison``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import BlobServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from provisioning.entrypoints.local.host import Function, QueueOptions
from provisioning.storage.account import blob_retry, queue_retry

log = logging.getLogger(__name__)

RECEIPTS = "azure-webjobs-hosts"
POISON = "webjobs-blobtrigger-poison"


class BlobEvents:
    """Delivers new blobs of one container to one blob-triggered function."""

    def __init__(self, function: Function, connection: str, options: QueueOptions) -> None:
        self.function = function
        self.options = options
        container, _, _ = str(function.trigger["path"]).partition("/")
        self.service = BlobServiceClient.from_connection_string(connection, retry_policy=blob_retry())
        self.container = self.service.get_container_client(container)
        self.receipts = self.service.get_container_client(RECEIPTS)
        self.poison = QueueClient.from_connection_string(
            connection, POISON, message_encode_policy=TextBase64EncodePolicy(), retry_policy=queue_retry()
        )
        self.failures: dict[str, int] = {}
        for make in (
            self.container.create_container,
            self.receipts.create_container,
            self.poison.create_queue,
        ):
            with contextlib.suppress(ResourceExistsError):
                make()

    def deliver_new(self) -> int:
        """Deliver every blob without a receipt once; returns how many were delivered successfully."""
        delivered = 0
        for blob in self.container.list_blobs():
            key = f"blobreceipts/{self.function.name}/{self.container.container_name}/{blob.name}/{blob.etag.strip(chr(34))}"
            if self.receipts.get_blob_client(key).exists():
                continue
            if self._deliver(blob.name, key, str(blob.etag)):
                delivered += 1
        return delivered

    def _deliver(self, name: str, key: str, etag: str) -> bool:
        client = self.container.get_blob_client(name)
        try:
            self.function.call(**{self.function.arg: client})
        except Exception:
            log.exception("%s failed for blob %s", self.function.name, name)
            attempts = self.failures.get(key, 0) + 1
            self.failures[key] = attempts
            if attempts < self.options.max_dequeue_count:
                return False
            self.poison.send_message(
                json.dumps({"FunctionId": self.function.name, "BlobType": "BlockBlob",
                            "ContainerName": self.container.container_name, "BlobName": name, "ETag": etag})
            )  # fmt: skip
        self.receipts.upload_blob(key, b"", overwrite=True)
        return True

    def run(self, stop: threading.Event, interval_s: float = 1.0) -> None:
        """Poll until *stop* is set."""
        while not stop.is_set():
            try:
                self.deliver_new()
            except Exception:
                log.exception("listing %s failed", self.container.container_name)
            stop.wait(interval_s)
