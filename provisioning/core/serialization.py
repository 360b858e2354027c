"""Lossless JSON for the value types that cross a queue or a blob: rows, reads, operations, outcomes (pure).

Writers drop fields equal to their default, so queue messages stay small; readers take parsed JSON
as ``object``, refuse anything malformed with an ``InputError`` naming the path, and restore defaults.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import assert_never

from provisioning.core.json_fields import (
    JsonObject,
    enum_of,
    invalid,
    nullable,
    read_bool,
    read_int,
    read_str,
    tuple_of,
)
from provisioning.core.models import (
    ALL_KINDS,
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

# Fields a writer leaves out when they hold these (JSON) values; the readers restore the model defaults.
_ROW_DEFAULTS: Mapping[str, object] = {
    "values": {},
    "managed": sorted(kind.value for kind in ALL_KINDS),
    "forcedUpdate": False,
    "forcedRemoval": False,
    "smsSignIn": None,
    "defaultMethod": None,
    "errors": [],
}
_CURRENT_DEFAULTS: Mapping[str, object] = {
    "phones": {},
    "email": None,
    "emailKnown": True,
    "smsSignInState": None,
    "defaultMethod": None,
    "defaultKnown": False,
    "systemPreferred": None,
    "otherMethods": [],
}
_DECISION_DEFAULTS: Mapping[str, object] = {"previous": None, "new": None}
_RESULT_DEFAULTS: Mapping[str, object] = {"requestId": None, "error": None}
_OUTCOME_DEFAULTS: Mapping[str, object] = {
    "plan": None,
    "current": None,
    "results": [],
    "error": None,
    "smsSignInState": None,
    "requestIds": [],
}


def dumps(value: object) -> str:
    """Compact JSON text of *value* (a ``*_to_json`` result), non-ASCII kept as is, key order kept."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=False, allow_nan=False)


# --- writers -------------------------------------------------------------------------------------


def _compact(full: dict[str, object], defaults: Mapping[str, object]) -> dict[str, object]:
    return {key: value for key, value in full.items() if key not in defaults or value != defaults[key]}


def _kind_map(mapping: Mapping[MethodKind, str]) -> dict[str, object]:
    return {kind.value: value for kind, value in mapping.items()}


def _enum_value(value: StrEnum | None) -> str | None:
    return None if value is None else value.value


def row_to_json(row: DesiredRow) -> dict[str, object]:
    """``row`` as a JSON object; fields at their default are left out."""
    full: dict[str, object] = {
        "line": row.line,
        "user": row.user,
        "values": _kind_map(row.values),
        "managed": sorted(kind.value for kind in row.managed),
        "forcedUpdate": row.forced_update,
        "forcedRemoval": row.forced_removal,
        "smsSignIn": _enum_value(row.sms_sign_in),
        "defaultMethod": _enum_value(row.default_method),
        "errors": list(row.errors),
    }
    return _compact(full, _ROW_DEFAULTS)


def current_to_json(current: CurrentMethods) -> dict[str, object]:
    """``current`` as a JSON object; fields at their default are left out."""
    full: dict[str, object] = {
        "user": current.user,
        "phones": _kind_map(current.phones),
        "email": current.email,
        "emailKnown": current.email_known,
        "smsSignInState": current.sms_sign_in_state,
        "defaultMethod": current.default_method,
        "defaultKnown": current.default_known,
        "systemPreferred": current.system_preferred,
        "otherMethods": list(current.other_methods),
    }
    return _compact(full, _CURRENT_DEFAULTS)


def operation_to_json(op: Operation) -> dict[str, object]:
    """``op`` as a JSON object tagged by ``"op"``; every field is written, ``None`` as null."""
    match op:
        case AddPhone(user, kind, number):
            return {"op": "addPhone", "user": user, "kind": kind.value, "number": number}
        case UpdatePhone(user, kind, number, previous):
            return {
                "op": "updatePhone",
                "user": user,
                "kind": kind.value,
                "number": number,
                "previous": previous,
            }
        case DeletePhone(user, kind, previous):
            return {"op": "deletePhone", "user": user, "kind": kind.value, "previous": previous}
        case AddEmail(user, address):
            return {"op": "addEmail", "user": user, "address": address}
        case UpdateEmail(user, address, previous):
            return {"op": "updateEmail", "user": user, "address": address, "previous": previous}
        case DeleteEmail(user, previous):
            return {"op": "deleteEmail", "user": user, "previous": previous}
        case SetDefaultMethod(user, method, previous):
            return {"op": "setDefaultMethod", "user": user, "method": method.value, "previous": previous}
        case SetSmsSignIn(user, enable):
            return {"op": "setSmsSignIn", "user": user, "enable": enable}
        case _:
            assert_never(op)


def _decision_to_json(decision: Decision) -> dict[str, object]:
    full: dict[str, object] = {
        "subject": decision.subject.value,
        "action": decision.action.value,
        "reason": decision.reason,
        "previous": decision.previous,
        "new": decision.new,
    }
    return _compact(full, _DECISION_DEFAULTS)


def _plan_to_json(plan: Plan) -> dict[str, object]:
    return {
        "user": plan.user,
        "operations": [operation_to_json(op) for op in plan.operations],
        "decisions": [_decision_to_json(decision) for decision in plan.decisions],
    }


def _result_to_json(result: OperationResult) -> dict[str, object]:
    full: dict[str, object] = {
        "operation": operation_to_json(result.operation),
        "ok": result.ok,
        "requestId": result.request_id,
        "error": result.error,
    }
    return _compact(full, _RESULT_DEFAULTS)


def outcome_to_json(outcome: Outcome) -> dict[str, object]:
    """``outcome`` as a JSON object, its row, plan, read and results nested; defaults left out."""
    full: dict[str, object] = {
        "row": row_to_json(outcome.row),
        "kind": outcome.kind.value,
        "plan": None if outcome.plan is None else _plan_to_json(outcome.plan),
        "current": None if outcome.current is None else current_to_json(outcome.current),
        "results": [_result_to_json(result) for result in outcome.results],
        "error": outcome.error,
        "smsSignInState": outcome.sms_sign_in_state,
        "requestIds": list(outcome.request_ids),
    }
    return _compact(full, _OUTCOME_DEFAULTS)


# --- readers -------------------------------------------------------------------------------------


def _kind_set(data: object, path: str) -> frozenset[MethodKind]:
    kinds = tuple_of(enum_of(MethodKind))(data, path)
    if len(set(kinds)) != len(kinds):
        raise invalid(path, "repeats a method kind")
    return frozenset(kinds)


def _kind_map_from(data: object, path: str) -> dict[MethodKind, str]:
    if not isinstance(data, dict):
        raise invalid(path, "expected an object")
    read_kind = enum_of(MethodKind)
    return {read_kind(key, f"{path}.{key}"): read_str(value, f"{path}.{key}") for key, value in data.items()}


def row_from_json(data: object, path: str = "row") -> DesiredRow:
    """The row in parsed JSON *data*; raises ``InputError`` naming the bad field under *path* (``rows[3]``)."""
    obj = JsonObject(data, path)
    return obj.done(
        DesiredRow(
            line=obj.required("line", read_int),
            user=obj.required("user", read_str),
            values=obj.optional("values", _kind_map_from, {}),
            managed=obj.optional("managed", _kind_set, frozenset(ALL_KINDS)),
            forced_update=obj.optional("forcedUpdate", read_bool, False),
            forced_removal=obj.optional("forcedRemoval", read_bool, False),
            sms_sign_in=obj.optional("smsSignIn", nullable(enum_of(SmsSignIn)), None),
            default_method=obj.optional("defaultMethod", nullable(enum_of(DefaultMethod)), None),
            errors=obj.optional("errors", tuple_of(read_str), ()),
        )
    )


def current_from_json(data: object, path: str = "current") -> CurrentMethods:
    """The read methods in parsed JSON *data*; raises ``InputError`` naming the bad field under *path*."""
    obj = JsonObject(data, path)
    return obj.done(
        CurrentMethods(
            user=obj.required("user", read_str),
            phones=obj.optional("phones", _kind_map_from, {}),
            email=obj.optional("email", nullable(read_str), None),
            email_known=obj.optional("emailKnown", read_bool, True),
            sms_sign_in_state=obj.optional("smsSignInState", nullable(read_str), None),
            default_method=obj.optional("defaultMethod", nullable(read_str), None),
            default_known=obj.optional("defaultKnown", read_bool, False),
            system_preferred=obj.optional("systemPreferred", nullable(read_bool), None),
            other_methods=obj.optional("otherMethods", tuple_of(read_str), ()),
        )
    )


# One reader per "op" tag; each reads the fields after the tag (every field is required).
_OPERATION_READERS: Mapping[str, Callable[[JsonObject], Operation]] = {
    "addPhone": lambda o: AddPhone(
        o.required("user", read_str), o.required("kind", enum_of(MethodKind)), o.required("number", read_str)
    ),
    "updatePhone": lambda o: UpdatePhone(
        o.required("user", read_str),
        o.required("kind", enum_of(MethodKind)),
        o.required("number", read_str),
        o.required("previous", read_str),
    ),
    "deletePhone": lambda o: DeletePhone(
        o.required("user", read_str),
        o.required("kind", enum_of(MethodKind)),
        o.required("previous", read_str),
    ),
    "addEmail": lambda o: AddEmail(o.required("user", read_str), o.required("address", read_str)),
    "updateEmail": lambda o: UpdateEmail(
        o.required("user", read_str), o.required("address", read_str), o.required("previous", read_str)
    ),
    "deleteEmail": lambda o: DeleteEmail(o.required("user", read_str), o.required("previous", read_str)),
    "setDefaultMethod": lambda o: SetDefaultMethod(
        o.required("user", read_str),
        o.required("method", enum_of(DefaultMethod)),
        o.required("previous", nullable(read_str)),
    ),
    "setSmsSignIn": lambda o: SetSmsSignIn(o.required("user", read_str), o.required("enable", read_bool)),
}


def _operation_tag(data: object, path: str) -> str:
    tag = read_str(data, path)
    if tag not in _OPERATION_READERS:
        raise invalid(path, f"unknown operation {tag!r}, expected one of: {', '.join(_OPERATION_READERS)}")
    return tag


def operation_from_json(data: object, path: str = "operation") -> Operation:
    """The operation in parsed JSON *data*, chosen by ``"op"``; raises ``InputError`` naming the bad field."""
    obj = JsonObject(data, path)
    return obj.done(_OPERATION_READERS[obj.required("op", _operation_tag)](obj))


def _read_decision(data: object, path: str) -> Decision:
    obj = JsonObject(data, path)
    return obj.done(
        Decision(
            subject=obj.required("subject", enum_of(Subject)),
            action=obj.required("action", enum_of(Action)),
            reason=obj.required("reason", read_str),
            previous=obj.optional("previous", nullable(read_str), None),
            new=obj.optional("new", nullable(read_str), None),
        )
    )


def _read_plan(data: object, path: str) -> Plan:
    obj = JsonObject(data, path)
    return obj.done(
        Plan(
            user=obj.required("user", read_str),
            operations=obj.required("operations", tuple_of(operation_from_json)),
            decisions=obj.required("decisions", tuple_of(_read_decision)),
        )
    )


def _read_result(data: object, path: str) -> OperationResult:
    obj = JsonObject(data, path)
    return obj.done(
        OperationResult(
            operation=obj.required("operation", operation_from_json),
            ok=obj.required("ok", read_bool),
            request_id=obj.optional("requestId", nullable(read_str), None),
            error=obj.optional("error", nullable(read_str), None),
        )
    )


def outcome_from_json(data: object, path: str = "outcome") -> Outcome:
    """The outcome in parsed JSON *data*; raises ``InputError`` naming the bad field under *path*."""
    obj = JsonObject(data, path)
    return obj.done(
        Outcome(
            row=obj.required("row", row_from_json),
            kind=obj.required("kind", enum_of(OutcomeKind)),
            plan=obj.optional("plan", nullable(_read_plan), None),
            current=obj.optional("current", nullable(current_from_json), None),
            results=obj.optional("results", tuple_of(_read_result), ()),
            error=obj.optional("error", nullable(read_str), None),
            sms_sign_in_state=obj.optional("smsSignInState", nullable(read_str), None),
            request_ids=obj.optional("requestIds", tuple_of(read_str), ()),
        )
    )
