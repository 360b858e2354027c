"""Nightly sync: profile mobilePhone -> mobile method through delta queries, a job and its report."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator

import pytest

from provisioning.entrypoints.local.runner import LocalRunner
from provisioning.entrypoints.wiring import reset_services, services
from provisioning.use_cases.pipeline import run_nightly_sync
from tests.pipeline.conftest import FAST_QUEUES, Pipeline, pipeline_env
from tests.sandbox import Sandbox

pytestmark = pytest.mark.e2e

GROUP = "5b1d7e42-0c8a-4d3e-9f61-2a7c9e0b4d11"
SEED = {
    "users": [
        {"userPrincipalName": "ann@contoso.test", "mobilePhone": "+31 6 1234 5678"},
        {"userPrincipalName": "bob@contoso.test", "mobilePhone": "06-87654321"},
        {"userPrincipalName": "cat@contoso.test", "mobilePhone": "+1 425 555 0100",
         "phoneMethods": {"mobile": "+1 4255550199"}, "defaultMethod": "sms"},
        {"userPrincipalName": "dan@contoso.test"},
        {"userPrincipalName": "eve@contoso.test", "mobilePhone": "not a number"},
    ],
    "groups": [{"id": GROUP, "displayName": "MFA pilot", "members": ["ann@contoso.test", "cat@contoso.test"]}],
}  # fmt: skip


@pytest.fixture
def sync_pipeline(storage_connection, sandbox_state_dir, monkeypatch) -> Iterator[Pipeline]:
    from azure.storage.blob import BlobServiceClient

    with Sandbox.start(seed=SEED, state_dir=sandbox_state_dir) as sb:
        env = pipeline_env(storage_connection, sb)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_services()
        runner = LocalRunner(env, options=FAST_QUEUES)
        yield Pipeline(env, BlobServiceClient.from_connection_string(storage_connection), sb, runner)
        runner.stop()
        reset_services()


def sync(pipeline: Pipeline, **kwargs) -> list[dict[str, str]]:
    job = run_nightly_sync(services(), **kwargs)
    pipeline.runner.work_until_idle()
    return list(csv.DictReader(io.StringIO(pipeline.report(job, "report.csv"))))


def mobile(sb: Sandbox, upn: str):
    return sb.user(upn)["phoneMethods"].get("mobile")


def test_first_run_is_a_full_pass_that_fills_empty_mobiles_only(sync_pipeline):
    """Every user with a profile mobile is considered; a registered mobile is never overwritten."""
    rows = sync(sync_pipeline)

    outcomes = {r["upn"]: r["outcome"] for r in rows}
    assert outcomes == {
        "ann@contoso.test": "changed",
        "bob@contoso.test": "changed",
        "cat@contoso.test": "skipped",
        "eve@contoso.test": "invalid",
    }
    assert mobile(sync_pipeline.sandbox, "ann@contoso.test") == "+31 612345678"
    assert mobile(sync_pipeline.sandbox, "cat@contoso.test") == "+1 4255550199"


def test_second_run_reads_the_delta_and_touches_only_changed_users(sync_pipeline):
    """After the first run, only users whose profile phone changed are in the next job."""
    sync(sync_pipeline)
    sync_pipeline.sandbox.set_profile("dan@contoso.test", mobilePhone="+31 6 11112222")

    rows = sync(sync_pipeline)

    assert [(r["upn"], r["outcome"]) for r in rows] == [("dan@contoso.test", "changed")]


def test_an_expired_delta_link_falls_back_to_a_full_pass(sync_pipeline):
    """When Graph no longer knows the delta link, the run starts over with every user."""
    sync(sync_pipeline)
    sync_pipeline.sandbox.expire_delta_tokens()

    rows = sync(sync_pipeline)

    assert len(rows) == 4
    assert {r["outcome"] for r in rows} == {"unchanged", "skipped", "invalid"}


def test_enforce_mode_overwrites_and_group_scope_limits_users(sync_pipeline, monkeypatch):
    """In enforce mode the directory wins; with a group set, only its members are synced."""
    monkeypatch.setenv("PROVISIONING_SYNC_MODE", "enforce")
    monkeypatch.setenv("PROVISIONING_SYNC_GROUP_ID", GROUP)
    reset_services()

    rows = sync(sync_pipeline)

    assert {r["upn"]: r["outcome"] for r in rows} == {
        "ann@contoso.test": "changed",
        "cat@contoso.test": "changed",
    }
    assert mobile(sync_pipeline.sandbox, "cat@contoso.test") == "+1 4255550100"


def test_a_dry_run_changes_nothing_and_keeps_the_delta_link(sync_pipeline):
    """A dry run reports what it would do, writes nothing, and the next real run still sees everything."""
    rows = sync(sync_pipeline, dry_run=True)

    assert sync_pipeline.sandbox.stats()["writes"] == 0
    assert {r["upn"] for r in rows} == {
        "ann@contoso.test",
        "bob@contoso.test",
        "cat@contoso.test",
        "eve@contoso.test",
    }
    assert len(sync(sync_pipeline)) == 4
    state = services().blobs.get_json(sync_pipeline.env["PROVISIONING_STATE_CONTAINER"], "sync/state.json")
    assert state is not None
    assert json.dumps(state[0]).count("deltaLink") == 1
