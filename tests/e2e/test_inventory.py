"""The readiness inventory end to end: the CLI against the Graph sandbox, every method type Graph lists."""

from __future__ import annotations

import csv
import json
from typing import Any

import pytest

from tests.cli_runs import run
from tests.sandbox import Sandbox

pytestmark = pytest.mark.e2e

TENANT: dict[str, list[dict[str, Any]]] = {
    "users": [
        {"userPrincipalName": "passkey@contoso.test", "otherMethods": ["fido2"], "phoneMethods": {"mobile": "+1 4255550101"}},
        {"userPrincipalName": "hello@contoso.test", "otherMethods": ["windowsHelloForBusiness"]},
        {"userPrincipalName": "cert@contoso.test", "otherMethods": ["x509Certificate"]},
        {"userPrincipalName": "app@contoso.test", "otherMethods": ["microsoftAuthenticator"],
         "phoneMethods": {"mobile": "+1 4255550102"}},
        {"userPrincipalName": "oath@contoso.test", "otherMethods": ["softwareOath"]},
        {"userPrincipalName": "sms@contoso.test", "phoneMethods": {"mobile": "+1 4255550103", "office": "+1 4255550104"}},
        {"userPrincipalName": "tap@contoso.test", "otherMethods": ["temporaryAccessPass"],
         "phoneMethods": {"office": "+1 4255550105"}},
        {"userPrincipalName": "email@contoso.test", "email": "someone@fabrikam.test"},
        {"userPrincipalName": "bare@contoso.test"},
    ],
    "groups": [
        {"id": "6f1d1d43-1c1e-4a53-9a55-3f4c7b0d9a10", "displayName": "Pilot", "members": ["sms@contoso.test", "0b6c1f9e-73f5-4c64-8f0a-4b7e2d1c3a21"]},
        {"id": "0b6c1f9e-73f5-4c64-8f0a-4b7e2d1c3a21", "displayName": "Team", "members": ["passkey@contoso.test"]},
    ],
}  # fmt: skip
PILOT = "6f1d1d43-1c1e-4a53-9a55-3f4c7b0d9a10"
EXPECTED = {
    "passkey@contoso.test": "phishing-resistant",
    "hello@contoso.test": "phishing-resistant",
    "cert@contoso.test": "nothing",  # v1.0 lists no certificate methods (beta only, as the SDK's models)
    "app@contoso.test": "app-or-oath",
    "oath@contoso.test": "app-or-oath",
    "sms@contoso.test": "phone-only",
    "tap@contoso.test": "phone-only",
    "email@contoso.test": "nothing",
    "bare@contoso.test": "nothing",
}


@pytest.fixture
def tenant(sandbox_state_dir, monkeypatch):
    with Sandbox.start(seed=TENANT, state_dir=sandbox_state_dir) as sb:
        for key, value in sb.env.items():
            monkeypatch.setenv(key, value)
        yield sb


def test_every_listed_user_gets_one_line_with_their_class_and_nothing_is_written(tenant, tmp_path):
    listed = [*EXPECTED, "not a upn", "gone@contoso.test"]
    source = tmp_path / "users.csv"
    source.write_text("UPN,MobilePhone\n" + "".join(f"{u},\n" for u in listed), encoding="utf-8")
    before = tenant.users()

    code, out, err = run("inventory", str(source), "--report-dir", str(tmp_path / "out"))

    assert code == 1, err  # one invalid row, one unknown user
    with (tmp_path / "out" / "inventory.csv").open(encoding="utf-8", newline="") as handle:
        lines = list(csv.DictReader(handle))
    assert [int(r["line"]) for r in lines] == list(range(2, 2 + len(listed)))
    assert {r["upn"]: r["class"] for r in lines if r["class"]} == EXPECTED
    by_upn = {r["upn"]: r for r in lines}
    assert by_upn["sms@contoso.test"]["methods"] == "mobile;office"
    assert by_upn["tap@contoso.test"]["temporaryAccessPass"] == "registered"
    assert "not found in the tenant" in by_upn["gone@contoso.test"]["error"]
    invalid = lines[len(EXPECTED)]
    assert (invalid["upn"], invalid["class"]) == ("", "")
    assert "UPN" in invalid["error"]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["classes"] == {"phishing-resistant": 2, "app-or-oath": 2, "phone-only": 2, "nothing": 3}
    assert (summary["invalid"], summary["failed"], summary["withTemporaryAccessPass"]) == (1, 1, 1)
    assert summary["methodsReadFrom"] == "/users/{id}/authentication/methods"
    passes = (tmp_path / "out" / "phone-only.csv").read_text(encoding="utf-8").splitlines()
    assert passes == ["UPN,TemporaryAccessPass", "sms@contoso.test,once", "tap@contoso.test,once"]
    assert "2 phone-only users are blocked at sign-in from 2027-02-01" in out
    assert tenant.users() == before
    every_file = "".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").iterdir()) + out + err
    assert "4255550" not in every_file  # no phone number anywhere


def test_a_file_without_a_upn_column_is_refused_with_exit_2(tenant, tmp_path):
    source = tmp_path / "users.csv"
    source.write_text("Name\nsomeone\n", encoding="utf-8")

    code, _, err = run("inventory", str(source), "--report-dir", str(tmp_path / "out"))

    assert code == 2
    assert "users.csv" in err
    assert "UPN" in err
    assert "Traceback" not in err


def test_a_group_s_members_nested_groups_included_are_inventoried(tenant, tmp_path):
    code, _, err = run("inventory", "--group", PILOT, "--report-dir", str(tmp_path))

    assert code == 0, err
    with (tmp_path / "inventory.csv").open(encoding="utf-8", newline="") as handle:
        classes = {r["upn"]: r["class"] for r in csv.DictReader(handle)}
    assert classes == {"sms@contoso.test": "phone-only", "passkey@contoso.test": "phishing-resistant"}
    assert json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))["source"] == f"group {PILOT}"


def test_all_users_of_the_tenant_are_inventoried(tenant, tmp_path):
    code, out, err = run("inventory", "--all", "--report-dir", str(tmp_path))

    assert code == 0, err
    summary = json.loads((tmp_path / "summary.json").read_text(encoding="utf-8"))
    assert (summary["source"], summary["users"]) == ("all users", len(TENANT["users"]))
    assert f"{len(TENANT['users'])} users:" in out


def test_an_unknown_group_is_refused_with_exit_2_and_no_traceback(tenant, tmp_path):
    code, _, err = run(
        "inventory", "--group", "00000000-0000-0000-0000-000000000000", "--report-dir", str(tmp_path)
    )

    assert code == 2
    assert "cannot list the users to inventory" in err
    assert "Traceback" not in err
