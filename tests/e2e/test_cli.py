"""The CLI end to end against the Graph sandbox: plan, apply, re-apply, undo, failures."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from provisioning.entrypoints.cli import main
from tests.cli_runs import methods, run
from tests.conftest import SAMPLES, SEED_CSV
from tests.sandbox import Sandbox

pytestmark = pytest.mark.e2e

PHONE_KINDS = ("mobile", "alternateMobile", "office")


def report_rows(directory: Path) -> list[dict[str, str]]:
    with (directory / "report.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def cell(value: str) -> str | None:
    """A report cell as a plain value (report.csv prefixes formula-like cells with ')."""
    return value.removeprefix("'") or None


def user_key(sb: Sandbox, upn_or_id: str) -> str:
    return str(sb.user(upn_or_id)["userPrincipalName"]).lower()


def test_apply_leaves_the_tenant_exactly_as_the_plan_said(demo_sandbox, sandbox_env, tmp_path):
    """Every method of every user ends as the dry-run plan's `new` value; untouched users stay as they were."""
    before = methods(demo_sandbox)
    code, _, err = run("plan", str(SAMPLES / "users.csv"), "--report-dir", str(tmp_path / "plan"))
    assert code == 0, err
    planned = report_rows(tmp_path / "plan")

    code, _, err = run("apply", str(SAMPLES / "users.csv"), "--report-dir", str(tmp_path / "apply"))

    assert code == 0, err
    after = methods(demo_sandbox)
    named = set()
    for row in planned:
        key = user_key(demo_sandbox, row["upn"])
        named.add(key)
        for kind in PHONE_KINDS:
            assert after[key]["phoneMethods"].get(kind) == cell(row[f"{kind}_new"]), (key, kind)
        assert after[key]["email"] == cell(row["email_new"]), key
        if row["defaultMethod_action"] in ("update", "unchanged"):
            assert after[key]["defaultMethod"] == row["defaultMethod_new"], key
    assert {k: v for k, v in after.items() if k not in named} == {
        k: v for k, v in before.items() if k not in named
    }


def test_every_row_gets_one_outcome_and_the_apply_changes_what_was_planned(
    demo_sandbox, sandbox_env, tmp_path
):
    """The report has one line per input row; planned changes become `changed`, nothing fails."""
    code, _, err = run("apply", str(SAMPLES / "users.csv"), "--report-dir", str(tmp_path))

    assert code == 0, err
    rows = report_rows(tmp_path)
    assert [int(r["line"]) for r in rows] == list(range(2, 34))
    outcomes = {r["outcome"] for r in rows}
    assert outcomes <= {"changed", "unchanged"}
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["outcomes"]["failed"] == 0
    stats = demo_sandbox.stats()
    assert summary["writes"]["applied"] == stats["writes"]
    assert summary["graphRequests"] == stats["requests"]


def test_second_apply_is_all_unchanged_with_zero_graph_writes(demo_sandbox, sandbox_env, tmp_path):
    """Applying the same file again reads the tenant and writes nothing."""
    run("apply", str(SAMPLES / "users.csv"), "--report-dir", str(tmp_path / "first"))
    demo_sandbox.reset_stats()

    code, out, err = run("apply", str(SAMPLES / "users.csv"), "--report-dir", str(tmp_path / "second"))

    assert code == 0, err
    assert {r["outcome"] for r in report_rows(tmp_path / "second")} == {"unchanged"}
    assert demo_sandbox.stats()["writes"] == 0
    assert "32 unchanged" in out


def test_undo_csv_restores_the_previous_state(demo_sandbox, sandbox_env, tmp_path):
    """Applying undo.csv from an apply run puts every user's methods back as they were, except a phone
    that became the default of a user who had none: Graph refuses to delete a default phone, so undo
    keeps it and says why (graph-api.md section 3)."""
    before = methods(demo_sandbox)
    run("apply", str(SAMPLES / "users.csv"), "--report-dir", str(tmp_path / "apply"))
    assert methods(demo_sandbox) != before

    code, _, err = run("apply", str(tmp_path / "apply" / "undo.csv"), "--report-dir", str(tmp_path / "undo"))

    assert code == 0, err
    after = methods(demo_sandbox)
    kept = {upn for upn in before if after[upn] != before[upn]}
    assert kept, "the sample has users whose first phone became their default"
    undo = {user_key(demo_sandbox, r["upn"]): r for r in report_rows(tmp_path / "undo") if r["upn"]}
    for upn in kept:
        assert before[upn] == {"defaultMethod": None, "email": before[upn]["email"], "phoneMethods": {}}
        (kind,) = after[upn]["phoneMethods"]
        default = after[upn]["defaultMethod"]
        assert f"default sign-in method ({default})" in undo[upn][f"{kind}_reason"]
        assert undo[upn][f"{kind}_action"] == "skip"


def test_plan_writes_nothing(demo_sandbox, sandbox_env, tmp_path):
    """`plan` reads the tenant and makes no Graph write."""
    before = methods(demo_sandbox)

    code, out, _ = run("plan", str(SAMPLES / "users.csv"))

    assert code == 0
    assert demo_sandbox.stats()["writes"] == 0
    assert methods(demo_sandbox) == before
    assert "adele.vance@contoso.test" in out


def test_rules_are_explained_and_unknown_users_fail(demo_sandbox, sandbox_env, tmp_path):
    """The rules file skips each refused change with its reason; an unknown user is a failed row."""
    code, _, _ = run("apply", str(SAMPLES / "rules.csv"), "--report-dir", str(tmp_path))

    rows = {r["upn"]: r for r in report_rows(tmp_path)}
    assert code == 1
    assert rows["nobody.here@contoso.test"]["outcome"] == "failed"
    assert "404" in rows["nobody.here@contoso.test"]["reason"]
    assert rows["rule.othernumber@contoso.test"]["mobile_reason"] == (
        "exists with another number; set ForcedUpdate to overwrite"
    )
    assert rows["rule.nomobile@contoso.test"]["alternateMobile_action"] == "skip"
    assert rows["rule.alternatestays@contoso.test"]["mobile_action"] == "skip"
    assert "default sign-in method" in rows["rule.defaultphone@contoso.test"]["mobile_reason"]
    assert rows["rule.defaultmissing@contoso.test"]["defaultMethod_action"] == "skip"
    assert rows["rule.smsnomobile@contoso.test"]["smsSignIn_action"] == "skip"
    assert rows["rule.smsnotunique@contoso.test"]["smsSignInState"] == "phoneNumberNotUnique"


def test_seed_script_file_is_applied_as_is(sandbox_state_dir, monkeypatch, tmp_path):
    """The original script's sample CSV provisions its users with Graph-form numbers."""
    seed = {
        "users": [
            {"userPrincipalName": "Johny.bravo@identity-man.eu"},
            {"userPrincipalName": "donald.duck@identity-man.eu"},
        ]
    }
    with Sandbox.start(seed=seed, state_dir=sandbox_state_dir) as sb:
        for key, value in sb.env.items():
            monkeypatch.setenv(key, value)

        code, _, err = run("apply", str(SEED_CSV), "--report-dir", str(tmp_path))

        assert code == 0, err
        assert sb.user("johny.bravo@identity-man.eu")["phoneMethods"] == {
            "mobile": "+31 612345678",
            "alternateMobile": "+31 618765432",
            "office": "+31 485123456",
        }


def test_missing_settings_fail_with_one_message_and_no_traceback(tmp_path):
    """Without tenant settings, `apply` exits 2 naming what to set."""
    code, _, err = run("apply", str(SAMPLES / "users.csv"), "--report-dir", str(tmp_path))

    assert code == 2
    assert "PROVISIONING_TENANT_ID" in err
    assert "Traceback" not in err


def test_a_rejected_file_exits_2_with_its_reason(sandbox_env, tmp_path):
    """A file with no UPN column is rejected before any Graph call."""
    bad = tmp_path / "bad.csv"
    bad.write_text("Name,Mobile\nann,+31 612345678\n", encoding="utf-8")

    code, _, err = run("apply", str(bad), "--report-dir", str(tmp_path / "r"))

    assert code == 2
    assert "bad.csv: line 1: no UPN column" in err


class Terminal(io.StringIO):
    """Captured output that says it is a terminal, as the progress bar wants."""

    def isatty(self) -> bool:
        return True


def test_plan_on_a_terminal_lists_every_row_as_its_chunk_ends_under_a_progress_bar(sandbox_env, tmp_path):
    """On a terminal, `plan` draws rows done, writes/s and the time left on stderr after each chunk of
    20 users, clears the bar before the next part of the listing, and still lists every row once."""
    users = tmp_path / "users.csv"
    users.write_text(
        "UPN,Mobile\n" + "".join(f"nobody{i}@contoso.test,+31 6{10_000_000 + i}\n" for i in range(100))
    )
    out, err = Terminal(), Terminal()

    code = main(["plan", str(users)], out=out, err=err)

    assert code == 1  # the users are not in the tenant: failed
    listing = out.getvalue()
    assert [line.split()[1] for line in listing.splitlines() if line.startswith("line ")] == [
        str(i) for i in range(2, 102)
    ]
    assert "\r" not in listing
    draws = [part for part in err.getvalue().split("\r") if "rows" in part]
    assert [part.split()[1] for part in draws] == ["20/100", "40/100", "60/100", "80/100", "100/100"]
    assert "writes/s  about" in draws[0]
    assert "done in" in draws[-1]
    assert err.getvalue().endswith("\x1b[K\n")  # the finished bar keeps its line
    assert err.getvalue().count("\r\x1b[K") == 5  # cleared before each chunk's part of the listing
