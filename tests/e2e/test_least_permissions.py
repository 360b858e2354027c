"""The least Graph application permissions each path needs, checked against the sandbox's role checks.

The sandbox enforces app roles per operation as graph-api.md section 5 describes them (see
tests/sandbox/permissions.py); each test seeds the demo tenant with one app holding only the roles
under test and runs the real path with a real MSAL token.

Findings (docs/deploy.md grants accordingly):
- CSV drop (queue worker, ``$batch``): ``UserAuthenticationMethod.ReadWrite.All`` alone.
- CLI and ``POST /api/provision`` (one request at a time): the same, plus ``User.Read.All`` for rows that
  set SmsSignIn or DefaultMethod by UPN, since those calls address the user by object id.
- The granular ``UserAuthMethod-Phone.ReadWrite.All`` + ``UserAuthMethod-Email.ReadWrite.All`` alone do
  not work: listing a user's methods needs ``UserAuthenticationMethod.Read.All``; with it, every row
  but those setting a default method works (``signInPreferences`` needs the broad ReadWrite role).
- Nightly sync: ``User.Read.All`` for ``/users/delta``, ``GroupMember.Read.All`` only with a group scope.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from provisioning.core.models import DesiredRow, Outcome, OutcomeKind
from provisioning.core.sync_rows import ProfilePhones, SyncSettings, sync_rows
from provisioning.csv_input.reader import parse_csv
from provisioning.entrypoints.cli import main
from provisioning.errors import GraphError
from provisioning.graph.directory import DirectoryClient
from provisioning.graph.paths import GraphPaths
from provisioning.graph.stack import build_graph_stack
from provisioning.settings import Settings
from provisioning.use_cases.executor import ChunkExecutor
from tests.conftest import SAMPLES
from tests.sandbox import Sandbox

pytestmark = pytest.mark.e2e

BROAD = "UserAuthenticationMethod.ReadWrite.All"
READ_ALL = "UserAuthenticationMethod.Read.All"
PHONE = "UserAuthMethod-Phone.ReadWrite.All"
EMAIL = "UserAuthMethod-Email.ReadWrite.All"
USERS = "User.Read.All"
MEMBERS = "GroupMember.Read.All"
SYNC_GROUP = "5e1f0c1a-0000-4000-8000-000000000001"
ENV_KEYS = ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SANDBOX_URL")


@pytest.fixture
def tenant(sandbox_state_dir: Path, monkeypatch: pytest.MonkeyPatch):
    """``tenant(*roles)``: the demo tenant with one app holding exactly *roles*, set in the environment."""

    @contextmanager
    def start(*roles: str) -> Iterator[Sandbox]:
        seed = json.loads((SAMPLES / "demo-tenant.json").read_text(encoding="utf-8"))
        seed["apps"] = [{"displayName": "least privilege", "roles": list(roles)}]
        with_phone = [u["userPrincipalName"] for u in seed["users"] if u.get("mobilePhone")]
        seed["groups"] = [{"id": SYNC_GROUP, "displayName": "sync scope", "members": with_phone[:3]}]
        with Sandbox.start(seed=seed, state_dir=sandbox_state_dir) as sb:
            for key, value in {**sb.env, "PROVISIONING_DEFAULT_REGION": "NL"}.items():
                monkeypatch.setenv(key, value)
            yield sb

    return start


def sample_rows() -> list[DesiredRow]:
    parsed = parse_csv((SAMPLES / "users.csv").read_bytes(), source="users.csv", default_region="NL")
    return list(parsed.rows)


def rows_setting(*columns: str) -> set[str]:
    """Lower-case UPNs of the sample rows with a value in any of *columns*."""
    with (SAMPLES / "users.csv").open(encoding="utf-8", newline="") as handle:
        return {r["UPN"].lower() for r in csv.DictReader(handle) if any(r[c] for c in columns)}


def run_chunks(sb: Sandbox, rows: list[DesiredRow]) -> list[Outcome]:
    """Apply *rows* as the queue worker does: chunks of 20 through ``$batch``."""
    settings = Settings.from_env({**os.environ, "PROVISIONING_WRITE_RATE": "off"})
    with build_graph_stack(settings) as stack:
        executor = ChunkExecutor(stack.batch, GraphPaths(sb.url), sb.url)
        outcomes: list[Outcome] = []
        for start in range(0, len(rows), 20):
            part = rows[start : start + 20]
            outcomes += executor.apply(part, executor.read(part), dry_run=False)
    return outcomes


def failures(outcomes: list[Outcome]) -> dict[str, str]:
    """Failed rows by lower-case UPN, with the row's error (or its first failed write's)."""
    return {
        o.row.user.lower(): o.error or next(r.error or "" for r in o.results if not r.ok)
        for o in outcomes
        if o.kind is OutcomeKind.FAILED
    }


def test_the_csv_drop_path_needs_only_user_authentication_method_readwrite_all(tenant):
    """Every sample row (SMS sign-in and default method included) works with the one broad role."""
    with tenant(BROAD) as sb:
        outcomes = run_chunks(sb, sample_rows())

    assert failures(outcomes) == {}
    assert {o.kind for o in outcomes} == {OutcomeKind.CHANGED, OutcomeKind.UNCHANGED}


def cli_apply(tmp_path: Path) -> tuple[int, dict[str, str]]:
    """Exit code and the failed rows' reasons of a CLI apply of the sample."""
    code = main(
        ["apply", str(SAMPLES / "users.csv"), "--report-dir", str(tmp_path)],
        out=io.StringIO(),
        err=io.StringIO(),
    )
    with (tmp_path / "report.csv").open(encoding="utf-8", newline="") as handle:
        report = list(csv.DictReader(handle))
    return code, {r["upn"].lower(): r["reason"] for r in report if r["outcome"] == "failed"}


def test_the_cli_path_needs_only_user_authentication_method_readwrite_all(tenant, tmp_path):
    """The CLI addresses users as the batch path does (the row's UPN, no object-id lookup), so every
    sample row, SMS sign-in and default method included, works with the one broad role."""
    with tenant(BROAD) as sb:
        code, failed = cli_apply(tmp_path / "broad")
        assert sb.stats()["writes"] > 0

    assert (code, failed) == (0, {})


def test_the_granular_pair_alone_cannot_list_methods_and_names_the_missing_permission(tenant):
    """UserAuthMethod-Phone/Email.ReadWrite.All do not cover the methods list: every row fails, saying
    which permission to add."""
    with tenant(PHONE, EMAIL) as sb:
        outcomes = run_chunks(sb, sample_rows())
        writes = sb.stats()["writes"]

    failed = failures(outcomes)
    assert len(failed) == len(outcomes)
    assert all(f"lacks the {READ_ALL} application permission" in error for error in failed.values())
    assert writes == 0


def test_the_granular_pair_with_read_all_provisions_every_row_but_a_default_change(tenant):
    """Adding UserAuthenticationMethod.Read.All, only rows that set a default method fail, naming the
    broad ReadWrite role (signInPreferences has no granular permission)."""
    with tenant(PHONE, EMAIL, READ_ALL) as sb:
        outcomes = run_chunks(sb, sample_rows())

    failed = failures(outcomes)
    assert set(failed) == rows_setting("DefaultMethod")
    assert all(f"lacks the {BROAD} application permission" in error for error in failed.values())


def sync_once(sb: Sandbox, *, group: str | None = None) -> list[Outcome]:
    """The sync's Graph calls without storage: a full delta pass, the group scope, then the rows applied."""
    settings = Settings.from_env({**os.environ, "PROVISIONING_WRITE_RATE": "off"})
    with build_graph_stack(settings) as stack:
        directory = DirectoryClient(stack.graph)
        profiles = [p for page in directory.delta_pages(None) for p in page.profiles if not p.removed]
        if group is not None:
            members = directory.group_member_ids(group)
            profiles = [p for p in profiles if p.user_id in members]
    phones = (ProfilePhones(p.upn, p.mobile_phone, p.business_phone) for p in profiles)
    return run_chunks(sb, sync_rows(phones, SyncSettings(), default_region="NL"))


def test_the_sync_needs_user_read_all_to_read_the_directory(tenant):
    with tenant(BROAD) as sb, pytest.raises(GraphError, match=f"lacks the {USERS} application permission"):
        sync_once(sb)


def test_the_sync_of_all_users_works_without_group_member_read_all(tenant):
    with tenant(BROAD, USERS) as sb:
        outcomes = sync_once(sb)

        with pytest.raises(GraphError, match=f"lacks the {MEMBERS} application permission"):
            sync_once(sb, group=SYNC_GROUP)

    assert outcomes
    assert failures(outcomes) == {}


def test_a_group_scoped_sync_works_with_group_member_read_all(tenant):
    with tenant(BROAD, USERS, MEMBERS) as sb:
        outcomes = sync_once(sb, group=SYNC_GROUP)

    assert len(outcomes) == 3
    assert failures(outcomes) == {}
