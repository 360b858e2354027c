"""Properties of the three input edges: the CSV reader, the phone normaliser and the HTTP payload parser.

Whatever they are given, they answer with a value or the project's own input error (``InputError``,
``PhoneError``, ``PayloadError``), never another exception; and well-formed input comes back with
exactly the values that went in. Hypothesis runs derandomized (see tests/conftest.py).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning.core.job_records import RawRow, WorkChunk, WorkMessage, decode_work, encode_work
from provisioning.core.models import DefaultMethod, DesiredRow, MethodKind, SmsSignIn
from provisioning.core.phones import normalise_phone
from provisioning.csv_input.reader import (
    ParsedFile,
    ReaderLimits,
    iter_raw_rows,
    iter_rows,
    parse_csv,
    parse_raw,
    scan_csv,
)
from provisioning.entrypoints.http.input import ProvisionRequest, parse_body
from provisioning.errors import ErrorCode, PayloadError, PhoneError

MOBILE, ALT, OFFICE, EMAIL = (
    MethodKind.MOBILE,
    MethodKind.ALTERNATE_MOBILE,
    MethodKind.OFFICE,
    MethodKind.EMAIL,
)
GRAPH_FORM = re.compile(r"\+[1-9][0-9]{0,2} [0-9]+(?:x[0-9]{1,10})?")
REGIONS = [None, "NL", "US", "GB", "DE", "IT", "FR", "BR", "IN", "JP", "AU"]
FAST = settings(deadline=None, max_examples=150)
SLOW = settings(deadline=None, max_examples=60)


# --- Valid values, shared by the CSV and HTTP properties ------------------------------------------


def _example_numbers() -> list[phonenumbers.PhoneNumber]:
    """phonenumbers' example numbers: every region and type, and the non-geographic codes."""
    kinds = (
        phonenumbers.PhoneNumberType.FIXED_LINE,
        phonenumbers.PhoneNumberType.MOBILE,
        phonenumbers.PhoneNumberType.TOLL_FREE,
        phonenumbers.PhoneNumberType.VOIP,
    )
    found = [
        phonenumbers.example_number_for_type(region, kind)
        for region in sorted(phonenumbers.SUPPORTED_REGIONS)
        for kind in kinds
    ]
    found += [
        phonenumbers.example_number_for_non_geo_entity(code)
        for code in sorted(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
    ]
    return [number for number in found if number is not None]


EXAMPLES = _example_numbers()


def _graph_form(number: phonenumbers.PhoneNumber) -> str:
    return f"+{number.country_code} {phonenumbers.national_significant_number(number)}"


@st.composite
def written_numbers(draw: st.DrawFn) -> tuple[str, str | None, str]:
    """A valid number as an admin might write it, the region it needs, and its Graph form."""
    number = draw(st.sampled_from(EXAMPLES))
    region = phonenumbers.region_code_for_number(number)
    style = draw(st.sampled_from(["international", "e164", "00", "rfc3966", "national"]))
    if style == "national" and region not in phonenumbers.SUPPORTED_REGIONS:
        style = "international"  # a non-geographic number has no national form
    text = {
        "international": lambda: phonenumbers.format_number(
            number, phonenumbers.PhoneNumberFormat.INTERNATIONAL
        ),
        "e164": lambda: phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        "00": lambda: "00" + phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:],
        "rfc3966": lambda: phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.RFC3966)[4:],
        "national": lambda: phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
    }[style]()
    separator = draw(st.sampled_from([" ", "-", ".", "\u00a0", "\u2009"]))
    text = text.replace(" ", separator) if style != "rfc3966" else text
    extension = draw(st.one_of(st.none(), st.from_regex(r"[1-9][0-9]{0,4}", fullmatch=True)))
    graph = _graph_form(number)
    if extension is not None:
        text += draw(st.sampled_from([" x", " ext. ", " ext ", "x"])) + extension
        graph += f"x{extension}"
    return text, (region if style == "national" else None), graph


EMAILS = st.from_regex(
    r"[A-Za-z0-9]{1,6}(?:[._+-][A-Za-z0-9]{1,6}){0,2}@[a-z0-9]{1,8}\.(?:com|org|co\.uk)", fullmatch=True
)
TRUE_WORDS, FALSE_WORDS = ["true", "TRUE", "yes", "Y", "1"], ["false", "No", "n", "0", ""]


@dataclass(frozen=True)
class UserSpec:
    """One valid user as written into an input, and what the reader must make of it."""

    upn: str
    cells: dict[str, str]  # column -> the text written
    expected: DesiredRow  # line 0: the caller knows the line


@st.composite
def user_specs(draw: st.DrawFn, index: int) -> UserSpec:
    """A valid user numbered *index* (so UPNs never repeat) whose cells are all well-formed."""
    upn = draw(st.sampled_from([f"user{index}.rt@contoso.com", f"User{index}.RT@Contoso.COM"]))
    cells: dict[str, str] = {"UPN": upn}
    values: dict[MethodKind, str] = {}
    for column, kind in (("Mobile", MOBILE), ("AlternateMobile", ALT), ("OfficePhone", OFFICE)):
        if draw(st.booleans()):
            text, region, graph = draw(written_numbers())
            if region is None:  # the reader has no default region here; national forms need one
                cells[column], values[kind] = text, graph
    if draw(st.booleans()):
        email = draw(EMAILS)
        cells["AlternateEmail"], values[EMAIL] = email, email.lower()
    forced = draw(st.sampled_from(TRUE_WORDS + FALSE_WORDS))
    sms = draw(st.sampled_from(["", "enable", "DISABLE"]))
    default = draw(st.sampled_from(["", *(method.value for method in DefaultMethod), "VOICEOFFICE"]))
    cells |= {"ForcedUpdate": forced, "SmsSignIn": sms, "DefaultMethod": default}
    expected = DesiredRow(
        line=0,
        user=upn,
        values=values,
        forced_update=forced in TRUE_WORDS,
        sms_sign_in=SmsSignIn(sms.lower()) if sms else None,
        default_method=next((m for m in DefaultMethod if m.value.lower() == default.lower()), None),
    )
    return UserSpec(upn, cells, expected)


# --- The CSV reader ----------------------------------------------------------------------------

COLUMNS = [
    "UPN",
    "Mobile",
    "AlternateMobile",
    "OfficePhone",
    "AlternateEmail",
    "ForcedUpdate",
    "SmsSignIn",
    "DefaultMethod",
]
ALIASES = {
    "UPN": ["UPN", "UserPrincipalName", " upn ", "User Principal Name"],
    "Mobile": ["Mobile", "MobilePhone", "mobile_phone"],
    "AlternateMobile": ["AlternateMobile", "Alternate Mobile Phone"],
    "OfficePhone": ["OfficePhone", "Office"],
    "AlternateEmail": ["AlternateEmail", "Email", "E-Mail"],
    "ForcedUpdate": ["ForcedUpdate", "forced update"],
    "SmsSignIn": ["SmsSignIn"],
    "DefaultMethod": ["DefaultMethod"],
}
# Text a hostile or careless file holds: formula starts, quotes, delimiters, line breaks, look-alikes.
JUNK = st.text(
    alphabet=st.sampled_from(
        [*"=+-@\t\"',;|# x0123456789.()ab", "\r", "\n", "\u200b", "\u202e", "\uff11", "\u0430", "\u00a0"]
    ),
    max_size=14,
)
Quoting = Literal[0, 1, 2, 3]


def _physical_lines(text: str) -> int:
    return text.count("\r") + text.count("\n") - text.count("\r\n")


def _write(row: list[str], delimiter: str, newline: str, quoting: Quoting) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator=newline, quoting=quoting).writerow(row)
    return buffer.getvalue()


def _assert_well_formed(parsed: ParsedFile, source: str, physical_lines: int) -> None:
    """The invariants every answer keeps: verdict and errors agree, rows in order and in range."""
    assert parsed.accepted != bool(parsed.file_errors)
    assert parsed.accepted or parsed.rows == ()
    assert all(error.startswith(f"{source}: ") for error in parsed.file_errors)
    lines = [row.line for row in parsed.rows]
    assert lines == sorted(set(lines))
    assert all(2 <= line <= physical_lines for line in lines)
    assert all(row.valid == (not row.errors) and (row.valid or row.errors) for row in parsed.rows)
    assert all(row.user or not row.valid for row in parsed.rows)


def _streamed(data: bytes, chunk: int, limits: ReaderLimits) -> ParsedFile:
    """The file read as the Function reads a blob: two passes over chunks of *chunk* bytes."""

    def source() -> Iterator[bytes]:
        return (data[at : at + chunk] for at in range(0, len(data), chunk))

    scan = scan_csv(source, name="s.csv", default_region="NL", limits=limits, size=len(data))
    rows = tuple(iter_rows(source, scan, default_region="NL")) if scan.accepted else ()
    return ParsedFile("s.csv", scan.accepted, scan.file_errors, scan.warnings, rows, scan.managed)


@FAST
@given(
    prefix=st.sampled_from(
        [
            b"",
            codecs.BOM_UTF8,
            codecs.BOM_UTF16_LE,
            codecs.BOM_UTF16_BE,
            b"UPN,Mobile\n",
            b"sep=;\n",
            b"#TYPE x\n",
        ]
    ),
    data=st.binary(max_size=300),
    chunk=st.integers(1, 64),
)
def test_any_bytes_give_a_verdict_and_the_same_one_in_any_chunking(prefix, data, chunk):
    """Any bytes (after a BOM, a header or a preamble line) give a verdict, never an exception; read
    in chunks of any size, as a blob is, they give the same verdict and rows."""
    limits = ReaderLimits(max_bytes=400, max_rows=30)
    data = prefix + data

    parsed = parse_csv(data, source="s.csv", default_region="NL", limits=limits)

    _assert_well_formed(parsed, "s.csv", _physical_lines(data.decode("latin-1")) + 1)
    assert _streamed(data, chunk, limits) == parsed


def _by_workers(data: bytes, limits: ReaderLimits, region: str | None) -> tuple[DesiredRow, ...] | None:
    """The rows as a CSV drop's workers get them: raw cells from the fan-out, parsed by ``parse_raw``
    after a trip through a work message."""

    def source() -> Iterator[bytes]:
        return iter([data])

    scan = scan_csv(source, name="s.csv", default_region=region, limits=limits, size=len(data))
    if not scan.accepted:
        return None
    layout, rows = iter_raw_rows(source, scan, default_region=region)
    read = tuple(rows)
    if read:
        message = WorkMessage("job", False, (WorkChunk(0, read),), layout)
        read = decode_work(encode_work(message)).chunks[0].rows
    return tuple(parse_raw(row, layout) if isinstance(row, RawRow) else row for row in read)


@FAST
@given(
    header=st.sampled_from(
        [
            b"UPN,Mobile,AlternateMobile,OfficePhone,AlternateEmail,ForcedUpdate,SmsSignIn\n",
            b"x;UPN;Email;Mobile\n",
            b"",
        ]
    ),
    data=st.binary(max_size=300),
    region=st.sampled_from([None, "NL", "US"]),
)
def test_the_workers_parse_of_raw_cells_gives_the_rows_a_whole_file_read_gives(header, data, region):
    """Whatever the file, the fan-out's raw rows parsed by the workers are exactly ``iter_rows``' rows:
    the same values, errors (too many fields, duplicate users) and lines."""
    limits = ReaderLimits(max_bytes=400, max_rows=30)
    data = header + data
    parsed = parse_csv(data, source="s.csv", default_region=region, limits=limits)

    assert _by_workers(data, limits, region) == (parsed.rows if parsed.accepted else None)


TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list('UPNMobile,;\t|"\r\n x@.+0123456789#=sep')),
        st.characters(exclude_categories=["Cs"]),
    ),
    max_size=120,
)
HEADERS = [
    "",
    "UPN,Mobile,Email\n",
    "UPN;Mobile;ForcedUpdate\r\n",
    "\ufeffUserPrincipalName\tOffice\n",
    "\ufeff\nUPN|Email\n",
]
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom", "utf-32", "cp1252", "latin-1"]


def _encode(text: str, encoding: str) -> bytes:
    if encoding == "utf-16-le-bom":
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    if encoding == "utf-16-be-bom":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    return text.encode(encoding, errors="replace")


@FAST
@given(header=st.sampled_from(HEADERS), body=TEXT, encoding=st.sampled_from(ENCODINGS))
def test_any_text_in_any_encoding_gives_a_verdict_and_supported_encodings_agree(header, body, encoding):
    """Any text in any encoding gives a verdict; in UTF-8 or UTF-16 with BOM it gives the same rows
    as the same text in UTF-8 with BOM (a BOM is needed for that: text starting with U+FEFF would
    turn into one in plain UTF-8)."""
    text = header + body

    parsed = parse_csv(_encode(text, encoding), source="t.csv", default_region="NL")

    _assert_well_formed(parsed, "t.csv", _physical_lines(text) + 1)
    if encoding in {"utf-16", "utf-16-le-bom", "utf-16-be-bom"} and "\x00" not in text:
        as_utf8 = parse_csv(codecs.BOM_UTF8 + text.encode("utf-8"), source="t.csv", default_region="NL")
        assert (parsed.accepted, parsed.rows) == (as_utf8.accepted, as_utf8.rows)
        if not any("byte" in error for error in parsed.file_errors + as_utf8.file_errors):
            assert parsed.file_errors == as_utf8.file_errors


@st.composite
def csv_files(draw: st.DrawFn) -> tuple[bytes, list[tuple[int, UserSpec | None]], int]:
    """A file of valid users and junk rows, in a random dialect, column order, header spelling,
    preamble and encoding; with each data row's line and its user (None for junk)."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    newline = draw(st.sampled_from(["\r\n", "\n", "\r"]))
    quoting: Quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    columns = draw(st.permutations(COLUMNS))
    preamble = draw(st.sampled_from(["", f"sep={delimiter}", "#TYPE System.Object", '# "exported"', " "]))
    head = (preamble + newline if preamble else "") + _write(
        [draw(st.sampled_from(ALIASES[c])) for c in columns], delimiter, newline, quoting
    )
    parts, rows = [head], []
    line = 1 + _physical_lines(head)
    for index in range(draw(st.integers(1, 8))):
        spec = draw(user_specs(index)) if draw(st.booleans()) else None
        junk = [draw(JUNK.filter(lambda t: "@contoso" not in t)) for _ in columns]
        if quoting == csv.QUOTE_MINIMAL:  # csv.writer leaves a lone CR or LF unquoted there
            junk = [re.sub(r"[\r\n]", " ", cell) for cell in junk]
        cells = [spec.cells.get(c, "") for c in columns] if spec else junk
        written = _write(cells, delimiter, newline, quoting)
        if any(cell.strip() for cell in cells):
            rows.append((line, spec))
        parts.append(written)
        line += _physical_lines(written)
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    return "".join(parts).encode(encoding), rows, line


@SLOW
@given(generated=csv_files())
def test_every_data_row_of_a_generated_file_is_one_result_and_valid_users_read_back_exactly(generated):
    """Each non-blank record is exactly one row on its own line; the valid users among junk rows
    come back with the values that were written, normalised."""
    data, expected, lines = generated

    parsed = parse_csv(data, source="g.csv")

    _assert_well_formed(parsed, "g.csv", lines)
    assert parsed.accepted is bool(expected), parsed.file_errors
    assert [row.line for row in parsed.rows] == [line for line, _ in expected]
    for row, (line, spec) in zip(parsed.rows, expected, strict=True):
        if spec is not None:
            wanted = DesiredRow(**{**spec.expected.__dict__, "line": line, "managed": parsed.managed})
            assert row == wanted


@SLOW
@given(users=st.integers(1, 6).flatmap(lambda n: st.tuples(*(user_specs(i) for i in range(n)))))
def test_valid_rows_written_back_with_csv_writer_read_back_the_same(users):
    """Parsed rows, written out again with csv.writer in Graph's form, parse to the same rows."""
    header = COLUMNS
    first = parse_csv(
        "".join(
            _write(r, ",", "\r\n", csv.QUOTE_MINIMAL)
            for r in [header] + [[u.cells.get(c, "") for c in header] for u in users]
        ).encode(),
        source="a.csv",
    )
    assert all(row.valid for row in first.rows), [row.errors for row in first.rows]

    again = [
        [
            row.user,
            *(row.values.get(kind, "") for kind in (MOBILE, ALT, OFFICE, EMAIL)),
            str(row.forced_update),
            row.sms_sign_in.value if row.sms_sign_in else "",
            row.default_method.value if row.default_method else "",
        ]
        for row in first.rows
    ]
    second = parse_csv(
        "".join(_write(r, ";", "\n", csv.QUOTE_ALL) for r in [header, *again]).encode(), source="a.csv"
    )

    assert second.rows == first.rows


# --- The phone normaliser ----------------------------------------------------------------------

PHONE_TEXT = st.one_of(
    st.text(max_size=40),
    st.text(
        alphabet=st.sampled_from([*"+0123456789 ()-./x#ext[]", "\u00a0", "\uff11", "\u0661", "\u200b"]),
        max_size=30,
    ),
)


def _normalised_or_none(text: str, region: str | None) -> str | None:
    try:
        return normalise_phone(text, region)
    except PhoneError:
        return None


@settings(deadline=None, max_examples=400)
@given(text=PHONE_TEXT, region=st.sampled_from(REGIONS))
def test_any_text_is_a_graph_form_number_or_a_phone_error_and_normalising_is_idempotent(text, region):
    """Any text gives Graph's +CC NUMBER[xEXT] form or PhoneError; the form normalises to itself,
    with or without a default region."""
    result = _normalised_or_none(text, region)
    if result is None:
        return

    assert GRAPH_FORM.fullmatch(result)
    assert normalise_phone(result, None) == result
    assert normalise_phone(result, "US") == result


@settings(deadline=None, max_examples=300)
@given(written=written_numbers())
def test_example_numbers_of_every_region_in_every_format_normalise_to_graph_form(written):
    """phonenumbers' example numbers, written internationally, with 00, as tel: or nationally (with
    their region), any separator and an extension, all give +CC NSN[xEXT]; that form round-trips."""
    text, region, graph = written

    assert normalise_phone(text, region) == graph
    assert normalise_phone(graph, None) == graph


INVISIBLE = st.sampled_from(
    ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u202a", "\u202c", "\u202e", "\u2066"]
)


@FAST
@given(number=st.sampled_from(EXAMPLES), invisible=INVISIBLE, at=st.integers(2, 20))
def test_an_invisible_character_inside_a_number_is_refused_by_name(number, invisible, at):
    """A zero-width or direction-control character after the +CC digit never slips through:
    PhoneError names it (right after the + it is a formula, refused as such)."""
    graph = _graph_form(number)
    at = min(at, len(graph))

    with pytest.raises(PhoneError) as caught:
        normalise_phone(graph[:at] + invisible + graph[at:], None)

    assert f"U+{ord(invisible):04X}" in str(caught.value)


# --- The HTTP payload parser --------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=25,
)
USER_FIELDS = [
    "upn",
    "mobile",
    "alternateMobile",
    "office",
    "email",
    "forcedUpdate",
    "forcedRemoval",
    "smsSignIn",
    "defaultMethod",
]
MAX_USERS = 5


def _parse_or_error(body: bytes) -> ProvisionRequest | PayloadError:
    """The request, or the PayloadError it raised, well-formed; any other exception fails the test."""
    try:
        return parse_body(body, default_region="NL", max_users=MAX_USERS)
    except PayloadError as exc:
        error = exc
    assert error.code in set(ErrorCode)
    assert error.message
    assert error.field is None or isinstance(error.field, str)
    return error


@FAST
@given(
    body=st.one_of(st.binary(max_size=200), st.binary(max_size=60).map(lambda b: b'{"upn": "' + b + b'"}'))
)
def test_any_bytes_give_a_request_or_a_payload_error(body):
    """Arbitrary bytes (whole, or inside an otherwise valid body) never raise anything else."""
    _parse_or_error(body)


@FAST
@given(
    document=st.one_of(
        JSON_VALUES,
        st.dictionaries(st.sampled_from([*USER_FIELDS, "users", "dryRun"]), JSON_VALUES, max_size=6),
    )
)
def test_any_json_value_gives_a_request_or_a_payload_error(document):
    """Any JSON document, including objects using the real field names, parses or is refused."""
    _parse_or_error(json.dumps(document).encode())


@st.composite
def valid_users(draw: st.DrawFn, index: int) -> tuple[dict[str, Any], DesiredRow]:
    """A valid user object for the API and the row it must become (line 0: set by the caller)."""
    upn = f"user{index}@contoso.test"
    document: dict[str, Any] = {"upn": upn}
    values: dict[MethodKind, str] = {}
    managed = set()
    for field, kind in (("mobile", MOBILE), ("alternateMobile", ALT), ("office", OFFICE)):
        choice = draw(st.sampled_from(["absent", "null", "number"]))
        if choice == "number":
            text, region, graph = draw(written_numbers())
            if region not in {None, "NL"}:
                text, graph = graph, graph  # another region's national form needs that region
            document[field], values[kind] = text, graph
        elif choice == "null":
            document[field] = None
        if choice != "absent":
            managed.add(kind)
    if draw(st.booleans()):
        email = draw(EMAILS)
        document["email"], values[EMAIL] = email, email.lower()
        managed.add(EMAIL)
    flags = {name: draw(st.booleans()) for name in ("forcedUpdate", "forcedRemoval") if draw(st.booleans())}
    sms = draw(st.sampled_from([None, *SmsSignIn]))
    default = draw(st.sampled_from([None, *DefaultMethod]))
    document |= flags
    document |= {"smsSignIn": sms.value} if sms else {}
    document |= {"defaultMethod": default.value} if default else {}
    row = DesiredRow(
        line=0,
        user=upn,
        values=values,
        managed=frozenset(managed),
        forced_update=flags.get("forcedUpdate", False),
        forced_removal=flags.get("forcedRemoval", False),
        sms_sign_in=sms,
        default_method=default,
    )
    return document, row


@st.composite
def valid_requests(draw: st.DrawFn) -> tuple[dict[str, Any], tuple[DesiredRow, ...], bool]:
    count = draw(st.integers(1, MAX_USERS))
    users = [draw(valid_users(i)) for i in range(count)]
    dry_run = draw(st.booleans())
    rows = tuple(DesiredRow(**{**row.__dict__, "line": i + 1}) for i, (_, row) in enumerate(users))
    if count == 1 and draw(st.booleans()):
        return {**users[0][0], "dryRun": dry_run}, rows, dry_run
    return {"users": [user for user, _ in users], "dryRun": dry_run}, rows, dry_run


@SLOW
@given(request=valid_requests())
def test_valid_documents_parse_to_exactly_their_rows(request):
    """A valid body (one user, or a list) gives one row per user with normalised values, in order."""
    document, rows, dry_run = request

    parsed = parse_body(json.dumps(document).encode(), default_region="NL", max_users=MAX_USERS)

    assert parsed.rows == rows
    assert parsed.dry_run is dry_run


Mutation = Callable[[dict[str, Any]], None]


def _mutations(draw: st.DrawFn, target: dict[str, Any]) -> Mutation:
    field = draw(st.sampled_from([*sorted(target), "upn", "unknownField", "mobilePhone"]))
    kind = draw(st.sampled_from(["replace", "delete", "perturb", "duplicate-user", "too-many"]))
    value = draw(JSON_VALUES)
    junk = draw(st.text(min_size=1, max_size=3))
    position = draw(st.integers(0, 40))

    def mutate(document: dict[str, Any]) -> None:
        if kind == "replace":
            target[field] = value
        elif kind == "delete":
            target.pop(field, None)
        elif kind == "perturb" and isinstance(target.get(field), str):
            text = target[field]
            target[field] = text[:position] + junk + text[position:]
        elif kind == "duplicate-user" and "users" in document:
            document["users"].append(dict(document["users"][0]))
        elif kind == "too-many" and "users" in document:
            document["users"].extend({"upn": f"extra{i}@contoso.test"} for i in range(MAX_USERS))

    return mutate


def _private(value: object) -> bool:
    """Whether *value* would be personal data if echoed: a phone-like or email-like string."""
    return (
        isinstance(value, str) and len(value) >= 8 and (len(re.findall(r"[0-9]", value)) >= 5 or "@" in value)
    )


@SLOW
@given(data=st.data(), request=valid_requests())
def test_near_valid_documents_parse_or_are_refused_without_echoing_values(data, request):
    """A valid body with one field replaced, removed or garbled parses or raises PayloadError; a
    refused body never repeats a phone or email value whole."""
    document, _, _ = request
    users = document.get("users", [document])
    target = users[data.draw(st.integers(0, len(users) - 1))]
    _mutations(data.draw, target)(document)

    answer = _parse_or_error(json.dumps(document).encode())

    if isinstance(answer, PayloadError):
        for name in ("mobile", "alternateMobile", "office", "email"):
            value = target.get(name)
            assert not (_private(value) and value in answer.message), (name, answer.message)
