"""SMS sign-in that does not take: the phone is set, the row is `changed` with a warning that says why."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest

from tests.cli_runs import run
from tests.sandbox import Sandbox

pytestmark = pytest.mark.e2e

HOLDER = {"userPrincipalName": "holder@contoso.test", "phoneMethods": {"mobile": "+1 4255550180"},
          "smsSignInState": "ready"}  # fmt: skip
USERS = [
    HOLDER,
    {"userPrincipalName": "taken@contoso.test"},
    {"userPrincipalName": "outside@contoso.test", "inSmsSignInPolicy": False},
    {"userPrincipalName": "fine@contoso.test"},
]
FILE = (
    "UPN,MobilePhone,SmsSignIn\n"
    "taken@contoso.test,+1 4255550180,enable\n"
    "outside@contoso.test,+1 4255550181,enable\n"
    "fine@contoso.test,+1 4255550182,enable\n"
)


def _apply(
    seed: dict[str, Any], sandbox_state_dir: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[int, str, dict[str, dict[str, str]], dict[str, Any]]:
    source = tmp_path / "sms.csv"
    source.write_text(FILE, encoding="utf-8")
    with Sandbox.start(seed=seed, state_dir=sandbox_state_dir) as sb:
        for key, value in sb.env.items():
            monkeypatch.setenv(key, value)
        code, _, err = run("apply", str(source), "--report-dir", str(tmp_path / "out"))
        mobiles = {u["userPrincipalName"]: (u.get("phoneMethods") or {}).get("mobile") for u in sb.users()}
    with (tmp_path / "out" / "report.csv").open(encoding="utf-8", newline="") as handle:
        return code, err, {r["upn"]: r for r in csv.DictReader(handle)}, mobiles


def test_a_taken_number_and_a_user_outside_the_policy_are_changed_with_their_reasons(
    sandbox_state_dir, monkeypatch, tmp_path
):
    code, err, rows, mobiles = _apply({"users": USERS}, sandbox_state_dir, monkeypatch, tmp_path)

    assert code == 0, err
    assert {upn: r["outcome"] for upn, r in rows.items()} == dict.fromkeys(rows, "changed")
    assert mobiles["taken@contoso.test"] == "+1 4255550180"  # the phone method itself is set
    taken, outside, fine = rows["taken@contoso.test"], rows["outside@contoso.test"], rows["fine@contoso.test"]
    assert taken["smsSignInState"] == "phoneNumberNotUnique"
    assert "another user already uses this number for SMS sign-in" in taken["smsSignIn_reason"]
    assert "warning: SMS sign-in did not take (phoneNumberNotUnique)" in taken["reason"]
    assert outside["smsSignInState"] == "notAllowedByPolicy"
    assert "policy does not include this user" in outside["smsSignIn_reason"]
    assert fine["smsSignInState"] == "ready"
    assert "warning" not in fine["reason"]


def test_sms_sign_in_not_configured_for_the_tenant_has_its_own_reason(
    sandbox_state_dir, monkeypatch, tmp_path
):
    seed = {"smsSignInConfigured": False, "users": USERS}

    code, err, rows, _ = _apply(seed, sandbox_state_dir, monkeypatch, tmp_path)

    assert code == 0, err
    fine = rows["fine@contoso.test"]
    assert (fine["outcome"], fine["smsSignInState"]) == ("changed", "notConfigured")
    assert "turn on 'Use for sign-in'" in fine["smsSignIn_reason"]
