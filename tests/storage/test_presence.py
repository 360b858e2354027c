"""Worker presence heartbeats against Azurite: live processes are counted, stale ones are not."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from azure.storage.blob import BlobServiceClient

from provisioning.graph.pacer import Pacer
from provisioning.storage.blobs import BlobStore
from provisioning.storage.presence import Presence


def store(storage_connection: str) -> tuple[BlobStore, str]:
    name = f"presence-{uuid.uuid4().hex[:12]}"
    service = BlobServiceClient.from_connection_string(storage_connection)
    service.create_container(name)
    return BlobStore(service), name


def test_each_process_counts_every_live_heartbeat(storage_connection):
    """Two processes announcing themselves each see two live processes."""
    blobs, container = store(storage_connection)
    first, second = Presence(blobs, container, instance="a"), Presence(blobs, container, instance="b")

    first.live()
    counts = (second.live(), Presence(blobs, container, instance="a").live())

    assert counts == (2, 2)


def test_stale_heartbeats_do_not_count(storage_connection):
    """A heartbeat older than the time-to-live is a process that is gone."""
    blobs, container = store(storage_connection)
    Presence(blobs, container, instance="gone").live()
    later = datetime.now(UTC) + timedelta(seconds=120)

    count = Presence(blobs, container, instance="here", ttl_s=45, now=lambda: later).live()

    assert count == 1


def test_the_count_is_refreshed_only_after_the_interval(storage_connection):
    """Between refreshes the last count is reused, so the cost does not grow with the chunks worked."""
    blobs, container = store(storage_connection)
    clock = [0.0]
    mine = Presence(blobs, container, instance="mine", interval_s=15, clock=lambda: clock[0])
    assert mine.live() == 1
    Presence(blobs, container, instance="other").live()

    unchanged = mine.live()
    clock[0] = 16.0
    refreshed = mine.live()

    assert (unchanged, refreshed) == (1, 2)


def test_the_pacer_divides_its_rate_by_the_share():
    """With four live processes, each paces at a quarter of the configured write rate."""
    pacer = Pacer(write_rate=20.0, clock=lambda: 0.0, sleep=lambda _: None)

    pacer.set_share(4)

    assert pacer.current_write_rate == 5.0


def test_a_process_that_finds_others_holds_its_writes_until_they_have_counted_it(storage_connection):
    """The first process alone may write at once; one that joins it holds for one interval and a third,
    by when the first has refreshed its count (at most one interval later) and slowed to its share."""
    blobs, container = store(storage_connection)
    clock = [0.0]
    first = Presence(blobs, container, instance="first", interval_s=15, clock=lambda: clock[0])
    joiner = Presence(blobs, container, instance="joiner", interval_s=15, clock=lambda: clock[0])

    alone = first.share()
    joined = joiner.share()
    clock[0] = 19.0
    later = joiner.share()
    clock[0] = 21.0
    settled = joiner.share()

    assert alone == (1, 0.0)
    assert joined == (2, 20.0)
    assert later[0] == 2
    assert later[1] == pytest.approx(1.0)
    assert settled == (2, 0.0)
