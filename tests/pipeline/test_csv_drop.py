"""CSV drop to report through the real triggers, Azurite and the Graph sandbox."""

from __future__ import annotations

import csv
import io
import json
import os

import pytest

from function_app import app
from provisioning.entrypoints.local.host import index
from provisioning.entrypoints.wiring import reset_services, services
from provisioning.storage.jobs import JobStore
from provisioning.use_cases.pipeline import fan_out_blob, process_chunk_message
from tests.cli_runs import methods, run
from tests.conftest import SAMPLES
from tests.sandbox import Sandbox

pytestmark = pytest.mark.e2e

ENV = {
    "PROVISIONING_INPUT_CONTAINER": "in",
    "PROVISIONING_WORK_QUEUE": "work",
    "PROVISIONING_SYNC_SCHEDULE": "0 0 2 * * *",
}
# Request ids differ between runs by nature; everything else in a row must match.
VOLATILE = {"request_ids"}


def rows_of(text: str) -> list[dict[str, str]]:
    return [{k: v for k, v in r.items() if k not in VOLATILE} for r in csv.DictReader(io.StringIO(text))]


def test_the_function_app_indexes_every_trigger():
    """Indexing the app as the host does finds the five functions with their bindings."""
    names = {f.name for f in index(app, {**os.environ, **ENV})}

    assert names == {
        "csv_drop",
        "chunk_worker",
        "poison_handler",
        "provision",
        "job_status",
        "openapi",
        "nightly_sync",
    }


def test_upload_gives_the_same_outcomes_as_the_cli(pipeline, sandbox_state_dir, monkeypatch, tmp_path):
    """The report of an uploaded CSV equals the CLI's report for the same file and tenant."""
    with Sandbox.start(seed=SAMPLES / "demo-tenant.json", state_dir=sandbox_state_dir) as twin:
        for key, value in {**twin.env, "PROVISIONING_DEFAULT_REGION": "NL"}.items():
            monkeypatch.setenv(key, value)
        code, _, err = run("apply", str(SAMPLES / "users.csv"), "--report-dir", str(tmp_path))
        assert code == 0, err
        cli_after = methods(twin)
    for key, value in pipeline.env.items():
        monkeypatch.setenv(key, value)
    pipeline.upload("users.csv", (SAMPLES / "users.csv").read_bytes())

    pipeline.run()

    job = pipeline.job_of("users.csv")
    assert rows_of(pipeline.report(job, "report.csv")) == rows_of((tmp_path / "report.csv").read_text())
    assert methods(pipeline.sandbox) == cli_after
    summary = json.loads(pipeline.report(job, "summary.json"))
    assert summary["rows"] == 32


def test_the_same_blob_delivered_twice_starts_one_job(pipeline):
    """A second delivery of the same blob version enqueues nothing new."""
    pipeline.upload("users.csv", (SAMPLES / "users.csv").read_bytes())
    pipeline.run()
    writes = pipeline.sandbox.stats()["writes"]
    blob = pipeline.blobs.get_blob_client(pipeline.input, "users.csv")

    fan_out_blob(blob, services())
    pipeline.runner.work_until_idle()

    assert pipeline.sandbox.stats()["writes"] == writes


def test_a_rejected_file_yields_a_report_that_says_why(pipeline):
    """A file without a UPN column enqueues nothing and its summary names the problem."""
    pipeline.upload("bad.csv", b"Name,Mobile\nann,+31 612345678\n")

    pipeline.run()

    summary = json.loads(pipeline.report(pipeline.job_of("bad.csv"), "summary.json"))
    assert "no UPN column" in json.dumps(summary)
    assert pipeline.sandbox.stats()["requests"] == 0


def test_invalid_rows_are_reported_in_line_order_with_the_valid_ones(pipeline):
    """Invalid rows go straight to the results; the report keeps the file's line order."""
    text = (
        "UPN,Mobile\n"
        "adele.vance@contoso.test,+31 612345678\n"
        "not-a-user,+31 612345678\n"
        "alex.wilber@contoso.test,+1 425 555 0102\n"
    )
    pipeline.upload("mixed.csv", text.encode())

    pipeline.run()

    report = list(csv.DictReader(io.StringIO(pipeline.report(pipeline.job_of("mixed.csv"), "report.csv"))))
    assert [(r["line"], r["outcome"]) for r in report] == [
        ("2", "changed"),
        ("3", "invalid"),
        ("4", "changed"),
    ]


def test_a_chunk_delivered_twice_keeps_one_outcome_per_row(pipeline):
    """Working the same message twice leaves the tenant and every row's single outcome unchanged."""
    text = "UPN,Mobile\nadele.vance@contoso.test,+31 612345678\nalex.wilber@contoso.test,+1 425 555 0102\n"
    pipeline.upload("twice.csv", text.encode())
    pipeline.runner.deliver_blobs()
    message = pipeline.runner.pollers[0].queue.peek_messages()[0]
    pipeline.runner.work_until_idle()
    after_first = methods(pipeline.sandbox)

    process_chunk_message(message.content.decode(), services())

    report = list(csv.DictReader(io.StringIO(pipeline.report(pipeline.job_of("twice.csv"), "report.csv"))))
    assert [r["outcome"] for r in report] == ["changed", "changed"]
    assert methods(pipeline.sandbox) == after_first


class CrashAfterWrites(JobStore):
    """A job store whose first chunk completion dies, as a worker killed after its Graph writes."""

    crashed = False

    def complete_chunk(self, job_id, chunk, outcomes):
        if not CrashAfterWrites.crashed and outcomes:
            CrashAfterWrites.crashed = True
            raise RuntimeError("worker killed")
        return super().complete_chunk(job_id, chunk, outcomes)


def test_a_worker_killed_after_its_graph_writes_is_finished_by_the_redelivery(pipeline):
    """The retry of a chunk whose writes landed reports them as changed with the true previous values."""
    CrashAfterWrites.crashed = False
    svc = services()
    svc.jobs.__class__ = CrashAfterWrites
    pipeline.upload("users.csv", (SAMPLES / "users.csv").read_bytes())

    pipeline.run()

    job = pipeline.job_of("users.csv")
    report = {r["upn"]: r for r in csv.DictReader(io.StringIO(pipeline.report(job, "report.csv")))}
    assert CrashAfterWrites.crashed
    assert report["adele.vance@contoso.test"]["outcome"] == "changed"
    assert report["adele.vance@contoso.test"]["mobile_previous"] == ""
    assert report["diego.siciliani@contoso.test"]["mobile_previous"].lstrip("'") == "+1 4255550106"
    assert {r["outcome"] for r in report.values()} <= {"changed", "unchanged"}


class CountingCrash(JobStore):
    """A job store that records each chunk completion and dies on the first one of chunk 1."""

    completions: list[int] = []  # noqa: RUF012 (reset by the test; the instance is the wiring's)

    def complete_chunk(self, job_id, chunk, outcomes):
        if outcomes:
            CountingCrash.completions.append(chunk)
            if CountingCrash.completions.count(1) == 1 and chunk == 1:
                raise RuntimeError("worker killed")
        return super().complete_chunk(job_id, chunk, outcomes)


def test_a_message_carries_several_chunks_and_only_the_failed_one_is_redone(pipeline, demo_sandbox):
    """A 42-user file goes out as one message of three chunks; when one chunk dies, the redelivered
    message redoes that chunk alone, and every row ends with one outcome in input order."""
    users = [u["userPrincipalName"] for u in json.loads((SAMPLES / "demo-tenant.json").read_text())["users"]]
    text = "UPN,OfficePhone,ForcedUpdate\n" + "".join(
        f"{upn},+31 20 555 {n:04d},yes\n" for n, upn in enumerate(users)
    )
    CountingCrash.completions = []
    services().jobs.__class__ = CountingCrash
    pipeline.upload("three-chunks.csv", text.encode())

    pipeline.runner.deliver_blobs()
    (message,) = pipeline.runner.pollers[0].queue.peek_messages(max_messages=32)
    assert [c["chunk"] for c in json.loads(message.content.decode())["chunks"]] == [0, 1, 2]
    pipeline.runner.work_until_idle()

    assert sorted(CountingCrash.completions) == [0, 1, 1, 2]
    report = list(
        csv.DictReader(io.StringIO(pipeline.report(pipeline.job_of("three-chunks.csv"), "report.csv")))
    )
    assert [int(r["line"]) for r in report] == list(range(2, 2 + len(users)))
    assert {r["outcome"] for r in report} == {"changed"}, [
        (r["line"], r["reason"]) for r in report if r["outcome"] != "changed"
    ]


@pytest.mark.parametrize(
    ("write_rate", "chunks_per_message"), [(None, [1] * 12), ("off", [2, 10])], ids=["paced", "unpaced"]
)
def test_a_job_tapers_its_last_messages_only_while_writes_are_paced(
    pipeline, monkeypatch, write_rate, chunks_per_message
):
    """12 chunks: paced, each goes alone (the taper's last 12); unpaced, 10 + 2 as without a taper."""
    if write_rate is not None:
        monkeypatch.setenv("PROVISIONING_WRITE_RATE", write_rate)
        reset_services()
    text = "UPN,MobilePhone\n" + "".join(f"user{n}@contoso.com,+31 6 1234 {n:04d}\n" for n in range(240))
    pipeline.upload("twelve-chunks.csv", text.encode())

    pipeline.runner.deliver_blobs()
    sent = pipeline.runner.pollers[0].queue.peek_messages(max_messages=32)
    assert sorted(len(json.loads(m.content.decode())["chunks"]) for m in sent) == chunks_per_message
