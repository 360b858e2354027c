"""The local runner's blob events as the Functions host delivers them: different blobs side by side,
each blob version once."""

from __future__ import annotations

import threading
import time
import uuid

from azure.storage.blob import BlobServiceClient

from provisioning.entrypoints.local.blobs import BlobEvents
from provisioning.entrypoints.local.host import Function, QueueOptions, blob_parallelism

OPTIONS = QueueOptions(max_dequeue_count=2, visibility_timeout_s=0, batch_size=4, max_polling_interval_s=0.2)


def _wait(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_second_blob_is_delivered_while_the_first_is_still_running(storage_connection: str):
    """While the function runs for a big file, the next file dropped starts (and finishes) meanwhile;
    neither is delivered twice."""
    container = f"in-{uuid.uuid4().hex[:8]}"
    release, calls, finished = threading.Event(), list[str](), list[str]()

    def call(client):
        calls.append(client.blob_name)
        if client.blob_name == "big.csv":
            release.wait(30)
        finished.append(client.blob_name)

    function = Function(
        "csv_drop", {"type": "blobTrigger", "name": "client", "path": f"{container}/{{name}}"}, call
    )
    events = BlobEvents(function, storage_connection, OPTIONS)
    blobs = BlobServiceClient.from_connection_string(storage_connection).get_container_client(container)
    stop = threading.Event()
    thread = threading.Thread(target=events.run, args=(stop, 0.1), kwargs={"parallelism": 2}, daemon=True)
    blobs.upload_blob("big.csv", b"UPN\n")
    thread.start()
    try:
        assert _wait(lambda: calls == ["big.csv"])
        blobs.upload_blob("small.csv", b"UPN\n")

        assert _wait(lambda: finished == ["small.csv"])
        release.set()
        assert _wait(lambda: finished == ["small.csv", "big.csv"])
        time.sleep(0.5)  # a few more polls: the receipts keep both from a second delivery
        assert sorted(calls) == ["big.csv", "small.csv"]
    finally:
        release.set()
        stop.set()
        thread.join(timeout=10)


def test_the_parallelism_comes_from_host_json(tmp_path):
    """extensions.blobs.maxDegreeOfParallelism sets it; without one the local runner runs 2 at once."""
    with_setting, without = tmp_path / "a.json", tmp_path / "b.json"
    with_setting.write_text('{"extensions": {"blobs": {"maxDegreeOfParallelism": 3}}}')
    without.write_text("{}")

    assert (blob_parallelism(with_setting), blob_parallelism(without)) == (3, 2)
