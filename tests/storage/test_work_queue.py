"""WorkQueue against Azurite: base64 on the wire (what the Functions host decodes), the size guard."""

from __future__ import annotations

import base64
import uuid

import pytest
from azure.storage.queue import QueueClient

from provisioning.storage.account import StorageSettings, build_queue
from provisioning.storage.work_queue import MAX_MESSAGE_BYTES, WorkQueue, encoded_size


@pytest.fixture(name="queue_name")
def _queue_name(storage_connection):
    """A fresh queue of its own for each test."""
    name = f"work-{uuid.uuid4().hex[:12]}"
    QueueClient.from_connection_string(storage_connection, name).create_queue()
    return name


@pytest.fixture(name="settings")
def _settings(storage_connection):
    return StorageSettings.from_env({"PROVISIONING_STORAGE": storage_connection})


def test_messages_are_base64_text_on_the_wire(settings, storage_connection, queue_name):
    """A raw client (no decode policy, like the host with messageEncoding base64) reads base64 of the text."""
    queue = WorkQueue(build_queue(settings, queue_name))
    text = '{"job": "j", "chunk": 0, "rows": ["é"]}'

    queue.send(text)

    raw = QueueClient.from_connection_string(storage_connection, queue_name).receive_message()
    assert raw is not None
    assert base64.b64decode(raw.content).decode("utf-8") == text


def test_the_built_queue_client_decodes_what_it_sent(settings, queue_name):
    """build_queue's client round-trips text through its base64 policies."""
    client = build_queue(settings, queue_name)

    WorkQueue(client).send_many(["one", "two", "three"])

    received = [m.content for m in client.receive_messages(messages_per_page=32)]
    assert sorted(received) == ["one", "three", "two"]


def test_a_message_at_the_limit_is_sent_and_one_byte_more_is_refused(settings, queue_name):
    """The guard allows exactly 64 KiB after base64 and raises ValueError above it."""
    queue = WorkQueue(build_queue(settings, queue_name))
    largest = "x" * (MAX_MESSAGE_BYTES // 4 * 3)

    queue.send(largest)

    assert encoded_size(largest) == MAX_MESSAGE_BYTES
    with pytest.raises(ValueError, match="exceeds the 65536-byte limit"):
        queue.send(largest + "x")


def test_send_many_counts_what_it_sent(settings, queue_name):
    """send_many returns the number of messages sent; the queue holds them all."""
    client = build_queue(settings, queue_name)

    sent = WorkQueue(client).send_many(f"m{n}" for n in range(40))

    assert sent == 40
    assert client.get_queue_properties().approximate_message_count == 40
