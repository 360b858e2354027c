"""Lossless JSON for queue messages and result blobs: round trips, compact shapes, strict rejection (pure)."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from provisioning.core.models import (
    PHONE_KINDS,
    WRITE_OPERATIONS,
    Action,
    AddEmail,
    AddPhone,
    CurrentMethods,
    Decision,
    DefaultMethod,
    DeleteEmail,
    DeletePhone,
    DesiredRow,
    MethodKind,
    Operation,
    OperationResult,
    Outcome,
    OutcomeKind,
    Plan,
    SetDefaultMethod,
    SetSmsSignIn,
    SmsSignIn,
    Subject,
    UpdateEmail,
    UpdatePhone,
)
from provisioning.core.serialization import (
    current_from_json,
    current_to_json,
    dumps,
    operation_from_json,
    operation_to_json,
    outcome_from_json,
    outcome_to_json,
    row_from_json,
    row_to_json,
)
from provisioning.errors import InputError
from tests.builders import ALT, EMAIL, MOBILE, OFFICE, USER, A, B, C

# --- strategies: arbitrary valid instances of every type ---------------------------------------

texts = st.text(max_size=12)
optional_texts = st.none() | texts
kinds = st.sampled_from(MethodKind)
kind_maps = st.dictionaries(kinds, texts, max_size=4)
text_tuples = st.lists(texts, max_size=3).map(tuple)

rows = st.builds(
    DesiredRow,
    line=st.integers(),
    user=texts,
    values=kind_maps,
    managed=st.frozensets(kinds),
    forced_update=st.booleans(),
    forced_removal=st.booleans(),
    sms_sign_in=st.none() | st.sampled_from(SmsSignIn),
    default_method=st.none() | st.sampled_from(DefaultMethod),
    errors=text_tuples,
)
currents = st.builds(
    CurrentMethods,
    user=texts,
    phones=kind_maps,
    email=optional_texts,
    email_known=st.booleans(),
    sms_sign_in_state=optional_texts,
    default_method=optional_texts,
    default_known=st.booleans(),
    system_preferred=st.none() | st.booleans(),
    other_methods=text_tuples,
)
OPERATION_STRATEGIES: dict[type[Operation], st.SearchStrategy[Operation]] = {
    AddPhone: st.builds(AddPhone, texts, kinds, texts),
    UpdatePhone: st.builds(UpdatePhone, texts, kinds, texts, texts),
    DeletePhone: st.builds(DeletePhone, texts, kinds, texts),
    AddEmail: st.builds(AddEmail, texts, texts),
    UpdateEmail: st.builds(UpdateEmail, texts, texts, texts),
    DeleteEmail: st.builds(DeleteEmail, texts, texts),
    SetDefaultMethod: st.builds(SetDefaultMethod, texts, st.sampled_from(DefaultMethod), optional_texts),
    SetSmsSignIn: st.builds(SetSmsSignIn, texts, st.booleans()),
}
operations = st.one_of(*OPERATION_STRATEGIES.values())
decisions = st.builds(
    Decision, st.sampled_from(Subject), st.sampled_from(Action), texts, optional_texts, optional_texts
)
plans = st.builds(
    Plan, texts, st.lists(operations, max_size=4).map(tuple), st.lists(decisions, max_size=4).map(tuple)
)
results = st.builds(OperationResult, operations, st.booleans(), optional_texts, optional_texts)
outcomes = st.builds(
    Outcome,
    row=rows,
    kind=st.sampled_from(OutcomeKind),
    plan=st.none() | plans,
    current=st.none() | currents,
    results=st.lists(results, max_size=3).map(tuple),
    error=optional_texts,
    sms_sign_in_state=optional_texts,
    request_ids=text_tuples,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=12,
)

CODECS = [
    pytest.param(rows, row_to_json, row_from_json, id="row"),
    pytest.param(currents, current_to_json, current_from_json, id="current"),
    pytest.param(operations, operation_to_json, operation_from_json, id="operation"),
    pytest.param(outcomes, outcome_to_json, outcome_from_json, id="outcome"),
]
READERS = [
    pytest.param(row_from_json, id="row"),
    pytest.param(current_from_json, id="current"),
    pytest.param(operation_from_json, id="operation"),
    pytest.param(outcome_from_json, id="outcome"),
]


def is_plain_json(value: object) -> bool:
    """True when *value* is built only of the types ``json.loads`` returns (no tuples, enums, sets)."""
    if isinstance(value, dict):
        return all(type(k) is str and is_plain_json(v) for k, v in value.items())
    if isinstance(value, list):
        return all(is_plain_json(item) for item in value)
    return value is None or type(value) in {str, int, bool}


def leaf_paths(value: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every position inside a JSON document, the document itself first."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += leaf_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += leaf_paths(item, (*prefix, index))
    return paths


def replaced(document: object, path: tuple[object, ...], new: object) -> object:
    """A copy of *document* with the value at *path* replaced by *new*."""
    if not path:
        return new
    copy = json.loads(json.dumps(document))
    parent = copy
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return copy


# --- round trips -------------------------------------------------------------------------------


@pytest.mark.parametrize(("values", "to_json", "from_json"), CODECS)
@settings(deadline=None, max_examples=200)
@given(data=st.data())
def test_every_value_survives_a_json_round_trip(values, to_json, from_json, data):
    """Reading back the parsed JSON text of any value gives an equal value."""
    value = data.draw(values)

    text = dumps(to_json(value))

    assert from_json(json.loads(text)) == value


@pytest.mark.parametrize(("values", "to_json", "from_json"), CODECS)
@settings(deadline=None)
@given(data=st.data())
def test_writers_produce_plain_json(values, to_json, from_json, data):
    """Writers return only dicts, lists, strings, ints, booleans and null, so parsing the text changes nothing."""
    document = to_json(data.draw(values))

    assert is_plain_json(document)
    assert json.loads(dumps(document)) == document


@pytest.mark.parametrize("variant", WRITE_OPERATIONS)
@settings(deadline=None)
@given(data=st.data())
def test_every_operation_variant_round_trips(variant, data):
    """Each variant of the Operation union comes back as the same variant with equal fields."""
    op = data.draw(OPERATION_STRATEGIES[variant])

    back = operation_from_json(json.loads(dumps(operation_to_json(op))))

    assert type(back) is variant
    assert back == op


def test_operation_strategies_cover_the_whole_union():
    """The strategies build every Operation variant the models define."""
    assert set(OPERATION_STRATEGIES) == set(WRITE_OPERATIONS)


def test_each_operation_variant_has_its_own_tag():
    """No two Operation variants share an ``op`` tag."""
    examples: list[Operation] = [
        AddPhone(USER, MOBILE, A),
        UpdatePhone(USER, MOBILE, B, A),
        DeletePhone(USER, OFFICE, C),
        AddEmail(USER, "a@b.test"),
        UpdateEmail(USER, "a@b.test", "c@d.test"),
        DeleteEmail(USER, "a@b.test"),
        SetDefaultMethod(USER, DefaultMethod.SMS, None),
        SetSmsSignIn(USER, enable=True),
    ]

    tags = {operation_to_json(op)["op"] for op in examples}

    assert {type(op) for op in examples} == set(WRITE_OPERATIONS)
    assert len(tags) == len(WRITE_OPERATIONS)


# --- shapes ------------------------------------------------------------------------------------


def test_a_row_at_its_defaults_writes_only_line_and_user():
    """Empty values, all kinds managed, no flags and no errors are left out of the JSON."""
    document = row_to_json(DesiredRow(7, USER))

    assert document == {"line": 7, "user": USER}


def test_a_full_row_uses_camel_case_names_and_enum_values():
    """Non-default row fields are written under camelCase names, enums as values, sets sorted."""
    row = DesiredRow(
        3,
        USER,
        {MOBILE: A, EMAIL: "ann@fabrikam.test"},
        managed=frozenset({OFFICE, MOBILE, EMAIL}),
        forced_update=True,
        forced_removal=True,
        sms_sign_in=SmsSignIn.ENABLE,
        default_method=DefaultMethod.VOICE_MOBILE,
        errors=("bad office",),
    )

    document = row_to_json(row)

    assert document == {
        "line": 3,
        "user": USER,
        "values": {"mobile": A, "email": "ann@fabrikam.test"},
        "managed": ["email", "mobile", "office"],
        "forcedUpdate": True,
        "forcedRemoval": True,
        "smsSignIn": "enable",
        "defaultMethod": "voiceMobile",
        "errors": ["bad office"],
    }


def test_no_managed_kinds_is_written_as_an_empty_list():
    """An empty ``managed`` differs from the default, so it is written rather than dropped."""
    document = row_to_json(DesiredRow(2, USER, managed=frozenset()))

    assert document == {"line": 2, "user": USER, "managed": []}


def test_current_methods_write_non_defaults_only():
    """A read keeps what differs from the defaults, including an explicit False and phones by kind."""
    current = CurrentMethods(USER, {ALT: B}, email_known=False, system_preferred=False)

    document = current_to_json(current)

    assert document == {
        "user": USER,
        "phones": {"alternateMobile": B},
        "emailKnown": False,
        "systemPreferred": False,
    }


def test_a_required_none_is_kept_as_null():
    """An operation writes every field, so a missing previous default method is an explicit null."""
    document = operation_to_json(SetDefaultMethod(USER, DefaultMethod.PUSH, None))

    assert document == {"op": "setDefaultMethod", "user": USER, "method": "push", "previous": None}


def test_outcome_nests_plan_results_and_read():
    """An outcome writes its row, plan, read and results nested, and leaves out empty defaults."""
    op = AddPhone(USER, MOBILE, A)
    outcome = Outcome(
        DesiredRow(2, USER, {MOBILE: A}),
        OutcomeKind.CHANGED,
        plan=Plan(USER, (op,), (Decision(Subject.MOBILE, Action.ADD, "missing", new=A),)),
        current=CurrentMethods(USER),
        results=(OperationResult(op, ok=True, request_id="req-1"),),
    )

    document = outcome_to_json(outcome)

    assert document == {
        "row": {"line": 2, "user": USER, "values": {"mobile": A}},
        "kind": "changed",
        "plan": {
            "user": USER,
            "operations": [{"op": "addPhone", "user": USER, "kind": "mobile", "number": A}],
            "decisions": [{"subject": "mobile", "action": "add", "reason": "missing", "new": A}],
        },
        "current": {"user": USER},
        "results": [
            {
                "operation": {"op": "addPhone", "user": USER, "kind": "mobile", "number": A},
                "ok": True,
                "requestId": "req-1",
            }
        ],
    }


def test_dumps_is_compact_and_keeps_non_ascii():
    """The text has no spaces after separators, keeps key order and writes non-ASCII characters as is."""
    text = dumps({"user": "zoë@contoso.test", "a": [1, 2]})

    assert text == '{"user":"zoë@contoso.test","a":[1,2]}'


def test_a_chunk_of_twenty_realistic_rows_is_far_below_the_queue_limit():
    """Twenty fully filled rows serialise to under 8 KiB, far below a queue message's 48 KiB of JSON."""
    chunk = [
        DesiredRow(
            line=1000 + n,
            user=f"firstname.lastname{n:04d}@contoso-europe.onmicrosoft.com",
            values={
                MOBILE: f"+31 6{n:08d}",
                ALT: f"+44 7{n:09d}",
                OFFICE: f"+1 425555{n:04d}x1234",
                EMAIL: f"private.address{n:04d}@fabrikam-mail.example",
            },
            forced_update=True,
            forced_removal=n % 2 == 0,
            sms_sign_in=SmsSignIn.ENABLE,
            default_method=DefaultMethod.VOICE_ALTERNATE_MOBILE,
        )
        for n in range(20)
    ]

    text = dumps({"rows": [row_to_json(row) for row in chunk]})

    assert len(text.encode("utf-8")) < 8 * 1024
    assert [row_from_json(item) for item in json.loads(text)["rows"]] == chunk


# --- rejection ---------------------------------------------------------------------------------

ROW = {"line": 2, "user": USER}
OP = {"op": "updatePhone", "user": USER, "kind": "mobile", "number": B, "previous": A}
OUTCOME = {"row": ROW, "kind": "changed"}
KINDS_LIST = "mobile, alternateMobile, office, email"


@pytest.mark.parametrize(
    ("read", "data", "message"),
    [
        pytest.param(row_from_json, [], "row: expected an object", id="row-not-object"),
        pytest.param(
            row_from_json, {"user": USER}, "row.line: missing required field", id="row-missing-line"
        ),
        pytest.param(
            row_from_json, {**ROW, "line": True}, "row.line: expected an integer", id="row-line-bool"
        ),
        pytest.param(
            row_from_json, {**ROW, "line": 2.0}, "row.line: expected an integer", id="row-line-float"
        ),
        pytest.param(row_from_json, {**ROW, "user": None}, "row.user: expected a string", id="row-user-null"),
        pytest.param(
            row_from_json, {**ROW, "values": []}, "row.values: expected an object", id="values-not-object"
        ),
        pytest.param(
            row_from_json,
            {**ROW, "values": {"mobile": 612345678}},
            "row.values.mobile: expected a string",
            id="value-not-string",
        ),
        pytest.param(
            row_from_json,
            {**ROW, "values": {"pager": A}},
            f"row.values.pager: unknown value 'pager', expected one of: {KINDS_LIST}",
            id="value-unknown-kind",
        ),
        pytest.param(
            row_from_json, {**ROW, "managed": "mobile"}, "row.managed: expected a list", id="managed-string"
        ),
        pytest.param(
            row_from_json,
            {**ROW, "managed": ["mobile", "Mobile"]},
            f"row.managed[1]: unknown value 'Mobile', expected one of: {KINDS_LIST}",
            id="managed-unknown-kind",
        ),
        pytest.param(
            row_from_json,
            {**ROW, "managed": ["email", "email"]},
            "row.managed: repeats a method kind",
            id="managed-repeats",
        ),
        pytest.param(
            row_from_json,
            {**ROW, "forcedUpdate": "yes"},
            "row.forcedUpdate: expected a boolean",
            id="flag-string",
        ),
        pytest.param(
            row_from_json,
            {**ROW, "forcedRemoval": None},
            "row.forcedRemoval: expected a boolean",
            id="flag-null",
        ),
        pytest.param(
            row_from_json,
            {**ROW, "smsSignIn": "on"},
            "row.smsSignIn: unknown value 'on', expected one of: enable, disable",
            id="sms-unknown",
        ),
        pytest.param(
            row_from_json, {**ROW, "errors": [1]}, "row.errors[0]: expected a string", id="errors-item"
        ),
        pytest.param(
            row_from_json,
            {**ROW, "forcedremoval": True},
            "row.forcedremoval: unknown field",
            id="misspelt-field",
        ),
        pytest.param(
            current_from_json, {}, "current.user: missing required field", id="current-missing-user"
        ),
        pytest.param(
            current_from_json,
            {"user": USER, "systemPreferred": "no"},
            "current.systemPreferred: expected a boolean",
            id="current-bad-nullable-bool",
        ),
        pytest.param(
            current_from_json,
            {"user": USER, "otherMethods": "fido2"},
            "current.otherMethods: expected a list",
            id="current-other-methods-string",
        ),
        pytest.param(
            operation_from_json, {"user": USER}, "operation.op: missing required field", id="op-missing"
        ),
        pytest.param(
            operation_from_json, {**OP, "op": 3}, "operation.op: expected a string", id="op-not-string"
        ),
        pytest.param(
            operation_from_json,
            {**OP, "op": "resetPassword"},
            "operation.op: unknown operation 'resetPassword', expected one of: addPhone, updatePhone, "
            "deletePhone, addEmail, updateEmail, deleteEmail, setDefaultMethod, setSmsSignIn",
            id="op-unknown",
        ),
        pytest.param(
            operation_from_json,
            {"op": "updatePhone", "user": USER, "kind": "mobile", "number": B},
            "operation.previous: missing required field",
            id="op-missing-field",
        ),
        pytest.param(
            operation_from_json,
            {**OP, "kind": "email", "address": "a@b.test"},
            "operation.address: unknown field",
            id="op-field-of-another-variant",
        ),
        pytest.param(
            operation_from_json,
            {"op": "setDefaultMethod", "user": USER, "method": "sms"},
            "operation.previous: missing required field",
            id="op-required-null-missing",
        ),
        pytest.param(
            operation_from_json,
            {"op": "setSmsSignIn", "user": USER, "enable": 1},
            "operation.enable: expected a boolean",
            id="op-int-for-bool",
        ),
        pytest.param(
            outcome_from_json, {"row": ROW}, "outcome.kind: missing required field", id="outcome-no-kind"
        ),
        pytest.param(
            outcome_from_json,
            {**OUTCOME, "kind": "done"},
            "outcome.kind: unknown value 'done', expected one of: changed, unchanged, skipped, failed, invalid",
            id="outcome-unknown-kind",
        ),
        pytest.param(
            outcome_from_json,
            {**OUTCOME, "row": {**ROW, "values": {"mobile": None}}},
            "outcome.row.values.mobile: expected a string",
            id="outcome-nested-row",
        ),
        pytest.param(
            outcome_from_json,
            {**OUTCOME, "plan": {"user": USER, "operations": [OP, {**OP, "op": "x"}], "decisions": []}},
            "outcome.plan.operations[1].op: unknown operation 'x', expected one of: addPhone, updatePhone, "
            "deletePhone, addEmail, updateEmail, deleteEmail, setDefaultMethod, setSmsSignIn",
            id="outcome-nested-operation",
        ),
        pytest.param(
            outcome_from_json,
            {**OUTCOME, "plan": {"user": USER, "operations": []}},
            "outcome.plan.decisions: missing required field",
            id="outcome-plan-missing-decisions",
        ),
        pytest.param(
            outcome_from_json,
            {**OUTCOME, "plan": {"user": USER, "operations": [], "decisions": [{"subject": "mobile"}]}},
            "outcome.plan.decisions[0].action: missing required field",
            id="outcome-decision-missing-action",
        ),
        pytest.param(
            outcome_from_json,
            {**OUTCOME, "results": [{"operation": OP}]},
            "outcome.results[0].ok: missing required field",
            id="outcome-result-missing-ok",
        ),
        pytest.param(
            outcome_from_json,
            {**OUTCOME, "requestIds": "req-1"},
            "outcome.requestIds: expected a list",
            id="outcome-request-ids-string",
        ),
    ],
)
def test_malformed_json_is_refused_with_its_path(read, data, message):
    """Wrong types, unknown values, missing and unknown fields raise InputError naming the path."""
    with pytest.raises(InputError) as caught:
        read(data)

    assert str(caught.value) == message


def test_the_caller_names_the_root_of_the_path():
    """A reader given a path prefixes its messages with it, so a chunk's rows are told apart."""
    items = [ROW, ROW, ROW, {**ROW, "values": {"mobile": 5}}]

    with pytest.raises(InputError) as caught:
        [row_from_json(item, path=f"rows[{n}]") for n, item in enumerate(items)]

    assert str(caught.value) == "rows[3].values.mobile: expected a string"


@pytest.mark.parametrize("read", READERS)
@settings(deadline=None, max_examples=200)
@given(data=json_values)
def test_arbitrary_json_gives_a_value_or_input_error(read, data):
    """No parsed JSON document makes a reader raise anything but InputError."""
    with contextlib.suppress(InputError):
        read(data)


@pytest.mark.parametrize(("values", "to_json", "from_json"), CODECS)
@settings(deadline=None, max_examples=200)
@given(data=st.data())
def test_a_damaged_document_gives_a_value_or_input_error(values, to_json, from_json, data):
    """Replacing any part of a valid document with other JSON never leaks an exception but InputError."""
    document = to_json(data.draw(values))
    path = data.draw(st.sampled_from(leaf_paths(document)))

    damaged = replaced(document, path, data.draw(json_values))

    with contextlib.suppress(InputError):
        from_json(damaged)


def test_phone_kinds_round_trip_in_their_mapping_order():
    """A read's phones come back in the order they were written, keyed by kind."""
    current = CurrentMethods(USER, {kind: A for kind in reversed(PHONE_KINDS)})

    back = current_from_json(json.loads(dumps(current_to_json(current))))

    assert list(back.phones) == list(reversed(PHONE_KINDS))
