"""Queue triggers with the host's semantics: polling, visibility, dequeue count, poison queue.

A message is received invisible for ``lock_s`` and, like the host does, kept invisible while its
function runs (renewed every ``lock_s / 2``), so only a dead worker's message comes back, ``lock_s``
after its last renewal. Success deletes it; failure makes it visible again after host.json's
``visibilityTimeout``, and once it has been dequeued ``maxDequeueCount`` times it moves to
``<queue>-poison`` (learn.microsoft.com/azure/azure-functions/functions-bindings-storage-queue-trigger).
Storage errors never stop a poller: it logs them and polls again (the message, if any, comes back).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import azure.functions.queue as fq
from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.storage.queue import (
    BinaryBase64DecodePolicy,
    BinaryBase64EncodePolicy,
    QueueClient,
    QueueMessage,
)

from provisioning.entrypoints.local.host import Function, QueueOptions
from provisioning.storage.account import queue_retry

log = logging.getLogger(__name__)


def queue_client(connection: str, name: str, options: QueueOptions) -> QueueClient:
    """A client that sees message bodies as the host would decode them (host.json messageEncoding)."""
    retry = queue_retry()  # the app's storage retries, not the SDK's 18 s first wait
    if options.message_encoding == "base64":
        return QueueClient.from_connection_string(
            connection,
            name,
            message_encode_policy=BinaryBase64EncodePolicy(),
            message_decode_policy=BinaryBase64DecodePolicy(),
            retry_policy=retry,
        )
    return QueueClient.from_connection_string(connection, name, retry_policy=retry)


class _Lease:
    """A received message while its function runs: the latest pop receipt, guarded by one lock."""

    def __init__(self, message: QueueMessage, now: float) -> None:
        self.message = message
        self.lock = threading.Lock()
        self.renewed = now
        self.lost = False  # the receipt no longer holds (renewal found it gone): stop renewing


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
        self._leases: dict[str, _Lease] = {}
        self._leases_lock = threading.Lock()
        self._running = 0  # messages handed to the pool and not yet settled
        self._running_changed = threading.Condition()
        for client in (self.queue, self.poison):
            with contextlib.suppress(ResourceExistsError):
                client.create_queue()

    def run(self) -> None:
        """Poll with the host's back-off (100 ms after a hit, growing to maxPollingInterval when idle).

        As the host does, a new batch is fetched as soon as no more than ``newBatchThreshold`` messages
        are still running (not when the whole batch is done), so up to ``batchSize + newBatchThreshold``
        run at once and one slow chunk does not hold the others' places.
        """
        renewer = threading.Thread(target=self._renew_loop, name=f"renew-{self.function.name}", daemon=True)
        renewer.start()
        idle = 0.1
        with ThreadPoolExecutor(max_workers=self.options.batch_size + self.options.refill_at) as pool:
            while not self.stop.is_set():
                if not self._room_for_a_batch():
                    continue
                try:
                    messages = list(
                        self.queue.receive_messages(
                            messages_per_page=min(self.options.batch_size, 32),
                            max_messages=self.options.batch_size,
                            visibility_timeout=self.lock_s,
                        )
                    )
                except Exception:  # storage unreachable: the host logs and keeps polling, so do we
                    log.warning("%s: receiving from the queue failed; polling again", self.function.name)
                    self.stop.wait(self.options.max_polling_interval_s)
                    continue
                if not messages:
                    self.stop.wait(idle)
                    idle = min(idle * 2, self.options.max_polling_interval_s)
                    continue
                idle = 0.1
                for message in messages:
                    with self._running_changed:
                        self._running += 1
                    pool.submit(self._handle_counted, message)

    def _room_for_a_batch(self) -> bool:
        """Wait (up to 0.5 s, so a stop is seen) until at most ``newBatchThreshold`` messages run."""
        with self._running_changed:
            return self._running_changed.wait_for(
                lambda: self._running <= self.options.refill_at, timeout=0.5
            )

    def _handle_counted(self, message: QueueMessage) -> None:
        try:
            self.handle(message)
        finally:
            with self._running_changed:
                self._running -= 1
                self._running_changed.notify_all()

    def run_once(self) -> int:
        """Process what is visible now (tests); returns how many messages were handled."""
        messages = list(
            self.queue.receive_messages(max_messages=self.options.batch_size, visibility_timeout=self.lock_s)
        )
        for message in messages:
            self.handle(message)
        return len(messages)

    def handle(self, message: QueueMessage) -> None:
        """Run the function on one message; never raises (a storage error leaves the message to come back)."""
        body = message.content if isinstance(message.content, bytes) else str(message.content).encode()
        trigger = fq.QueueMessage(  # type: ignore[no-untyped-call]
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            pop_receipt=message.pop_receipt,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
        )
        lease = _Lease(message, time.monotonic())
        with self._leases_lock:
            self._leases[message.id] = lease
        try:
            self.function.call(**{self.function.arg: trigger})
        except Exception:
            log.exception("%s failed (dequeue count %s)", self.function.name, message.dequeue_count)
            self._settle(lease, lambda: self._failed(lease.message, body))
            return
        finally:
            with self._leases_lock:
                self._leases.pop(message.id, None)
        self._settle(lease, lambda: self.queue.delete_message(lease.message))

    def _settle(self, lease: _Lease, action: Callable[[], object]) -> None:
        """Delete or release a message under its lease; on a storage error it simply comes back later
        (a redelivered chunk is idempotent), as with the host."""
        with lease.lock:
            try:
                action()
            except Exception as exc:
                log.warning(
                    "%s: could not settle message %s (%s); it will be delivered again",
                    self.function.name,
                    lease.message.id,
                    type(exc).__name__,
                )

    def _failed(self, message: QueueMessage, body: bytes) -> None:
        if (message.dequeue_count or 0) >= self.options.max_dequeue_count:
            self.poison.send_message(body)
            self.queue.delete_message(message)
            log.warning("%s: message %s moved to the poison queue", self.function.name, message.id)
            return
        self.queue.update_message(message, visibility_timeout=int(self.options.visibility_timeout_s))

    # --- keeping running messages invisible ---------------------------------------------------------

    def _renew_loop(self) -> None:
        interval = max(min(self.lock_s / 4, 5.0), 0.2)
        while not self.stop.wait(interval):
            with self._leases_lock:
                due = [
                    lease
                    for lease in self._leases.values()
                    if not lease.lost and time.monotonic() - lease.renewed >= self.lock_s / 2
                ]
            for lease in due:
                self._renew(lease)

    def _renew(self, lease: _Lease) -> None:
        with lease.lock:
            try:
                updated = self.queue.update_message(lease.message, visibility_timeout=self.lock_s)
            except HttpResponseError as exc:
                if exc.status_code in (400, 404):
                    # Deleted meanwhile, or our receipt was superseded (an update whose answer was lost
                    # applied a new one): nothing left to hold; the message may come back, as on the host.
                    lease.lost = True
                log.warning("%s: renewing message %s failed (%s %s)", self.function.name, lease.message.id,
                            exc.status_code, getattr(exc, "error_code", None))  # fmt: skip
                return
            except Exception as exc:  # a transient storage error: try again at the next tick
                log.warning("%s: renewing message %s failed (%s)", self.function.name, lease.message.id,
                            type(exc).__name__)  # fmt: skip
                return
            lease.message.pop_receipt = updated.pop_receipt
            lease.renewed = time.monotonic()


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
