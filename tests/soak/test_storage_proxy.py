"""The soak's storage proxy in front of Azurite: faithful relay, and each fault as the SDK meets it."""

from __future__ import annotations

import re
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from provisioning.storage.account import StorageSettings, build_blob_service, build_queue, ensure_resources
from provisioning.storage.blobs import BlobStore
from provisioning.storage.work_queue import WorkQueue
from soak.storage_proxy import ProxyFaults, StorageProxy


def _port(connection: str, service: str) -> int:
    match = re.search(rf"{service}Endpoint=http://127\.0\.0\.1:(\d+)/", connection)
    assert match is not None
    return int(match.group(1))


def _proxied(connection: str, blob: int, queue: int) -> str:
    return re.sub(r"QueueEndpoint=http://127\.0\.0\.1:\d+/", f"QueueEndpoint=http://127.0.0.1:{queue}/",
                  re.sub(r"BlobEndpoint=http://127\.0\.0\.1:\d+/", f"BlobEndpoint=http://127.0.0.1:{blob}/",
                         connection))  # fmt: skip


@pytest.fixture(name="proxied")
def _proxied_settings(
    storage_connection: str,
) -> Iterator[tuple[StorageSettings, StorageProxy, StorageProxy]]:
    suffix = uuid.uuid4().hex[:8]
    names = {"PROVISIONING_STATE_CONTAINER": f"state-{suffix}", "PROVISIONING_WORK_QUEUE": f"work-{suffix}",
             "PROVISIONING_INPUT_CONTAINER": f"in-{suffix}", "PROVISIONING_REPORT_CONTAINER": f"rep-{suffix}"}  # fmt: skip
    ensure_resources(StorageSettings.from_env({"PROVISIONING_STORAGE": storage_connection, **names}))
    blob = StorageProxy(_port(storage_connection, "Blob"), ProxyFaults(), seed=1, name="blob")
    queue = StorageProxy(_port(storage_connection, "Queue"), ProxyFaults(), seed=1, name="queue")
    with blob, queue:
        connection = _proxied(storage_connection, blob.port, queue.port)
        yield StorageSettings.from_env({"PROVISIONING_STORAGE": connection, **names}), blob, queue


def test_without_faults_the_proxy_relays_faithfully(proxied):
    """JSON written and read back through the proxy is intact; every request is counted."""
    settings, blob, _ = proxied
    store = BlobStore(build_blob_service(settings))

    assert store.put_json(settings.state_container, "a.json", {"x": [1, 2]}, if_none_match=True)
    found = store.get_json(settings.state_container, "a.json")

    assert found is not None
    assert found[0] == {"x": [1, 2]}
    assert blob.snapshot()["requests"] == 2


def test_a_lost_answer_was_applied_so_the_retried_conditional_create_finds_the_blob(proxied):
    """The create reached Azurite but its answer was cut: the SDK's retry meets 409 (False), and the
    blob holds what the lost request wrote."""
    settings, blob, _ = proxied
    store = BlobStore(build_blob_service(settings))
    blob.force("lost")

    created = store.put_json(settings.state_container, "b.json", {"v": 1}, if_none_match=True)

    assert created is False
    found = store.get_json(settings.state_container, "b.json")
    assert found is not None
    assert found[0] == {"v": 1}
    assert blob.snapshot()["lost"] == 1


def test_a_lost_answer_of_a_queue_send_delivers_the_message_twice(proxied):
    """The send was applied and retried: the work queue holds two copies of the message."""
    settings, _, queue = proxied
    queue.force("lost")

    WorkQueue(build_queue(settings, settings.work_queue)).send('{"job": "j"}')

    peeked = build_queue(settings, settings.work_queue).peek_messages(max_messages=5)
    assert [m.content for m in peeked] == ['{"job": "j"}', '{"job": "j"}']


def test_a_reset_request_was_not_applied_and_the_retry_succeeds_within_seconds(proxied):
    """A reset before forwarding costs one retry of the app's storage policy (about 3 s, not the SDK's 18 s)."""
    settings, blob, _ = proxied
    store = BlobStore(build_blob_service(settings))
    blob.force("reset")
    started = time.monotonic()

    assert store.put_json(settings.state_container, "c.json", {"v": 2}, if_none_match=True)

    assert time.monotonic() - started < 10
    assert blob.snapshot()["reset"] == 1


def test_an_outage_refuses_connections_then_the_port_listens_again(proxied):
    """During an outage a connect is refused by the kernel; afterwards requests go through again."""
    settings, blob, _ = proxied
    outage = threading.Thread(target=blob.outage, args=(1.5,))
    outage.start()
    time.sleep(0.3)

    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", blob.port), timeout=2).close()
    outage.join()

    assert BlobStore(build_blob_service(settings)).put_json(
        settings.state_container, "d.json", {}, if_none_match=True
    )
    assert blob.snapshot()["outages"] == 1


def test_fault_rates_are_checked():
    """Rates outside 0..1, or request rates adding up to more than 1, are refused with the reason."""
    with pytest.raises(ValueError, match=r"within 0\.\.1"):
        ProxyFaults(reset=0.6, lost=0.6)
