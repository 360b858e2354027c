"""Readiness classes for 2027-02-01 and the inventory files (core.readiness)."""

from __future__ import annotations

import csv
import io

import pytest

from provisioning.core.models import CurrentMethods, DesiredRow, MethodKind
from provisioning.core.readiness import InventoryLine, Readiness, classify, method_names, write_inventory


def _methods(*others: str, phones: tuple[MethodKind, ...] = (), email: str | None = None) -> CurrentMethods:
    return CurrentMethods(
        user="a@contoso.test", phones={k: "+1 4255550100" for k in phones}, email=email, other_methods=others
    )


@pytest.mark.parametrize(
    ("methods", "expected"),
    [
        pytest.param(
            _methods("fido2", phones=(MethodKind.MOBILE,)), Readiness.PHISHING_RESISTANT, id="passkey"
        ),
        pytest.param(_methods("windowsHelloForBusiness"), Readiness.PHISHING_RESISTANT, id="hello"),
        pytest.param(_methods("x509Certificate", "softwareOath"), Readiness.PHISHING_RESISTANT, id="cert"),
        pytest.param(
            _methods("microsoftAuthenticator", phones=(MethodKind.MOBILE,)),
            Readiness.APP_OR_OATH,
            id="authenticator",
        ),
        pytest.param(_methods("hardwareOath"), Readiness.APP_OR_OATH, id="hardware-oath"),
        pytest.param(_methods(phones=(MethodKind.OFFICE,)), Readiness.PHONE_ONLY, id="office-phone"),
        pytest.param(
            _methods("temporaryAccessPass", phones=(MethodKind.MOBILE,)),
            Readiness.PHONE_ONLY,
            id="a-pass-is-no-method-to-sign-in-with",
        ),
        pytest.param(_methods(email="a@example.com"), Readiness.NOTHING, id="email-is-not-mfa"),
        pytest.param(_methods("someFutureMethod"), Readiness.NOTHING, id="unknown-types-prove-nothing"),
    ],
)
def test_a_user_is_in_the_strongest_class_their_methods_reach(methods, expected):
    assert classify(methods) is expected


def test_methods_are_named_by_kind_and_never_by_number():
    methods = _methods(
        "microsoftAuthenticator", "microsoftAuthenticator", phones=(MethodKind.OFFICE, MethodKind.MOBILE)
    )

    assert method_names(methods) == ["mobile", "office", "microsoftAuthenticator"]


def test_every_row_gets_one_line_and_only_phone_only_users_go_to_the_pass_file():
    rows = [DesiredRow(2, "phone@contoso.test"), DesiredRow(3, "", errors=("UPN: bad",)),
            DesiredRow(4, "=app@contoso.test"), DesiredRow(5, "gone@contoso.test")]  # fmt: skip
    lines = [
        InventoryLine.of(rows[0], _methods("temporaryAccessPass", phones=(MethodKind.MOBILE,))),
        InventoryLine(rows[1], error="UPN: bad"),
        InventoryLine.of(rows[2], _methods("microsoftAuthenticator")),
        InventoryLine(rows[3], error="read methods: the user does not exist"),
    ]
    inventory, passes = io.StringIO(), io.StringIO()

    counts = write_inventory([lines[:2], lines[2:]], inventory, passes)

    report = list(csv.DictReader(io.StringIO(inventory.getvalue())))
    assert [(r["line"], r["upn"], r["class"], r["temporaryAccessPass"]) for r in report] == [
        ("2", "phone@contoso.test", "phone-only", "registered"),
        ("3", "", "", ""),
        ("4", "'=app@contoso.test", "app-or-oath", ""),  # formula-safe
        ("5", "gone@contoso.test", "", ""),
    ]
    assert "+1" not in inventory.getvalue()
    assert passes.getvalue() == "UPN,TemporaryAccessPass\r\nphone@contoso.test,once\r\n"
    document = counts.document(source="f.csv", read_from="x", started="s", finished="f")
    assert document["classes"] == {"phishing-resistant": 0, "app-or-oath": 1, "phone-only": 1, "nothing": 0}
    assert (document["users"], document["withTemporaryAccessPass"], document["invalid"], document["failed"]) == (
        2, 1, 1, 1,
    )  # fmt: skip
