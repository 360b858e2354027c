"""The JSON request body into DesiredRows: shapes, absent vs null fields, and every input error."""

from __future__ import annotations

import json

import pytest

from provisioning.core.models import ALL_KINDS, DefaultMethod, DesiredRow, MethodKind, SmsSignIn
from provisioning.entrypoints.http.input import (
    decode_json,
    parse_body,
    parse_document,
)
from provisioning.errors import ErrorCode, PayloadError

MOBILE, ALT, OFFICE, EMAIL = (
    MethodKind.MOBILE,
    MethodKind.ALTERNATE_MOBILE,
    MethodKind.OFFICE,
    MethodKind.EMAIL,
)
ANN, BOB = "ann@contoso.test", "bob@contoso.test"


def parse(document: object, *, region: str | None = "NL", max_users: int = 1_000):
    return parse_document(document, default_region=region, max_users=max_users)


def error_of(document: object, **kwargs) -> PayloadError:
    with pytest.raises(PayloadError) as caught:
        parse(document, **kwargs)
    return caught.value


def test_one_user_object_is_one_row():
    """A body that is one user object becomes one row on line 1, not a dry run."""
    request = parse({"upn": ANN, "mobile": "+31 6 1234 5678"})

    assert request.rows == (DesiredRow(1, ANN, {MOBILE: "+31 612345678"}, managed=frozenset({MOBILE})),)
    assert request.dry_run is False


def test_a_user_list_keeps_request_order_and_numbers_lines_from_one():
    """Users in a list become rows in request order, line = 1-based position."""
    request = parse({"users": [{"upn": BOB}, {"upn": ANN}], "dryRun": True})

    assert [(row.line, row.user) for row in request.rows] == [(1, BOB), (2, ANN)]
    assert request.dry_run is True


def test_a_single_user_object_may_carry_dry_run():
    """``dryRun`` is allowed beside the fields of a single user."""
    assert parse({"upn": ANN, "dryRun": True}).dry_run is True


def test_all_fields_are_parsed_like_csv_cells():
    """Phones are normalised with the default region, emails lower-cased, enums and flags kept."""
    request = parse(
        {
            "upn": "3F2504E0-4F89-41D3-9A0C-0305E82C3301",
            "mobile": "06 12345678",
            "alternateMobile": "0031 6 8765 4321",
            "office": "020-1234567 x12",
            "email": "Ann.Private@Example.COM",
            "forcedUpdate": True,
            "forcedRemoval": False,
            "smsSignIn": "disable",
            "defaultMethod": "voiceMobile",
        }
    )

    assert request.rows == (
        DesiredRow(
            1,
            "3f2504e0-4f89-41d3-9a0c-0305e82c3301",
            {
                MOBILE: "+31 612345678",
                ALT: "+31 687654321",
                OFFICE: "+31 201234567x12",
                EMAIL: "ann.private@example.com",
            },
            managed=frozenset(ALL_KINDS),
            forced_update=True,
            sms_sign_in=SmsSignIn.DISABLE,
            default_method=DefaultMethod.VOICE_MOBILE,
        ),
    )


@pytest.mark.parametrize(
    ("user", "values", "managed"),
    [
        pytest.param({}, {}, set(), id="absent-fields-are-not-managed"),
        pytest.param({"mobile": None}, {}, {MOBILE}, id="null-is-managed-and-empty"),
        pytest.param({"email": "  "}, {}, {EMAIL}, id="blank-is-managed-and-empty"),
        pytest.param(
            {"mobile": "+31612345678", "office": ""},
            {MOBILE: "+31 612345678"},
            {MOBILE, OFFICE},
            id="only-present-fields-are-managed",
        ),
    ],
)
def test_absent_and_null_fields(user, values, managed):
    """An absent method field is not managed; null or blank is managed and asks for none."""
    (row,) = parse({"upn": ANN, **user}).rows

    assert dict(row.values) == values
    assert row.managed == frozenset(managed)


@pytest.mark.parametrize("value", [None, ""])
def test_null_or_empty_enums_leave_the_setting_alone(value):
    """``smsSignIn`` and ``defaultMethod`` null or empty mean "leave it alone"."""
    (row,) = parse({"upn": ANN, "smsSignIn": value, "defaultMethod": value}).rows

    assert (row.sms_sign_in, row.default_method) == (None, None)


@pytest.mark.parametrize(
    ("document", "code", "field"),
    [
        pytest.param([{"upn": ANN}], ErrorCode.INVALID_REQUEST, None, id="list-body"),
        pytest.param("ann", ErrorCode.INVALID_REQUEST, None, id="string-body"),
        pytest.param({"users": {"upn": ANN}}, ErrorCode.INVALID_REQUEST, "users", id="users-not-a-list"),
        pytest.param({"users": []}, ErrorCode.INVALID_REQUEST, "users", id="empty-users"),
        pytest.param(
            {"users": [{"upn": ANN}, 3]}, ErrorCode.INVALID_REQUEST, "users[1]", id="user-not-object"
        ),
        pytest.param({"upn": ANN, "mobilePhone": "x"}, ErrorCode.UNKNOWN_FIELD, "mobilePhone", id="unknown"),
        pytest.param(
            {"users": [{"upn": ANN}, {"upn": BOB}, {"upn": "c@contoso.test", "mobilePhone": "1"}]},
            ErrorCode.UNKNOWN_FIELD,
            "users[2].mobilePhone",
            id="unknown-in-list",
        ),
        pytest.param(
            {"users": [{"upn": ANN}], "upn": ANN}, ErrorCode.UNKNOWN_FIELD, "upn", id="mixed-shapes"
        ),
        pytest.param(
            {"users": [{"upn": ANN, "dryRun": True}]},
            ErrorCode.UNKNOWN_FIELD,
            "users[0].dryRun",
            id="dry-run-per-user-in-list",
        ),
        pytest.param({"mobile": "+31612345678"}, ErrorCode.MISSING_FIELD, "upn", id="missing-upn"),
        pytest.param({"upn": ""}, ErrorCode.INVALID_FIELD, "upn", id="empty-upn"),
        pytest.param({"upn": 7}, ErrorCode.INVALID_FIELD, "upn", id="number-upn"),
        pytest.param({"upn": "not a user"}, ErrorCode.INVALID_FIELD, "upn", id="bad-upn"),
        pytest.param(
            {
                "users": [
                    {"upn": ANN},
                    {"upn": BOB},
                    {"upn": "c@contoso.test"},
                    {"upn": ANN, "mobile": "+31 612"},
                ]
            },
            ErrorCode.INVALID_FIELD,
            "users[3].mobile",
            id="bad-phone-in-list",
        ),
        pytest.param({"upn": ANN, "mobile": 612345678}, ErrorCode.INVALID_FIELD, "mobile", id="number-phone"),
        pytest.param({"upn": ANN, "email": "ann@"}, ErrorCode.INVALID_FIELD, "email", id="bad-email"),
        pytest.param(
            {"upn": ANN, "forcedUpdate": "yes"}, ErrorCode.INVALID_FIELD, "forcedUpdate", id="str-bool"
        ),
        pytest.param(
            {"upn": ANN, "forcedRemoval": 1}, ErrorCode.INVALID_FIELD, "forcedRemoval", id="int-bool"
        ),
        pytest.param(
            {"upn": ANN, "forcedRemoval": None}, ErrorCode.INVALID_FIELD, "forcedRemoval", id="null-bool"
        ),
        pytest.param(
            {"users": [{"upn": ANN}], "dryRun": "true"}, ErrorCode.INVALID_FIELD, "dryRun", id="str-dry"
        ),
        pytest.param({"upn": ANN, "smsSignIn": "on"}, ErrorCode.INVALID_FIELD, "smsSignIn", id="bad-sms"),
        pytest.param(
            {"upn": ANN, "smsSignIn": "Enable"}, ErrorCode.INVALID_FIELD, "smsSignIn", id="sms-case"
        ),
        pytest.param({"upn": ANN, "smsSignIn": True}, ErrorCode.INVALID_FIELD, "smsSignIn", id="bool-sms"),
        pytest.param(
            {"upn": ANN, "defaultMethod": "fido"}, ErrorCode.INVALID_FIELD, "defaultMethod", id="bad-dm"
        ),
        pytest.param(
            {"users": [{"upn": ANN}, {"upn": BOB}, {"upn": "Ann@Contoso.test"}]},
            ErrorCode.DUPLICATE_USER,
            "users[2].upn",
            id="duplicate-user",
        ),
        pytest.param(
            {"users": [{"upn": ANN}, {"upn": BOB}, {"upn": "c@contoso.test"}]},
            ErrorCode.TOO_MANY_USERS,
            "users",
            id="too-many-users",
        ),
    ],
)
def test_invalid_documents_name_the_code_and_field(document, code, field):
    """Each kind of bad document raises PayloadError with its code and the field to fix."""
    error = error_of(document, max_users=2 if code is ErrorCode.TOO_MANY_USERS else 1_000)

    assert (error.code, error.field) == (code, field)
    assert field is None or error.message.startswith(field) or error.code is ErrorCode.DUPLICATE_USER


def test_duplicate_users_name_both_indexes():
    """Two entries for one user (case-insensitive) name both positions."""
    error = error_of({"users": [{"upn": ANN}, {"upn": BOB}, {"upn": ANN.upper()}]})

    assert "users[0]" in error.message
    assert "users[2]" in error.message


def test_an_unknown_field_suggests_the_close_one():
    """A misspelt field name gets a suggestion."""
    error = error_of({"upn": ANN, "mobilePhone": "+31612345678"})

    assert "did you mean mobile?" in error.message


@pytest.mark.parametrize(
    ("field", "value", "hidden"),
    [
        pytest.param("mobile", "+31 6123456", "6123456", id="phone"),
        pytest.param("office", "06-1234-5678-9999", "1234", id="phone-too-long"),
        pytest.param("email", "alice.private@@example.com", "alice", id="email"),
        pytest.param("upn", "+31612345678", "612345", id="phone-as-upn"),
        pytest.param("forcedUpdate", "ann.private@example.com", "ann.private", id="email-as-bool"),
    ],
)
def test_messages_never_echo_a_phone_number_or_email(field, value, hidden):
    """The message says what to fix and shows the value masked."""
    error = error_of({"upn": ANN, field: value})

    assert error.field == field
    assert hidden not in error.message


def test_a_phone_without_country_code_needs_a_default_region():
    """Without a default region a national number is invalid, with a hint to the setting."""
    error = error_of({"upn": ANN, "mobile": "0612345678"}, region=None)

    assert error.code is ErrorCode.INVALID_FIELD
    assert "PROVISIONING_DEFAULT_REGION" in error.message


@pytest.mark.parametrize(
    ("body", "words"),
    [
        pytest.param(b'{"upn": "ann@contoso.test",\n "mobile": }', "line 2, column 12", id="syntax"),
        pytest.param(b"", "empty", id="empty"),
        pytest.param(b"\xff\xfe{}", "not UTF-8", id="not-utf8"),
        pytest.param(b'{"upn": NaN}', "NaN", id="nan"),
        pytest.param(b'{"upn": "a", "upn": "b"}', "appears twice", id="duplicate-key"),
        pytest.param(b"[" * 100_000, "nested too deeply", id="deep"),
        pytest.param(b'{"upn": ' + b"9" * 5_000 + b"}", "not usable JSON", id="huge-int"),
    ],
)
def test_unreadable_json_is_invalid_json_with_where(body, words):
    """Bodies that are not JSON raise invalidJson saying where or why."""
    with pytest.raises(PayloadError) as caught:
        decode_json(body)

    assert caught.value.code is ErrorCode.INVALID_JSON
    assert words in caught.value.message


def test_a_byte_order_mark_is_accepted():
    """A UTF-8 byte order mark before the JSON is skipped."""
    body = b"\xef\xbb\xbf" + json.dumps({"upn": ANN}).encode()

    assert parse_body(body, default_region=None, max_users=1).rows[0].user == ANN
