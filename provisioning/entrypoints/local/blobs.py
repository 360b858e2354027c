"""Blob-created events for the Event Grid blob trigger, which Azurite cannot emit.

The runner lists the trigger's container and delivers each blob it has no receipt for (receipts are
kept like the host's, keyed by name and ETag, in ``azure-webjobs-hosts``). A failing delivery is
retried up to ``maxDequeueCount`` times, then recorded on ``webjobs-blobtrigger-poison``. While it
runs, different blobs are delivered side by side (host.json ``extensions.blobs.maxDegreeOfParallelism``),
as the host does: a big file fanning out does not hold back the next one dropped.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor

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
        """Deliver every blob without a receipt once, in turn; returns how many were delivered successfully."""
        return sum(self._deliver(name, key, etag) for name, key, etag in self._new_blobs())

    def _new_blobs(self) -> Iterator[tuple[str, str, str]]:
        """(name, receipt key, ETag) of each blob of the container without a receipt."""
        for blob in self.container.list_blobs():
            key = f"blobreceipts/{self.function.name}/{self.container.container_name}/{blob.name}/{blob.etag.strip(chr(34))}"
            if not self.receipts.get_blob_client(key).exists():
                yield blob.name, key, str(blob.etag)

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

    def run(self, stop: threading.Event, interval_s: float = 1.0, *, parallelism: int = 2) -> None:
        """Poll until *stop* is set, delivering up to *parallelism* different blobs at once."""
        running: set[str] = set()  # receipt keys being delivered; a poll meanwhile skips them
        lock = threading.Lock()

        def done(key: str) -> None:
            with lock:
                running.discard(key)

        pool = ThreadPoolExecutor(max_workers=parallelism, thread_name_prefix="blob-events")
        try:
            while not stop.is_set():
                try:
                    for name, key, etag in self._new_blobs():
                        with lock:
                            if key in running:
                                continue
                            running.add(key)
                        future: Future[bool] = pool.submit(self._deliver, name, key, etag)
                        future.add_done_callback(lambda _, key=key: done(key))  # type: ignore[misc]
                except Exception:
                    log.exception("listing %s failed", self.container.container_name)
                stop.wait(interval_s)
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
