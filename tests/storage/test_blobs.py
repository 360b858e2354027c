"""BlobStore and BlockWriter against Azurite: conditional JSON writes, streams, staged blocks."""

from __future__ import annotations

import uuid

import pytest
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient

from provisioning.storage.blobs import BlobStore


@pytest.fixture(name="container")
def _container(storage_connection):
    """A fresh container of its own for each test."""
    name = f"blobs-{uuid.uuid4().hex[:12]}"
    service = BlobServiceClient.from_connection_string(
        storage_connection, max_single_get_size=1024, max_chunk_get_size=1024
    )
    service.create_container(name)
    return BlobStore(service), name


def test_json_round_trips_with_its_etag(container):
    """get_json returns the value written and the ETag of that version; missing blobs are None."""
    blobs, name = container

    blobs.put_json(name, "a.json", {"n": 1, "list": [1, "x"]})
    found = blobs.get_json(name, "a.json")

    assert found is not None
    assert found[0] == {"n": 1, "list": [1, "x"]}
    assert found[1] == blobs.properties(name, "a.json").etag
    assert blobs.get_json(name, "missing.json") is None


def test_if_none_match_writes_only_once(container):
    """The first conditional write wins; the second returns False and changes nothing."""
    blobs, name = container

    first = blobs.put_json(name, "once.json", {"v": 1}, if_none_match=True)
    second = blobs.put_json(name, "once.json", {"v": 2}, if_none_match=True)

    assert (first, second) == (True, False)
    assert blobs.get_json(name, "once.json")[0] == {"v": 1}


def test_if_match_fails_on_a_stale_etag(container):
    """A write over an ETag that changed since it was read returns False."""
    blobs, name = container
    blobs.put_json(name, "cas.json", {"v": 1})
    _, etag = blobs.get_json(name, "cas.json")

    fresh = blobs.put_json(name, "cas.json", {"v": 2}, if_match=etag)
    stale = blobs.put_json(name, "cas.json", {"v": 3}, if_match=etag)

    assert (fresh, stale) == (True, False)
    assert blobs.get_json(name, "cas.json")[0] == {"v": 2}


def test_a_missing_container_is_an_error_not_a_missing_blob(container):
    """get_json raises for a container that does not exist (a deployment problem)."""
    blobs, _ = container

    with pytest.raises(ResourceNotFoundError):
        blobs.get_json("no-such-container-here", "a.json")


def test_text_exists_and_properties(container):
    """put_text writes UTF-8 with its content type; exists and properties see it."""
    blobs, name = container

    blobs.put_text(name, "t.txt", "héllo", content_type="text/plain; charset=utf-8")

    assert blobs.exists(name, "t.txt")
    assert not blobs.exists(name, "nope.txt")
    assert blobs.properties(name, "t.txt").size == 6
    assert blobs.properties(name, "nope.txt") is None


def test_open_chunks_streams_the_blob_twice_in_pieces(container):
    """Each call opens a new download that yields pieces no larger than the client's chunk size."""
    blobs, name = container
    text = "".join(f"line {n}\n" for n in range(1000))
    blobs.put_text(name, "big.txt", text, content_type="text/plain")

    reopen = blobs.open_chunks(name, "big.txt")
    first = list(reopen())
    second = list(reopen())

    assert b"".join(first).decode() == text
    assert first == second
    assert len(first) > 5
    assert max(len(piece) for piece in first) <= 1024


def test_open_chunks_refuses_to_mix_two_versions(container):
    """A blob replaced between two reads raises on the second read instead of changing under it."""
    blobs, name = container
    blobs.put_text(name, "v.txt", "one", content_type="text/plain")
    reopen = blobs.open_chunks(name, "v.txt")
    list(reopen())
    blobs.put_text(name, "v.txt", "two", content_type="text/plain")

    with pytest.raises(ResourceModifiedError):
        list(reopen())


def test_open_chunks_can_be_pinned_to_a_known_version(container):
    """With the ETag the caller already knows, even the first read refuses a newer version."""
    blobs, name = container
    blobs.put_text(name, "p.txt", "one", content_type="text/plain")
    known = blobs.properties(name, "p.txt")
    assert known is not None
    blobs.put_text(name, "p.txt", "two", content_type="text/plain")

    with pytest.raises(ResourceModifiedError):
        list(blobs.open_chunks(name, "p.txt", etag=known.etag)())


def test_block_writer_commits_several_blocks_in_order(container):
    """Text written in pieces becomes one blob made of several staged blocks, in write order."""
    blobs, name = container
    writer = blobs.block_writer(name, "report.csv", content_type="text/csv", block_bytes=1000)
    lines = [f"{n},ann{n}@contoso.test,changed,é\r\n" for n in range(500)]

    for line in lines:
        writer.write(line)
    writer.commit()

    blob = blobs._service.get_blob_client(name, "report.csv")
    committed, _ = blob.get_block_list("committed")
    assert len(committed) > 10
    assert blob.download_blob().readall().decode("utf-8") == "".join(lines)
    assert blob.get_blob_properties().content_settings.content_type == "text/csv"


def test_nothing_is_visible_before_commit_and_an_empty_commit_is_an_empty_blob(container):
    """Staged blocks are invisible until commit; committing nothing writes an empty blob."""
    blobs, name = container
    writer = blobs.block_writer(name, "late.csv", content_type="text/csv", block_bytes=10)
    writer.write("x" * 50)

    before = blobs.exists(name, "late.csv")
    writer.commit()
    empty = blobs.block_writer(name, "empty.csv", content_type="text/csv")
    empty.commit()

    assert not before
    assert blobs.properties(name, "late.csv").size == 50
    assert blobs.properties(name, "empty.csv").size == 0


def test_two_writers_on_one_blob_never_mix_blocks(container):
    """Interleaved writers never mix: the first commit wins whole and the other writer's commit fails."""
    blobs, name = container
    a = blobs.block_writer(name, "race.csv", content_type="text/csv", block_bytes=4)
    b = blobs.block_writer(name, "race.csv", content_type="text/csv", block_bytes=4)

    for _ in range(5):
        a.write("aaaa")
        b.write("bbbb")
    a.commit()

    with pytest.raises(HttpResponseError, match="block list is invalid"):
        b.commit()  # a's commit discarded b's uncommitted blocks
    assert blobs._service.get_blob_client(name, "race.csv").download_blob().readall() == b"aaaa" * 5
