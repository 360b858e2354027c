"""Queue triggers with the host's semantics: polling, visibility, dequeue count, poison queue.

A message is received invisible for ``lock_s``; success deletes it; failure makes it visible again
after host.json's ``visibilityTimeout``, and once it has been dequeued ``maxDequeueCount`` times it
moves to ``<queue>-poison`` (learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import azure.functions.queue as fq
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import (
    BinaryBase64DecodePolicy,
    BinaryBase64EncodePolicy,
    QueueClient,
    QueueMessage,
)

from provisioning.local.host import Function, QueueOptions

log = logging.getLogger(__name__)


def queue_client(connection: str, name: str, options: QueueOptions) -> QueueClient:
    """A client that sees message bodies as the host would decode them (host.json messageEncoding)."""
    if options.message_encoding == "base64":
        return QueueClient.from_connection_string(
            connection,
            name,
            message_encode_policy=BinaryBase64EncodePolicy(),
            message_decode_policy=BinaryBase64DecodePolicy(),
        )
    return QueueClient.from_connection_string(connection, name)


class QueuePoller:
    """Runs one queue-triggered function against one queue until stopped."""

    def __init__(
        self,
        function: Function,
        connection: str,
        options: QueueOptions,
        *,
        lock_s: int = 300,
        stop: threading.Event | None = None,
    ) -> None:
        self.function = function
        self.options = options
        self.lock_s = lock_s
        self.stop = stop or threading.Event()
        name = str(function.trigger["queueName"])
        self.queue = queue_client(connection, name, options)
        self.poison = queue_client(connection, f"{name}-poison", options)
        for client in (self.queue, self.poison):
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()

    def run(self) -> None:
        """Poll with the host's back-off (100 ms after a hit, growing to maxPollingInterval when idle)."""
        idle = 0.1
        with ThreadPoolExecutor(max_workers=self.options.batch_size) as pool:
            while not self.stop.is_set():
                messages = list(
                    self.queue.receive_messages(
                        messages_per_page=min(self.options.batch_size, 32),
                        max_messages=self.options.batch_size,
                        visibility_timeout=self.lock_s,
                    )
                )
                if not messages:
                    self.stop.wait(idle)
                    idle = min(idle * 2, self.options.max_polling_interval_s)
                    continue
                idle = 0.1
                list(pool.map(self.handle, messages))

    def run_once(self) -> int:
        """Process what is visible now (tests); returns how many messages were handled."""
        messages = list(
            self.queue.receive_messages(max_messages=self.options.batch_size, visibility_timeout=self.lock_s)
        )
        for message in messages:
            self.handle(message)
        return len(messages)

    def handle(self, message: QueueMessage) -> None:
        body = message.content if isinstance(message.content, bytes) else str(message.content).encode()
        trigger = fq.QueueMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            pop_receipt=message.pop_receipt,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
        )
        try:
            self.function.call(**{self.function.arg: trigger})
        except Exception:
            log.exception("%s failed (dequeue count %s)", self.function.name, message.dequeue_count)
            self._failed(message, body)
            return
        self.queue.delete_message(message)

    def _failed(self, message: QueueMessage, body: bytes) -> None:
        if (message.dequeue_count or 0) >= self.options.max_dequeue_count:
            self.poison.send_message(body)
            self.queue.delete_message(message)
            log.warning("%s: message %s moved to the poison queue", self.function.name, message.id)
            return
        self.queue.update_message(message, visibility_timeout=int(self.options.visibility_timeout_s))


def poll_forever(pollers: list[QueuePoller]) -> list[threading.Thread]:
    """Start one thread per poller; they stop when their ``stop`` event is set."""
    threads = [threading.Thread(target=p.run, name=f"queue-{p.function.name}", daemon=True) for p in pollers]
    for thread in threads:
        thread.start()
    return threads


def wait_idle(pollers: list[QueuePoller], timeout: float) -> bool:
    """True once every polled queue is empty (visible and invisible), within *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        counts = [p.queue.get_queue_properties().approximate_message_count for p in pollers]
        if not any(counts):
            return True
        time.sleep(0.2)
    return False
