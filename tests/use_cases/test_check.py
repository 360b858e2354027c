"""The ``check`` command's JSON and text output and its exit codes (pure)."""

from __future__ import annotations

import io
import json

import pytest

from provisioning.csv_input.reader import ParsedFile, parse_csv
from provisioning.use_cases.check import CheckedFile, check_exit_code, render_check, write_check

VALID = (
    "UPN,Mobile,Email,SmsSignIn,DefaultMethod\nann@contoso.com,+31 612345678,Ann@Fabrikam.com,ENABLE,sms\n"
)
MIXED = VALID + "bob@contoso.com,+31 6123,,,\n"
UNKNOWN_COLUMN = "UPN,Name\nann@contoso.com,Ann\n"
REJECTED = "Name,Phone\nAnn,+31 612345678\n"


def parse(text: str) -> ParsedFile:
    return parse_csv(text.encode("utf-8"), source="users.csv")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(VALID, 0, id="all-valid"),
        pytest.param(MIXED, 1, id="some-invalid"),
        pytest.param(REJECTED, 2, id="rejected"),
    ],
)
def test_exit_code_says_valid_invalid_rows_or_rejected(text, expected):
    """0 when every row is valid, 1 when some are not, 2 when the file is rejected."""
    assert check_exit_code(parse(text)) == expected


def test_json_output_has_the_documented_shape_and_key_order():
    """JSON lists every row with fixed keys in a fixed order, values normalised."""
    document = json.loads(render_check(parse(MIXED), "json"))

    assert document == {
        "accepted": True,
        "file_errors": [],
        "warnings": [],
        "rows": [
            {
                "line": 2,
                "upn": "ann@contoso.com",
                "errors": [],
                "mobile": "+31 612345678",
                "alternateMobile": None,
                "office": None,
                "email": "ann@fabrikam.com",
                "forcedUpdate": False,
                "forcedRemoval": False,
                "smsSignIn": "enable",
                "defaultMethod": "sms",
            },
            {
                "line": 3,
                "upn": "bob@contoso.com",
                "errors": ["Mobile: not a valid phone number for country code +31 (NL): too short"],
                "mobile": None,
                "alternateMobile": None,
                "office": None,
                "email": None,
                "forcedUpdate": False,
                "forcedRemoval": False,
                "smsSignIn": None,
                "defaultMethod": None,
            },
        ],
    }
    assert list(document) == ["accepted", "file_errors", "warnings", "rows"]
    assert list(document["rows"][0]) == [
        "line",
        "upn",
        "errors",
        "mobile",
        "alternateMobile",
        "office",
        "email",
        "forcedUpdate",
        "forcedRemoval",
        "smsSignIn",
        "defaultMethod",
    ]


def test_json_output_is_indented_by_two_spaces():
    """The JSON is pretty-printed with ``indent=2`` and has no trailing newline."""
    text = render_check(parse(VALID), "json")

    assert text.startswith('{\n  "accepted": true,\n  "file_errors": [],')
    assert not text.endswith("\n")


def test_json_output_for_a_rejected_file_carries_the_file_errors():
    """A rejected file has accepted false, its errors, and no rows."""
    document = json.loads(render_check(parse(REJECTED), "json"))

    assert document == {
        "accepted": False,
        "file_errors": [
            "users.csv: line 1: no UPN column (found: Name, Phone); add a UPN or UserPrincipalName column"
        ],
        "warnings": [],
        "rows": [],
    }


def test_text_output_is_an_aligned_table_then_errors_then_a_summary():
    """Text shows one aligned row per line, each row's errors, then the counts."""
    lines = render_check(parse(MIXED), "text").splitlines()

    assert lines[0].split() == [
        "line",
        "upn",
        "status",
        "mobile",
        "alternateMobile",
        "office",
        "email",
        "forcedUpdate",
        "forcedRemoval",
        "smsSignIn",
        "defaultMethod",
    ]
    assert lines[1].split() == [
        "2",
        "ann@contoso.com",
        "OK",
        "+31",
        "612345678",
        "-",
        "-",
        "ann@fabrikam.com",
        "false",
        "false",
        "enable",
        "sms",
    ]
    assert lines[2].split()[:3] == ["3", "bob@contoso.com", "INVALID"]
    assert lines[0].index("status") == lines[1].index("OK") == lines[2].index("INVALID")
    assert lines[3:] == [
        "line 3: Mobile: not a valid phone number for country code +31 (NL): too short",
        "2 rows: 1 valid, 1 invalid",
    ]


def test_text_output_prints_warnings_before_the_table():
    """Warnings come first, so they are not lost above a long table."""
    lines = render_check(parse(UNKNOWN_COLUMN), "text").splitlines()

    assert lines[0] == "warning: users.csv: line 1: ignoring unknown columns: Name"
    assert lines[1].startswith("line")
    assert lines[-1] == "1 row: 1 valid, 0 invalid"


def test_text_output_for_a_rejected_file_prints_the_errors_and_no_table():
    """A rejected file prints its errors and says so; there is no table."""
    text = render_check(parse(REJECTED), "text")

    assert text.splitlines() == [
        "error: users.csv: line 1: no UPN column (found: Name, Phone); add a UPN or UserPrincipalName column",
        "users.csv: file rejected, no rows checked",
    ]


def test_text_output_does_not_repeat_a_line_number_the_error_already_names():
    """An error that starts with its own line number is printed as is."""
    text = render_check(parse("UPN,Mobile\nann@contoso.com,,x\n"), "text")

    assert "line 2 has 3 fields, the header has 2" in text.splitlines()


def test_text_output_escapes_control_characters():
    """Unprintable characters from the file (here a bidi override) are escaped in the output."""
    text = render_check(parse("UPN,Mobile\nann\u202e@x.com,\n"), "text")

    assert "\u202e" not in text
    assert "\\u202e" in text


def many_rows(count: int) -> str:
    """A file with valid rows, rows with one error and rows with two (a duplicate user, a bad phone)."""
    lines = ["UPN,Mobile,SmsSignIn"]
    for i in range(count):
        user = "dup@contoso.com" if i % 7 == 0 else f"user{i}@contoso.com"
        phone = "+31 6123" if i % 5 == 0 else f"+31 6{10_000_000 + i}"
        lines.append(f"{user},{phone},{'enable' if i % 3 else ''}")
    return "\n".join(lines) + "\n"


def test_json_output_streamed_row_by_row_equals_the_whole_document_dumped_at_once():
    """Written row by row, the JSON is byte for byte ``json.dumps(document, indent=2)`` of the file."""
    parsed = parse(many_rows(40))
    document = json.loads(render_check(parsed, "json"))

    assert render_check(parsed, "json") == json.dumps(document, indent=2)
    assert len(document["rows"]) == 40
    rejected = parse(REJECTED)
    assert render_check(rejected, "json") == json.dumps(json.loads(render_check(rejected, "json")), indent=2)
    assert [len(r["errors"]) for r in document["rows"][:2]] == [2, 0]


def test_rows_are_read_once_and_never_held_by_the_writer():
    """``write_check`` takes the rows as a one-pass iterator (a file read again row by row)."""
    parsed = parse(many_rows(30))
    for fmt in ("json", "text"):
        out = io.StringIO()
        rows = iter(parsed.rows)
        checked = CheckedFile(parsed.source, parsed.accepted, parsed.file_errors, parsed.warnings, rows)

        code = write_check(checked, fmt, out)

        assert code == 1
        assert out.getvalue() == render_check(parsed, fmt)
        assert next(rows, None) is None


def test_text_table_cells_wait_in_the_spool_until_every_width_is_known():
    """The table's widths come from the widest cell of any row, even the last one's, so the cells wait
    in the caller's spool buffers, not in memory."""
    text = "UPN,Mobile\nann@contoso.com,+31 612345678\n" + "a-much-longer-user-name@contoso.com,\n"
    spools: list[io.StringIO] = []

    def spool() -> io.StringIO:
        spools.append(io.StringIO())
        return spools[-1]

    parsed = parse(text)
    out = io.StringIO()
    write_check(CheckedFile.of(parsed), "text", out, spool=spool)

    lines = out.getvalue().splitlines()
    assert lines[1].index("OK") == lines[2].index("OK") == len("line  a-much-longer-user-name@contoso.com  ")
    assert len(spools) == 2
