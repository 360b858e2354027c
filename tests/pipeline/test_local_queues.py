"""The local runner's queue poller as the Functions host behaves: it survives storage errors, and keeps a
running message invisible (renewing it) so only a dead worker's message comes back."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
from azure.storage.queue import QueueClient

from provisioning.entrypoints.local.host import Function, QueueOptions
from provisioning.entrypoints.local.queues import QueuePoller
from provisioning.entrypoints.local.runner import DEFAULT_LOCK_S, lock_seconds

OPTIONS = QueueOptions(max_dequeue_count=5, visibility_timeout_s=0, batch_size=4, max_polling_interval_s=0.2)


def _function(queue: str, calls: list[bytes], seconds: float = 0.0) -> Function:
    def call(msg):
        calls.append(msg.get_body())
        time.sleep(seconds)

    return Function("work", {"type": "queueTrigger", "name": "msg", "queueName": queue}, call)


def _run(poller: QueuePoller) -> threading.Thread:
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    return thread


def _wait(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def test_a_running_message_is_renewed_and_not_delivered_again(storage_connection: str):
    """A function running 3x longer than the lock keeps its message: no other receive sees it, and it
    is deleted once the function returns."""
    queue, calls = f"renew-{uuid.uuid4().hex[:8]}", list[bytes]()
    poller = QueuePoller(_function(queue, calls, seconds=4.5), storage_connection, OPTIONS, lock_s=2)
    other = QueueClient.from_connection_string(storage_connection, queue)
    other.send_message("aGk=")  # base64 "hi", as the app sends
    thread = _run(poller)
    try:
        assert _wait(lambda: bool(calls))
        seen = []
        for _ in range(10):  # 4 s of looking while the function runs
            seen += list(other.receive_messages(visibility_timeout=1))
            time.sleep(0.4)
        assert _wait(lambda: other.get_queue_properties().approximate_message_count == 0)
    finally:
        poller.stop.set()
        thread.join(timeout=10)

    assert seen == []
    assert calls == [b"hi"]


def test_the_poller_keeps_polling_through_storage_errors(storage_connection: str):
    """Receives fail while the queue is gone (an error the SDK does not retry); the poller logs, waits
    and works the next message once the queue is back."""
    queue, calls = f"gone-{uuid.uuid4().hex[:8]}", list[bytes]()
    poller = QueuePoller(_function(queue, calls), storage_connection, OPTIONS, lock_s=30)
    direct = QueueClient.from_connection_string(storage_connection, queue)
    thread = _run(poller)
    try:
        direct.delete_queue()
        time.sleep(1.0)  # several failed receives
        direct.create_queue()
        direct.send_message("aGk=")
        assert _wait(lambda: calls == [b"hi"])
        assert thread.is_alive()
    finally:
        poller.stop.set()
        thread.join(timeout=10)


def test_a_slow_message_does_not_hold_back_the_next_batch(storage_connection: str):
    """As the host's newBatchThreshold: with a batch of 4 and a threshold of 2, eight quick messages
    are all done while one slow message of the first batch still runs."""
    queue, done = f"refill-{uuid.uuid4().hex[:8]}", list[bytes]()

    def call(msg):
        body = msg.get_body()
        time.sleep(4.0 if body == b"slow" else 0.05)
        done.append(body)

    function = Function("work", {"type": "queueTrigger", "name": "msg", "queueName": queue}, call)
    options = QueueOptions(
        max_dequeue_count=5, batch_size=4, max_polling_interval_s=0.2, new_batch_threshold=2
    )
    poller = QueuePoller(function, storage_connection, options, lock_s=30)
    direct = QueueClient.from_connection_string(storage_connection, queue)
    for body in ["c2xvdw=="] + ["cXVpY2s="] * 8:  # base64 "slow", then "quick" x 8
        direct.send_message(body)
    thread = _run(poller)
    try:
        assert _wait(lambda: b"slow" in done)
    finally:
        poller.stop.set()
        thread.join(timeout=10)

    assert done == [b"quick"] * 8 + [b"slow"]


@pytest.mark.parametrize(("value", "expected"), [("", DEFAULT_LOCK_S), ("6", 6)])
def test_the_lock_comes_from_the_environment(value: str, expected: int):
    """PROVISIONING_LOCAL_LOCK_S sets how long a running message is held; empty keeps the default."""
    assert lock_seconds({"PROVISIONING_LOCAL_LOCK_S": value}) == expected


def test_a_bad_lock_setting_names_the_setting():
    """A lock under 2 s or not a number is refused with the setting's name."""
    with pytest.raises(ValueError, match="PROVISIONING_LOCAL_LOCK_S"):
        lock_seconds({"PROVISIONING_LOCAL_LOCK_S": "1"})
