"""Reading admins' CSV files: encodings, delimiters, quoting, columns, cells and limits (pure)."""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path
from typing import Literal

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from provisioning.core.job_records import RawRow
from provisioning.core.models import DefaultMethod, DesiredRow, MethodKind, SmsSignIn
from provisioning.csv_input.reader import (
    ParsedFile,
    ReaderLimits,
    iter_raw_rows,
    parse_csv,
    parse_raw,
    scan_csv,
)
from provisioning.csv_input.records import ColumnMap, map_columns, parse_record
from tests.conftest import SEED_CSV

MOBILE, ALT, OFFICE, EMAIL = (
    MethodKind.MOBILE,
    MethodKind.ALTERNATE_MOBILE,
    MethodKind.OFFICE,
    MethodKind.EMAIL,
)
ANN, BOB = "ann@contoso.com", "bob@contoso.com"
N1, N2 = "+31 612345678", "+31 687654321"


def parse(text: str, **kwargs) -> ParsedFile:
    return parse_csv(text.encode("utf-8"), source="users.csv", **kwargs)


def only_row(parsed: ParsedFile) -> DesiredRow:
    assert parsed.accepted, parsed.file_errors
    (row,) = parsed.rows
    return row


def only_error(parsed: ParsedFile) -> str:
    assert not parsed.accepted
    assert parsed.rows == ()
    (error,) = parsed.file_errors
    return error


def columns(header: str) -> ColumnMap:
    return map_columns(header.split(","))


# --- The seed fixture --------------------------------------------------------------------------


def test_seed_fixture_is_accepted_with_normalised_numbers():
    """The sample shipped with the PowerShell script parses as is, trunk zeros stripped."""
    parsed = parse_csv(SEED_CSV.read_bytes(), source=SEED_CSV.name)

    assert parsed.accepted
    assert parsed.file_errors == parsed.warnings == ()
    assert parsed.managed == frozenset({MOBILE, ALT, OFFICE})
    first, second = parsed.rows
    assert first == DesiredRow(
        line=2,
        user="Johny.bravo@identity-man.eu",
        values={MOBILE: "+31 612345678", OFFICE: "+31 485123456", ALT: "+31 618765432"},
        managed=frozenset({MOBILE, ALT, OFFICE}),
        forced_update=True,
        forced_removal=True,
    )
    assert second.valid
    assert second.values == {MOBILE: "+31 687654321", OFFICE: "+31 486123456", ALT: "+31 623456789"}


# --- Encodings ---------------------------------------------------------------------------------

SAMPLE = "UPN,Mobile,AlternateEmail\r\nzoë@contoso.com,+31 612345678,Zoë@Contoso.com\r\n"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(SAMPLE.replace("ë", "e").encode("ascii"), id="ascii"),
        pytest.param(SAMPLE.replace("ë", "e").encode("utf-8"), id="utf-8"),
        pytest.param(codecs.BOM_UTF8 + SAMPLE.replace("ë", "e").encode("utf-8"), id="utf-8-bom"),
        pytest.param(SAMPLE.replace("ë", "e").encode("utf-16"), id="utf-16-native-bom"),
        pytest.param(codecs.BOM_UTF16_LE + SAMPLE.replace("ë", "e").encode("utf-16-le"), id="utf-16-le-bom"),
        pytest.param(codecs.BOM_UTF16_BE + SAMPLE.replace("ë", "e").encode("utf-16-be"), id="utf-16-be-bom"),
    ],
)
def test_utf8_and_utf16_with_bom_are_read(data):
    """UTF-8 with or without BOM and UTF-16 LE/BE with BOM all give the same row."""
    parsed = parse_csv(data, source="users.csv")

    row = only_row(parsed)
    assert row.user == "zoe@contoso.com"
    assert row.values == {MOBILE: N1, EMAIL: "zoe@contoso.com"}


def test_non_ascii_utf8_text_is_kept():
    """Non-ASCII text decodes intact; UPNs and emails must be ASCII, so both are row errors."""
    row = only_row(parse(SAMPLE))

    assert row.errors == (
        "UPN: 'zoë@contoso.com' is not a user principal name (name@domain.tld) or an object id (GUID)",
        "AlternateEmail: the part before the @ is not a valid mailbox name",
    )
    assert row.values == {MOBILE: N1}


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        pytest.param(
            "UPN,Mobile\nzoë@contoso.com,+31612345678\n".encode("cp1252"),
            ["line 2", "not UTF-8", "byte 0xEB at byte offset 13", "save the file as UTF-8"],
            id="windows-1252",
        ),
        pytest.param(
            "UPN,Mobile\nann@contoso.com,+31612345678\n".encode("utf-16-le"),
            ["not a text file", "NUL byte at byte offset 1", "byte order mark", "save the file as UTF-8"],
            id="utf-16-without-bom",
        ),
        pytest.param(
            codecs.BOM_UTF16_LE + b"U\x00P\x00N",
            ["not UTF-16", "byte offset 6", "save the file as UTF-8"],
            id="truncated-utf-16",
        ),
        pytest.param(
            codecs.BOM_UTF32_LE + "UPN\n".encode("utf-32-le"),
            ["UTF-32", "save the file as UTF-8"],
            id="utf-32",
        ),
        pytest.param(b"PK\x03\x04\x14\x00\x06\x00", ["not a text file", "Excel"], id="xlsx"),
        pytest.param(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ["not a text file"], id="png"),
        pytest.param(
            b"UPN,Mobile\n\x01\x02\x03\x04", ["line 2", "not a text file", "U+0001"], id="control-bytes"
        ),
    ],
)
def test_other_encodings_and_binary_files_are_rejected_with_a_reason(data, fragments):
    """Anything but UTF-8 or UTF-16 with BOM is rejected, saying where and what to do."""
    error = only_error(parse_csv(data, source="users.csv"))

    assert error.startswith("users.csv: ")
    for fragment in fragments:
        assert fragment in error


# --- Delimiters, line ends, quoting, blank lines -------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("UPN,Mobile,ForcedUpdate\nann@contoso.com,+31 612345678,yes\n", id="comma"),
        pytest.param("UPN;Mobile;ForcedUpdate\nann@contoso.com;+31 612345678;yes\n", id="semicolon"),
        pytest.param("UPN\tMobile\tForcedUpdate\nann@contoso.com\t+31 612345678\tyes\n", id="tab"),
        pytest.param(
            "UPN;Mobile;ForcedUpdate;Name\nann@contoso.com;+31 612345678;yes;Smith, Ann\n",
            id="semicolon-commas-in-data",
        ),
        pytest.param(
            "Name,x;UPN;Mobile;ForcedUpdate\nA, B;ann@contoso.com;+31 612345678;yes\n", id="header-decides"
        ),
        pytest.param("UPN,Mobile,ForcedUpdate\r\nann@contoso.com,+31 612345678,yes\r\n", id="crlf"),
        pytest.param("UPN,Mobile,ForcedUpdate\rann@contoso.com,+31 612345678,yes\r", id="cr"),
        pytest.param("UPN,Mobile,ForcedUpdate\nann@contoso.com,+31 612345678,yes", id="no-final-newline"),
        pytest.param(
            '"UPN","Mobile","ForcedUpdate"\n"ann@contoso.com","+31 612345678","yes"\n', id="all-quoted"
        ),
        pytest.param(
            "UPN, Mobile, ForcedUpdate\nann@contoso.com, +31 612345678, yes\n", id="spaces-after-commas"
        ),
        pytest.param(
            'UPN, "Mobile", ForcedUpdate\nann@contoso.com, "+31 612345678", yes\n', id="space-then-quote"
        ),
    ],
)
def test_delimiters_line_ends_and_quoting_all_give_the_same_row(text):
    """Comma, semicolon or tab (sniffed from the header), any line end, quoted or not."""
    row = only_row(parse(text))

    assert (row.line, row.user, row.values, row.forced_update, row.errors) == (2, ANN, {MOBILE: N1}, True, ())


def test_quoted_fields_keep_delimiters_quotes_and_newlines():
    """Quoted cells may hold the delimiter, doubled quotes and line breaks; lines still count."""
    text = (
        'UPN,Mobile,Note\nann@contoso.com,+31 612345678,"a, ""b""\r\nc\nd"\nbob@contoso.com,+31 687654321,x\n'
    )

    parsed = parse(text)

    assert [(row.line, row.user, row.values, row.errors) for row in parsed.rows] == [
        (2, ANN, {MOBILE: N1}, ()),
        (5, BOB, {MOBILE: N2}, ()),
    ]


def test_blank_lines_and_delimiter_only_lines_are_skipped_and_lines_still_count():
    """Blank lines, and lines of nothing but delimiters, make no rows; line numbers stay physical."""
    text = "\n\nUPN;Mobile\n\n;\n ; \nann@contoso.com;+31 612345678\r\n\r\n;;;\nbob@contoso.com;+31 687654321\n\n"

    parsed = parse(text)

    assert [(row.line, row.user) for row in parsed.rows] == [(7, ANN), (10, BOB)]


def test_text_after_a_closing_quote_is_a_row_error_and_reading_goes_on():
    """Bad quoting spoils only its own row; the next row is read normally."""
    text = 'UPN,Mobile\n"ann@contoso.com"x,+31 612345678\nbob@contoso.com,+31 687654321\n'

    bad, good = parse(text).rows

    assert bad.line == 2
    assert bad.user == ""
    assert bad.errors == (
        'line 2: text after a closing quote; a quoted field must end with " (write "" for a quote inside it)',
    )
    assert (good.line, good.user, good.valid) == (3, BOB, True)


def test_a_quote_never_closed_rejects_the_file():
    """An open quote would swallow the rest of the file, so the file is rejected naming its line."""
    text = 'UPN,Mobile\nann@contoso.com,+31 612345678\nbob@contoso.com,"+31 687654321\nx,y\n'

    error = only_error(parse(text))

    assert error == 'users.csv: line 3: a quoted field is never closed; check the " characters on this line'


# --- Header --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param("UPN", frozenset(), id="upn-only"),
        pytest.param("UserPrincipalName,MobilePhone", frozenset({MOBILE}), id="long-aliases"),
        pytest.param(" upn , MOBILE ", frozenset({MOBILE}), id="case-and-spaces"),
        pytest.param("User principal name,Mobile phone", frozenset({MOBILE}), id="spaced-words"),
        pytest.param("UPN,AlternateMobilePhone,Office", frozenset({ALT, OFFICE}), id="alternate-and-office"),
        pytest.param("UPN,AlternateMobile,OfficePhone", frozenset({ALT, OFFICE}), id="canonical-names"),
        pytest.param("UPN,Email", frozenset({EMAIL}), id="email-alias"),
        pytest.param("UPN,alternateemail,ForcedRemoval", frozenset({EMAIL}), id="email-and-flags"),
        pytest.param("UPN,SmsSignIn,DefaultMethod", frozenset(), id="settings-manage-no-kind"),
        pytest.param("\ufeffUPN,Mobile", frozenset({MOBILE}), id="stray-bom-in-header"),
        pytest.param("UPN,,Mobile,,", frozenset({MOBILE}), id="unnamed-columns"),
    ],
)
def test_managed_kinds_are_the_method_columns_present(header, expected):
    """Aliases, case and spaces are forgiven; ``managed`` lists the method kinds with a column."""
    mapped = columns(header)

    assert mapped.problems == ()
    assert mapped.managed == expected


def test_unknown_columns_are_ignored_with_a_warning_naming_them():
    """Unknown columns are named in one warning; the file is still accepted."""
    parsed = parse("Name,UPN,Department,Mobile\nAnn,ann@contoso.com,IT,+31 612345678\n")

    assert only_row(parsed).values == {MOBILE: N1}
    assert parsed.warnings == ("users.csv: line 1: ignoring unknown columns: Name, Department",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            "Name,Phone\nAnn,+31 612345678\n",
            "users.csv: line 1: no UPN column (found: Name, Phone); add a UPN or UserPrincipalName column",
            id="no-upn",
        ),
        pytest.param(
            "UPN,Mobile,MobilePhone\nann@contoso.com,,\n",
            "users.csv: line 1: columns Mobile and MobilePhone both mean Mobile; keep one",
            id="mobile-twice",
        ),
        pytest.param(
            "upn,UPN,UserPrincipalName\nann@contoso.com,,\n",
            "users.csv: line 1: columns upn, UPN and UserPrincipalName all mean UPN; keep one",
            id="upn-three-times",
        ),
        pytest.param("", "users.csv: the file is empty (0 bytes)", id="empty"),
        pytest.param(
            "\n \r\n,,,\n", "users.csv: the file is empty (only blank lines)", id="only-blank-lines"
        ),
        pytest.param(
            "UPN,Mobile\n\n,\n", "users.csv: line 1: the file has a header but no data rows", id="header-only"
        ),
        pytest.param(
            '"UPN"x,Mobile\nann@contoso.com,\n',
            'users.csv: line 1: text after a closing quote; a quoted field must end with " '
            '(write "" for a quote inside it) (in the header)',
            id="bad-header-quoting",
        ),
    ],
)
def test_unusable_files_are_rejected_with_one_clear_reason(text, expected):
    """No UPN column, a column twice, an empty or header-only file: rejected, no rows."""
    assert only_error(parse(text)) == expected


# --- Cells ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        *(pytest.param(c, True, id=f"true-{c!r}") for c in ("true", "TRUE", "True", " yes ", "Y", "y", "1")),
        *(
            pytest.param(c, False, id=f"false-{c!r}")
            for c in ("false", "FALSE", "No", "n", "N", "0", "", "  ")
        ),
    ],
)
def test_boolean_spellings_are_read(cell, expected):
    """true/false, yes/no, y/n and 1/0 in any case; empty means false."""
    row = only_row(parse(f"UPN,ForcedUpdate,ForcedRemoval\nann@contoso.com,{cell},{cell}\n"))

    assert (row.forced_update, row.forced_removal, row.errors) == (expected, expected, ())


@pytest.mark.parametrize("cell", ["maybe", "2", "ja", "on", "t"])
def test_other_boolean_values_are_row_errors_naming_column_and_value(cell):
    """Anything else is a row error naming the column as written and the value."""
    row = only_row(parse(f"UPN,forcedUpdate\nann@contoso.com,{cell}\n"))

    assert row.errors == (
        f"forcedUpdate: '{cell}' is not a yes/no value; use true/false, yes/no, y/n or 1/0",
    )
    assert row.forced_update is False


@pytest.mark.parametrize(
    ("sms", "default", "expected"),
    [
        pytest.param("enable", "push", (SmsSignIn.ENABLE, DefaultMethod.PUSH), id="lower"),
        pytest.param("DISABLE", "VOICEMOBILE", (SmsSignIn.DISABLE, DefaultMethod.VOICE_MOBILE), id="upper"),
        pytest.param(
            " Enable ",
            "voicealternatemobile",
            (SmsSignIn.ENABLE, DefaultMethod.VOICE_ALTERNATE_MOBILE),
            id="mixed",
        ),
        pytest.param("", "Sms", (None, DefaultMethod.SMS), id="empty-sms"),
        pytest.param("", "", (None, None), id="both-empty"),
        pytest.param("", "voiceOffice", (None, DefaultMethod.VOICE_OFFICE), id="graph-spelling"),
        pytest.param("", "OATH", (None, DefaultMethod.OATH), id="oath"),
    ],
)
def test_sms_sign_in_and_default_method_accept_any_case(sms, default, expected):
    """SmsSignIn and DefaultMethod match case-insensitively and come out in Graph's spelling."""
    row = only_row(parse(f"UPN,SmsSignIn,DefaultMethod\nann@contoso.com,{sms},{default}\n"))

    assert (row.sms_sign_in, row.default_method) == expected
    assert row.valid
    assert row.default_method is None or row.default_method.value in {m.value for m in DefaultMethod}


@pytest.mark.parametrize(
    ("header", "cell", "fragment"),
    [
        pytest.param("SmsSignIn", "enabled", "SmsSignIn: 'enabled' is not enable or disable", id="sms"),
        pytest.param(
            "DefaultMethod", "fido2", "DefaultMethod: 'fido2' is not a default method", id="default"
        ),
    ],
)
def test_unknown_enum_values_are_row_errors(header, cell, fragment):
    """Values outside the allowed set are row errors naming column and value."""
    row = only_row(parse(f"UPN,{header}\nann@contoso.com,{cell}\n"))

    assert len(row.errors) == 1
    assert row.errors[0].startswith(fragment)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        pytest.param("ann@contoso.com", "ann@contoso.com", id="upn"),
        pytest.param("Ann.O'Neil@Contoso.CO.UK", "Ann.O'Neil@Contoso.CO.UK", id="upn-kept-as-written"),
        pytest.param(
            "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            "ann_fabrikam.com#EXT#@contoso.onmicrosoft.com",
            id="guest",
        ),
        pytest.param("  ann@contoso.com ", "ann@contoso.com", id="trimmed"),
        pytest.param(
            "0F8FAD5B-D9CB-469F-A165-70867728950E", "0f8fad5b-d9cb-469f-a165-70867728950e", id="object-id"
        ),
    ],
)
def test_users_are_upns_or_object_ids(cell, expected):
    """A UPN is kept as written (trimmed); an object id is lower-cased."""
    row = only_row(parse(f"UPN\n{cell}\n"))

    assert (row.user, row.errors) == (expected, ())


@pytest.mark.parametrize(
    ("cell", "fragment"),
    [
        pytest.param("ann", "'ann' is not a user principal name", id="no-at"),
        pytest.param("ann smith@contoso.com", "is not a user principal name", id="space"),
        pytest.param("ann@contoso", "is not a user principal name", id="no-dot-in-domain"),
        pytest.param("ann@@contoso.com", "is not a user principal name", id="two-ats"),
        pytest.param(".ann@contoso.com", "is not a user principal name", id="leading-dot"),
        pytest.param("ann..b@contoso.com", "is not a user principal name", id="double-dot"),
        pytest.param("0f8fad5b-d9cb-469f-a165-70867728950", "is not a user principal name", id="short-guid"),
        pytest.param("=cmd|' /C calc'!A0", "looks like a spreadsheet formula", id="formula"),
        pytest.param("-ann@contoso.com", "looks like a spreadsheet formula", id="formula-minus"),
    ],
)
def test_bad_users_are_row_errors(cell, fragment):
    """Anything that is neither a UPN nor a GUID is a row error; the row keeps no user."""
    row = only_row(parse(f'UPN,Mobile\n"{cell}",+31 612345678\n'))

    assert row.user == ""
    assert row.values == {MOBILE: N1}
    assert len(row.errors) == 1
    assert row.errors[0].startswith("UPN: ")
    assert fragment in row.errors[0]


def test_empty_upn_on_a_non_blank_row_is_a_row_error():
    """A row with data but no user is an error, not skipped."""
    row = only_row(parse("UserPrincipalName,Mobile\n ,+31 612345678\n"))

    assert row.errors == ("UserPrincipalName: empty; every row needs a user (UPN or object id)",)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        pytest.param("Ann.Smith@Fabrikam.COM", "ann.smith@fabrikam.com", id="lower-cased"),
        pytest.param(" ann+mfa@fabrikam.co.uk ", "ann+mfa@fabrikam.co.uk", id="plus-and-trim"),
        pytest.param("a@xn--bcher-kva.example", "a@xn--bcher-kva.example", id="punycode-domain"),
    ],
)
def test_emails_are_lower_cased(cell, expected):
    """A valid alternate email is trimmed and lower-cased."""
    row = only_row(parse(f"UPN,AlternateEmail\nann@contoso.com,{cell}\n"))

    assert (row.values, row.errors) == ({EMAIL: expected}, ())


@pytest.mark.parametrize(
    ("cell", "fragment"),
    [
        pytest.param("ann", "exactly one @", id="no-at"),
        pytest.param("a@b@c.com", "exactly one @", id="two-ats"),
        pytest.param("ann smith@x.com", "contains a space", id="space"),
        pytest.param("ann@localhost", "not a valid email address", id="no-dot"),
        pytest.param("ann@-x.com", "not a valid email address", id="bad-label"),
        pytest.param(".ann@x.com", "before the @", id="leading-dot"),
        pytest.param("a" * 250 + "@x.com", "longer than 254", id="too-long"),
        pytest.param('=HYPERLINK("http://x")', "spreadsheet formula", id="formula"),
        pytest.param("@x.com", "spreadsheet formula", id="formula-at"),
        pytest.param("+a@x.com", "spreadsheet formula", id="formula-plus"),
    ],
)
def test_bad_emails_are_row_errors_without_the_address(cell, fragment):
    """A bad email is a row error naming the column; the address itself is not repeated (PII)."""
    row = only_row(parse(f'UPN,Email\nann@contoso.com,"{cell.replace(chr(34), chr(34) * 2)}"\n'))

    (error,) = row.errors
    assert error.startswith("Email: ")
    assert fragment in error
    assert EMAIL not in row.values


@pytest.mark.parametrize(
    "header",
    ["Mobile", "AlternateMobile", "OfficePhone", "AlternateEmail", "MobilePhone", "Office", "Email"],
)
@pytest.mark.parametrize("cell", ["=1+1", "@SUM(A1)", "+A1", "-1", "\t+31612345678"])
def test_formula_cells_are_row_errors_in_every_method_column(header, cell):
    """A cell a spreadsheet would run as a formula is a row error, whatever method column holds it."""
    quoted = '"' + cell + '"'

    row = only_row(parse(f"UPN,{header}\nann@contoso.com,{quoted}\n"))

    (error,) = row.errors
    assert error.startswith(f"{header}: looks like a spreadsheet formula")
    assert row.values == {}


def test_phone_errors_name_the_column_and_keep_the_good_cells():
    """One bad phone fails its row, but the row still carries the cells that parsed."""
    row = only_row(parse("UPN,Mobile,Office,ForcedUpdate\nann@contoso.com,+31 6123,+310485123456,y\n"))

    assert row.errors == ("Mobile: not a valid phone number for country code +31 (NL): too short",)
    assert row.values == {OFFICE: "+31 485123456"}
    assert row.forced_update is True


@pytest.mark.parametrize(
    ("region", "expected_values", "expected_errors"),
    [
        pytest.param("NL", {MOBILE: N1}, (), id="with-region"),
        pytest.param(
            None,
            {},
            (
                "Mobile: no country code; write it as +CC NUMBER (e.g. +31 612345678) or set PROVISIONING_DEFAULT_REGION",
            ),
            id="without-region",
        ),
    ],
)
def test_numbers_without_country_code_need_the_default_region(region, expected_values, expected_errors):
    """A national number uses the default region when given, and is a row error otherwise."""
    row = only_row(parse("UPN,Mobile\nann@contoso.com,06 1234 5678\n", default_region=region))

    assert (row.values, row.errors) == (expected_values, expected_errors)


def test_an_unknown_default_region_rejects_the_file_naming_the_setting():
    """A bad PROVISIONING_DEFAULT_REGION is a file error, not one error per row."""
    error = only_error(parse("UPN,Mobile\nann@contoso.com,06 1234 5678\n", default_region="Holland"))

    assert (
        error
        == "users.csv: PROVISIONING_DEFAULT_REGION: 'Holland' is not a known ISO 3166 region code (e.g. NL, DE, US)"
    )


# --- Field counts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected_errors"),
    [
        pytest.param("ann@contoso.com,+31 612345678,y", (), id="exact"),
        pytest.param("ann@contoso.com,+31 612345678,y,,,", (), id="extra-empty-fields"),
        pytest.param("ann@contoso.com,+31 612345678,y, , ", (), id="extra-blank-fields"),
        pytest.param(
            "ann@contoso.com,+31 612345678,y,z", ("line 2 has 4 fields, the header has 3",), id="extra-field"
        ),
        pytest.param(
            "ann@contoso.com,+31 612345678,y,,,9", ("line 2 has 6 fields, the header has 3",), id="far-field"
        ),
    ],
)
def test_more_non_empty_fields_than_the_header_is_a_row_error(line, expected_errors):
    """Extra trailing empty fields are fine; extra non-empty ones are a row error."""
    row = only_row(parse(f"UPN,Mobile,ForcedUpdate\n{line}\n"))

    assert row.errors == expected_errors


def test_missing_trailing_fields_are_empty():
    """A short row reads its missing cells as empty."""
    row = only_row(parse("UPN,Mobile,ForcedUpdate,Email\nann@contoso.com,+31 612345678\n"))

    assert (row.values, row.forced_update, row.errors) == ({MOBILE: N1}, False, ())


# --- Duplicates ----------------------------------------------------------------------------------


def test_every_row_of_a_repeated_user_names_the_other_lines():
    """The same user (any case) on several rows fails all of them, each naming the others."""
    text = "UPN,Mobile\nann@contoso.com,\nbob@contoso.com,\nANN@Contoso.com,\n\nAnn@contoso.com,\n"

    parsed = parse(text)

    assert [(row.line, row.errors) for row in parsed.rows] == [
        (2, ("UPN: the same user is also on lines 4, 6; keep one row per user",)),
        (3, ()),
        (4, ("UPN: the same user is also on lines 2, 6; keep one row per user",)),
        (6, ("UPN: the same user is also on lines 2, 4; keep one row per user",)),
    ]


def test_two_rows_of_one_user_name_each_other_in_the_singular_and_empty_users_never_count():
    """Two rows name each other with "line N" and the column as written; rows without a user never
    count as duplicates."""
    text = "UserPrincipalName,Mobile\na@x.com,\n,+31 612345678\nA@X.COM,\n,+31 612345678\n"

    parsed = parse(text)

    assert [row.errors for row in parsed.rows] == [
        ("UserPrincipalName: the same user is also on line 4; keep one row per user",),
        ("UserPrincipalName: empty; every row needs a user (UPN or object id)",),
        ("UserPrincipalName: the same user is also on line 2; keep one row per user",),
        ("UserPrincipalName: empty; every row needs a user (UPN or object id)",),
    ]


# --- Limits --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limits", "accepted"),
    [
        pytest.param(ReaderLimits(max_rows=3), True, id="rows-at-limit"),
        pytest.param(ReaderLimits(max_rows=2), False, id="rows-over-limit"),
        pytest.param(
            ReaderLimits(max_bytes=len(b"UPN\nann@x.com\nbob@x.com\ncy@x.com\n")), True, id="bytes-at-limit"
        ),
        pytest.param(ReaderLimits(max_bytes=10), False, id="bytes-over-limit"),
    ],
)
def test_size_and_row_limits_reject_only_beyond_the_limit(limits, accepted):
    """A file exactly at a limit passes; one byte or row more is rejected."""
    parsed = parse("UPN\nann@x.com\nbob@x.com\ncy@x.com\n", limits=limits)

    assert parsed.accepted is accepted
    assert len(parsed.rows) == (3 if accepted else 0)


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        pytest.param(
            ReaderLimits(max_rows=1),
            "users.csv: line 4: more than 1 data rows; raise PROVISIONING_MAX_ROWS or split the file",
            id="rows",
        ),
        pytest.param(
            ReaderLimits(max_bytes=10),
            "users.csv: the file is 25 bytes, over the limit of 10 bytes; "
            "raise PROVISIONING_MAX_FILE_BYTES or split the file",
            id="bytes",
        ),
    ],
)
def test_limit_errors_name_the_limit_and_the_setting(limits, expected):
    """The rejection says which limit was passed and which setting raises it."""
    assert only_error(parse("UPN\nann@x.com\n\nbob@x.com\n", limits=limits)) == expected


def test_default_limits_are_64_mib_and_a_million_rows():
    """The defaults match PROVISIONING_MAX_FILE_BYTES and PROVISIONING_MAX_ROWS's documented ones."""
    assert ReaderLimits() == ReaderLimits(max_bytes=64 * 1024 * 1024, max_rows=1_000_000)


# --- The pieces a streaming reader reuses --------------------------------------------------------


def test_parse_record_works_on_its_own():
    """``parse_record`` needs only fields, a line number, a column map and the region."""
    mapped = columns("UPN,Mobile,ForcedRemoval")

    row = parse_record(["ann@contoso.com", "0612345678", "1"], 42, mapped, "NL")

    assert row == DesiredRow(42, ANN, {MOBILE: N1}, frozenset({MOBILE}), forced_removal=True)


# --- Properties ----------------------------------------------------------------------------------

# Every character but surrogates and the control characters that make a file "not text".
CELL = st.text(
    alphabet=st.characters(
        blacklist_categories=["Cs"],
        blacklist_characters=[chr(c) for c in (*range(0x09), *range(0x0E, 0x20), 0x7F)],
    ),
    max_size=12,
)


def _line_breaks(text: str) -> int:
    return text.count("\r") + text.count("\n") - text.count("\r\n")


def _written(row: list[str], delimiter: str, newline: str, quoting: Literal[0, 1, 2, 3]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline, quoting=quoting).writerow(row)
    return buffer.getvalue()


@settings(deadline=None, max_examples=200)
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(data):
    """Any bytes give a ParsedFile: accepted with rows, or rejected with reasons and no rows."""
    parsed = parse_csv(data, source="fuzz.csv", limits=ReaderLimits(max_bytes=200, max_rows=20))

    assert parsed.accepted != bool(parsed.file_errors)
    assert parsed.accepted or parsed.rows == ()
    assert all(error.startswith("fuzz.csv: ") for error in parsed.file_errors)


@settings(deadline=None, max_examples=200)
@given(text=st.text(alphabet=st.sampled_from('UPNMobile,;\t"\r\n x@.+0123456789Ëé'), max_size=200))
def test_arbitrary_text_never_raises(text):
    """Any text (in the characters CSV cares about) gives a ParsedFile, never an exception."""
    parsed = parse_csv(text.encode("utf-8"), source="fuzz.csv", default_region="NL")

    assert parsed.accepted != bool(parsed.file_errors)
    lines = [row.line for row in parsed.rows]
    assert lines == sorted(set(lines))


@settings(deadline=None, max_examples=200)
@given(
    rows=st.lists(st.lists(CELL, max_size=4), min_size=1, max_size=8),
    delimiter=st.sampled_from([",", ";", "\t"]),
    newline=st.sampled_from(["\r\n", "\n", "\r"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
)
def test_every_non_blank_data_row_yields_exactly_one_row(rows, delimiter, newline, quoting):
    """Whatever the cells hold, each non-blank record csv.writer wrote is one row, on its own line."""
    # QUOTE_MINIMAL leaves a line break that is not part of the line terminator unquoted.
    assume(quoting == csv.QUOTE_ALL or not any("\r" in c or "\n" in c for row in rows for c in row))
    header = _written(["UPN", "Mobile", "Email", "ForcedUpdate"], delimiter, newline, quoting)
    written = [_written(row, delimiter, newline, quoting) for row in rows]
    starts = [2 + sum(_line_breaks(text) for text in written[:i]) for i in range(len(rows))]
    expected = [start for start, row in zip(starts, rows, strict=True) if any(c.strip() for c in row)]

    parsed = parse_csv("".join([header, *written]).encode("utf-8"), source="gen.csv")

    assert [row.line for row in parsed.rows] == expected
    assert parsed.accepted is bool(expected)


CORPUS = [
    path
    for path in sorted((Path(__file__).parents[1] / "data" / "csv").glob("*.csv"))
    if parse_csv(path.read_bytes(), source=path.name).accepted  # a rejected file has no rows to compare
]


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
@pytest.mark.parametrize("region", [None, "NL"])
def test_raw_rows_parsed_by_a_worker_are_the_rows_of_a_whole_file_read(path, region):
    """Every corpus file: the fan-out's raw cells, parsed as a worker does, give ``parse_csv``'s rows
    (duplicates, too-wide rows and unreadable records included)."""
    data = path.read_bytes()
    parsed = parse_csv(data, source=path.name, default_region=region)

    def source():
        return iter([data])

    scan = scan_csv(source, name=path.name, default_region=region, limits=ReaderLimits(), size=len(data))
    layout, rows = iter_raw_rows(source, scan, default_region=region)

    assert tuple(parse_raw(r, layout) if isinstance(r, RawRow) else r for r in rows) == parsed.rows
