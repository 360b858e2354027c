"""The leak scanner of the DEBUG log scan finds what it must (so a green scan means something)."""

from __future__ import annotations

import pytest

from provisioning.core.masking import mask_log_text
from tests.leak_scanner import Needles, national_number, scan

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJl"


@pytest.fixture
def needles() -> Needles:
    found = Needles()
    found.add_csv("UPN;Mobile;OfficePhone\nann.example@contoso.test;+31 6 1234 5678;+1 (425) 555-0190\n")
    found.add_secret("s3cret-client-value", "client secret")
    return found


def kinds(text: str, needles: Needles) -> list[str]:
    return [finding.kind for finding in scan(text, needles, "sample")]


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        pytest.param("GET /users/ann.example@contoso.test/authentication", "email", id="email-in-url"),
        pytest.param("user ANN.EXAMPLE@Contoso.Test", "email", id="email-any-case"),
        pytest.param("GET /users/ann.example%40contoso.test", "email", id="email-percent-encoded"),
        pytest.param("user ann.example (domain cut)", "email local part", id="local-part-alone"),
        pytest.param("mobile +31612345678", "phone", id="e164"),
        pytest.param("mobile +31 612345678", "phone", id="graph-form"),
        pytest.param("mobile 06-1234 5678", "phone", id="national-punctuated"),
        pytest.param("body {'n': '612345678'}", "phone", id="digits-only-national"),
        pytest.param("office 1 (425) 555-0190", "phone", id="brackets"),
        pytest.param(f"token {JWT}", "jwt", id="jwt"),
        pytest.param("-----BEGIN PRIVATE KEY-----", "pem", id="pem"),
        pytest.param("https://x.blob/c?sv=2024&sig=abcdEFGH1234%3D", "sas-signature", id="sas"),
        pytest.param("AccountKey=Eby8vdM02xNOcqFlqUwJPLlm==;", "account-key", id="account-key"),
        pytest.param("Authorization: Bearer abcdefgh.ijk", "bearer", id="bearer"),
        pytest.param("GET /api/provision?code=abcdefgh12345", "function-key-query", id="function-key"),
        pytest.param("secret s3cret-client-value seen", "secret", id="known-secret"),
    ],
)
def test_the_scanner_finds_a_planted_leak(needles, line, kind):
    """Each kind of leak, planted in a log line, is reported with its kind."""
    assert kind in kinds(f"2026-01-01 12:00:00,001 123 DEBUG x: {line}", needles)


def test_the_scanner_reports_source_and_line_with_the_value_masked(needles):
    """A finding says where; it shows the needle masked, since a test report is a log too."""
    findings = scan("fine\nuser ann.example@contoso.test\n", needles, "runner.log")

    assert next((f.source, f.line, f.kind, f.what) for f in findings) == (
        "runner.log",
        2,
        "email",
        "a***@contoso.test",
    )


def test_masked_log_text_passes_the_scan(needles):
    """What the log filter writes for the same leaks is clean: masking and scanner agree."""
    leaky = (
        "GET /users/ann.example%40contoso.test/x user ann.example@contoso.test mobile +31 6 1234 5678 "
        f"office +1 (425) 555-0190 0612345678 Authorization: Bearer {JWT} sig=abcdEFGH1234 "
        "AccountKey=Eby8vdM02xNOcqFlqUwJPLlm== -----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----"
    )

    assert kinds(leaky, needles) != []
    assert kinds(mask_log_text(leaky, ("s3cret-client-value",)), needles) == []


def test_log_noise_is_not_a_phone(needles):
    """Timestamps, ports, GUIDs and sizes do not match a national number."""
    line = (
        "2026-11-25 22:08:13,453 4711 DEBUG urllib3: https://127.0.0.1:43319 "
        '"GET /v1.0/users/90a62295-d30e-53a1-8fda-3e945bb81935 HTTP/1.1" 200 1544'
    )

    assert kinds(line, needles) == []


@pytest.mark.parametrize(
    ("value", "number"),
    [
        ("+31 6 1234 5678", "612345678"),
        ("0031 6 1234 5670", "612345670"),
        ("06-12345671", "612345671"),
        ("+1 425 555 0121 ext. 23", "4255550121"),
        ("+31 12", None),
    ],
)
def test_numbers_become_their_national_digits(value, number):
    """Every written form of a number reduces to the digits the scan looks for; short ones are skipped."""
    assert national_number(value) == number
