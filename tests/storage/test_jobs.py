"""JobStore and JobFinisher against Azurite: job records, journals, chunk completion, finishing a job, status."""

from __future__ import annotations

import base64
import csv
import io
import json
import random
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from azure.storage.queue import QueueClient

from provisioning.core.job_records import (
    ChunkMessage,
    JobKind,
    JobRecord,
    decode_message,
    encode_message,
    job_id_for_blob,
)
from provisioning.core.models import AddPhone, CurrentMethods, JobState, OutcomeKind
from provisioning.errors import InputError
from provisioning.storage.account import StorageSettings, build_blob_service, build_queue, ensure_resources
from provisioning.storage.blobs import BlobStore
from provisioning.storage.jobs import JobStore
from provisioning.storage.report_blobs import ReportStore
from provisioning.storage.work_queue import WorkQueue
from provisioning.use_cases.finish_job import JobFinisher
from tests.builders import MOBILE, A, current, desired, ok, outcome

STARTED = "2026-01-01T00:00:00+00:00"
FINISHED = datetime(2026, 1, 1, 0, 5, tzinfo=UTC)


@pytest.fixture(name="settings")
def _settings(storage_connection):
    """Settings for containers and a queue of this test's own, created."""
    suffix = uuid.uuid4().hex[:10]
    settings = StorageSettings.from_env(
        {
            "PROVISIONING_STORAGE": storage_connection,
            "PROVISIONING_INPUT_CONTAINER": f"in-{suffix}",
            "PROVISIONING_REPORT_CONTAINER": f"reports-{suffix}",
            "PROVISIONING_STATE_CONTAINER": f"state-{suffix}",
            "PROVISIONING_WORK_QUEUE": f"work-{suffix}",
        }
    )
    ensure_resources(settings)
    return settings


@pytest.fixture(name="blobs")
def _blobs(settings):
    return BlobStore(build_blob_service(settings))


@pytest.fixture(name="store")
def _store(settings, blobs):
    queue = WorkQueue(build_queue(settings, settings.work_queue))
    return JobStore(blobs, settings, queue, sleep=lambda _: None)


@pytest.fixture(name="finisher")
def _finisher(store, blobs, settings):
    return JobFinisher(store, ReportStore(blobs, settings), clock=lambda: FINISHED)


def record(job_id=None, *, dry_run=False, rows=0) -> JobRecord:
    return JobRecord(
        job_id or str(uuid.uuid4()), JobKind.CSV, "in/users.csv", STARTED, dry_run=dry_run, rows=rows
    )


def line_user(line: int) -> str:
    return f"user{line:05d}@contoso.test"


def changed(line: int):
    """An applied outcome for one row: a mobile added."""
    row = desired({MOBILE: A}, line=line, user=line_user(line))
    op = AddPhone(row.user, MOBILE, A)
    return outcome(OutcomeKind.CHANGED, row=row, ops=[op], results=[ok(op)], before=current(user=row.user))


def chunk_outcomes(chunk: int, size: int = 20):
    return [changed(2 + chunk * size + i) for i in range(size)]


def report_lines(blobs, settings, job_id) -> list[int]:
    text = blobs._service.get_blob_client(settings.report_container, f"{job_id}/report.csv").download_blob()
    rows = list(csv.DictReader(io.StringIO(text.readall().decode("utf-8"))))
    return [int(row["line"]) for row in rows]


def test_job_ids_are_stable_per_blob_version():
    """The same blob version maps to one id (quotes or not); another ETag or name to another id."""
    one = job_id_for_blob("in", "users.csv", '"0x8D1"')

    assert one == job_id_for_blob("in", "users.csv", "0x8D1")
    assert uuid.UUID(one).version == 5
    assert (
        len({one, job_id_for_blob("in", "users.csv", '"0x8D2"'), job_id_for_blob("in", "u.csv", '"0x8D1"')})
        == 3
    )


def test_the_same_blob_delivered_twice_starts_one_job(store):
    """create_job writes the record once; a second create for the same id returns False."""
    job = record(rows=3)

    first, second = store.create_job(job), store.create_job(job)

    assert (first, second) == (True, False)
    assert store.load_job(job.job_id) == job
    assert store.load_job("no-such-job") is None


def test_the_first_journal_is_the_true_before(store):
    """A journal written again by a retry keeps the first one: the methods before any write."""
    job = record()
    before = {2: current({MOBILE: A}, user="ann@contoso.test"), 3: CurrentMethods("bob@contoso.test")}
    after = {2: current({}, user="ann@contoso.test")}

    first = store.save_journal(job.job_id, 0, before)
    second = store.save_journal(job.job_id, 0, after)

    assert (first, second) == (True, False)
    assert store.load_journal(job.job_id, 0) == before
    assert store.load_journal(job.job_id, 1) is None


def test_completing_a_chunk_twice_keeps_one_outcome_set_and_finalises_once(store, blobs, settings, finisher):
    """A redelivered chunk neither replaces the first outcomes nor finalises the job again."""
    job = record(rows=2)
    store.create_job(job)
    finisher.set_chunk_count(job.job_id, 1)
    first_try = [changed(2), changed(3)]
    second_try = [outcome(OutcomeKind.FAILED, row=desired(line=n, user=line_user(n))) for n in (2, 3)]

    finalised = [
        finisher.complete_chunk(job.job_id, 0, first_try),
        finisher.complete_chunk(job.job_id, 0, second_try),
    ]

    assert finalised == [True, False]
    assert store.chunk_outcomes_exist(job.job_id, 0)
    assert store.status(job.job_id).outcomes == {
        "changed": 2,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
        "invalid": 0,
    }
    assert finisher.finish(job.job_id) is False


@pytest.mark.parametrize("count_first", [True, False], ids=["count-first", "count-races-completions"])
def test_concurrent_completions_finalise_exactly_once(store, blobs, settings, count_first, finisher):
    """8 threads complete 40 chunks (the fan-out's count racing them or not): one finalisation, every row once."""
    job = record(rows=800)
    store.create_job(job)
    if count_first:
        finisher.set_chunk_count(job.job_id, 40)
    chunks = list(range(40))
    random.Random(7).shuffle(chunks)
    start = threading.Barrier(8 if count_first else 9)

    def worker(mine: list[int]) -> list[bool]:
        start.wait()
        return [finisher.complete_chunk(job.job_id, chunk, chunk_outcomes(chunk)) for chunk in mine]

    def fan_out_end() -> list[bool]:
        start.wait()
        return [finisher.set_chunk_count(job.job_id, 40)]

    with ThreadPoolExecutor(9) as pool:
        futures = [pool.submit(worker, chunks[i::8]) for i in range(8)]
        if not count_first:
            futures.append(pool.submit(fan_out_end))
        results = [flag for future in futures for flag in future.result()]

    assert results.count(True) == 1
    assert report_lines(blobs, settings, job.job_id) == list(range(2, 802))
    status = store.status(job.job_id)
    assert status is not None
    assert (status.state, status.chunks, status.chunks_done) == (JobState.COMPLETED, 40, 40)


def test_setting_the_count_after_every_chunk_is_done_finalises(store, finisher):
    """When workers finish before the fan-out ends, set_chunk_count is the call that finalises."""
    job = record()
    store.create_job(job)

    early = [finisher.complete_chunk(job.job_id, n, chunk_outcomes(n, size=2)) for n in range(3)]
    late = finisher.set_chunk_count(job.job_id, 3, rows=6)

    assert early == [False, False, False]
    assert late is True
    assert finisher.set_chunk_count(job.job_id, 3) is False
    status = store.status(job.job_id)
    assert (status.state, status.rows, status.finished) == (
        JobState.COMPLETED,
        6,
        FINISHED.isoformat(timespec="seconds"),
    )


def test_invalid_rows_complete_their_chunk_without_the_queue(store, blobs, settings, finisher):
    """Invalid runs are recorded as outcomes; the report holds them in line order with the rest."""
    job = record()
    store.create_job(job)
    invalid = [outcome(OutcomeKind.INVALID, row=desired(line=4, user="x", errors=("UPN: missing",)))]

    finisher.complete_chunk(job.job_id, 0, [changed(2), changed(3)])
    finisher.complete_chunk(job.job_id, 1, invalid)
    finisher.complete_chunk(job.job_id, 2, [changed(5)])
    finisher.set_chunk_count(job.job_id, 3, rows=4)

    assert report_lines(blobs, settings, job.job_id) == [2, 3, 4, 5]
    summary = json.loads(
        blobs._service.get_blob_client(settings.report_container, f"{job.job_id}/summary.json")
        .download_blob()
        .readall()
    )
    assert (summary["job"], summary["state"], summary["rows"]) == (job.job_id, "completed", 4)
    assert summary["outcomes"]["invalid"] == 1
    assert summary["actions"]["add"] == 3


def test_finalisation_writes_undo_for_applied_writes_and_none_for_a_dry_run(store, blobs, settings, finisher):
    """An apply job gets undo.csv (one row per user written); a dry run gets report and summary only."""
    apply_job, dry_job = record(), record(dry_run=True)
    for job in (apply_job, dry_job):
        store.create_job(job)
        finisher.complete_chunk(job.job_id, 0, [changed(2), changed(3)])
        finisher.set_chunk_count(job.job_id, 1)

    undo = (
        blobs._service.get_blob_client(settings.report_container, f"{apply_job.job_id}/undo.csv")
        .download_blob()
        .readall()
        .decode()
    )
    assert undo.splitlines()[0].startswith("UPN,Mobile,AlternateMobile,OfficePhone,AlternateEmail")
    assert [line.split(",")[0] for line in undo.splitlines()[1:]] == [line_user(2), line_user(3)]
    assert set(store.status(dry_job.job_id).report) == {"report.csv", "summary.json"}
    assert not blobs.exists(settings.report_container, f"{dry_job.job_id}/undo.csv")


def test_a_rejected_file_gets_reasons_and_an_empty_report(store, blobs, settings, finisher):
    """JobFinisher.reject writes summary.json with the reasons and a header-only report.csv; nothing is queued."""
    job = record()

    created = finisher.reject(job, ["line 1: no UPN column", "file is not UTF-8"])
    again = finisher.reject(job, ["line 1: no UPN column", "file is not UTF-8"])

    assert (created, again) == (True, False)
    reports = blobs._service.get_container_client(settings.report_container)
    summary = json.loads(reports.get_blob_client(f"{job.job_id}/summary.json").download_blob().readall())
    assert (summary["state"], summary["errors"]) == (
        "rejected",
        ["line 1: no UPN column", "file is not UTF-8"],
    )
    report = reports.get_blob_client(f"{job.job_id}/report.csv").download_blob().readall().decode()
    assert report.startswith("line,upn,outcome,reason,")
    assert report.count("\r\n") == 1
    status = store.status(job.job_id)
    assert (status.state, status.chunks, status.chunks_done) == (JobState.REJECTED, 0, 0)
    assert set(status.report) == {"report.csv", "summary.json"}
    queue = QueueClient.from_connection_string(
        settings.connection.connection_string or "", settings.work_queue
    )
    assert queue.get_queue_properties().approximate_message_count == 0


def test_a_created_job_can_still_be_rejected_but_not_once_fanned_out(store, finisher):
    """A job created before its file was found bad becomes rejected; one that fanned out stays as it is."""
    created, fanned = record(), record()
    for job in (created, fanned):
        store.create_job(job)
    finisher.set_chunk_count(fanned.job_id, 2)

    results = [finisher.reject(created, ["bad header"]), finisher.reject(fanned, ["bad header"])]

    assert results == [True, False]
    assert store.status(created.job_id).state is JobState.REJECTED
    assert store.status(fanned.job_id).state is JobState.RUNNING


def test_status_while_running_and_after(store, finisher):
    """Status counts done chunks, their rows and applied writes while running, and gives outcome counts
    and report URLs once completed."""
    job = record(rows=60)
    store.create_job(job)
    finisher.complete_chunk(job.job_id, 1, chunk_outcomes(1))

    running = store.status(job.job_id)
    finisher.complete_chunk(job.job_id, 1, chunk_outcomes(1))  # a redelivery counts its rows once
    again = store.status(job.job_id)
    finisher.set_chunk_count(job.job_id, 3)
    finisher.complete_chunk(job.job_id, 0, chunk_outcomes(0))
    counted = store.status(job.job_id)
    finisher.complete_chunk(job.job_id, 2, chunk_outcomes(2))
    done = store.status(job.job_id)

    assert running is not None
    assert counted is not None
    assert done is not None
    assert (running.state, running.chunks, running.chunks_done, running.report) == (
        JobState.RUNNING,
        None,
        1,
        {},
    )
    assert again is not None
    assert (running.rows_done, running.writes_applied) == (again.rows_done, again.writes_applied) == (20, 20)
    assert (counted.chunks, counted.chunks_done, counted.finished) == (3, 2, None)
    assert (counted.rows_done, counted.writes_applied) == (40, 40)
    assert (done.rows_done, done.writes_applied) == (60, 60)
    assert (done.state, done.chunks_done, done.outcomes["changed"]) == (JobState.COMPLETED, 3, 60)
    assert done.report["report.csv"].endswith(f"/{job.job_id}/report.csv")
    assert store.status("no-such-job") is None


def test_finalise_refuses_a_job_with_chunks_outstanding(store, finisher):
    """Finalising before every chunk is done is a ValueError, and so is an unknown job."""
    job = record()
    store.create_job(job)
    finisher.set_chunk_count(job.job_id, 2)
    finisher.complete_chunk(job.job_id, 0, chunk_outcomes(0, size=1))

    with pytest.raises(ValueError, match="1 of 2 chunks done"):
        finisher.finish(job.job_id)
    with pytest.raises(ValueError, match="no job"):
        finisher.finish("no-such-job")


def test_a_chunk_round_trips_through_the_queue_as_the_host_would_read_it(store, settings):
    """send_work sends base64 JSON; decoding it as the Functions host does gives the chunk back."""
    job = record()
    rows = [desired({MOBILE: A}, line=n, user=line_user(n)) for n in range(2, 22)]

    store.send_work(encode_message(ChunkMessage(job.job_id, 4, True, tuple(rows))))

    raw = QueueClient.from_connection_string(settings.connection.connection_string or "", settings.work_queue)
    message = raw.receive_message()
    assert message is not None
    decoded = decode_message(base64.b64decode(message.content).decode("utf-8"))
    assert (decoded.job_id, decoded.chunk, decoded.dry_run, list(decoded.rows)) == (job.job_id, 4, True, rows)


def test_an_oversized_message_is_refused_by_the_size_guard(store):
    """Rows too large for one 64 KiB message raise ValueError rather than reaching the queue."""
    rows = [desired({MOBILE: A}, line=n, user=f"{'x' * 3000}{n}@contoso.test") for n in range(2, 22)]

    with pytest.raises(ValueError, match="exceeds the 65536-byte limit"):
        store.send_work(encode_message(ChunkMessage("job", 0, False, tuple(rows))))


def test_a_malformed_message_is_an_input_error(store):
    """decode_message raises InputError for text that is not a work message."""
    with pytest.raises(InputError):
        decode_message('{"job": 1}')


def test_ensure_resources_is_idempotent(settings, blobs):
    """A second ensure_resources (every cold start) finds everything in place and changes nothing."""
    blobs.put_text(settings.state_container, "keep.txt", "x", content_type="text/plain")

    ensure_resources(settings)

    assert blobs.exists(settings.state_container, "keep.txt")
    poison = QueueClient.from_connection_string(
        settings.connection.connection_string or "", settings.poison_queue
    )
    assert poison.get_queue_properties().name == settings.poison_queue
