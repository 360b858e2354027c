"""Lossless JSON for the value types that cross a queue or a blob: rows, reads, operations, outcomes (pure).

Writers drop fields equal to their default, so queue messages stay small; readers take parsed JSON
as ``object``, refuse anything malformed with an ``InputError`` naming the path, and restore defaults.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import TypeVar, assert_never

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
from provisioning.errors import InputError

T = TypeVar("T")
E = TypeVar("E", bound=StrEnum)
_Read = Callable[[object, str], T]

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
# One explicit reader per type keeps mypy strict without casts; it is why this module runs past
# the ~300-line budget (style rule 12).


def _invalid(path: str, problem: str) -> InputError:
    return InputError(f"{path}: {problem}")


class _Object:
    """A JSON object being read: fields by name, errors naming their path, unknown fields refused."""

    def __init__(self, data: object, path: str) -> None:
        if not isinstance(data, dict):
            raise _invalid(path, "expected an object")
        self._data: Mapping[object, object] = data
        self._path = path
        self._read: set[object] = set()

    def required(self, key: str, read: _Read[T]) -> T:
        self._read.add(key)
        if key not in self._data:
            raise _invalid(self._at(key), "missing required field")
        return read(self._data[key], self._at(key))

    def optional(self, key: str, read: _Read[T], default: T) -> T:
        self._read.add(key)
        if key not in self._data:
            return default
        return read(self._data[key], self._at(key))

    def close(self) -> None:
        """Refuse fields nobody read: a misspelt ``forcedRemoval`` must not silently become False."""
        for key in self._data:
            if key not in self._read:
                raise _invalid(self._at(key), "unknown field")

    def _at(self, key: object) -> str:
        return f"{self._path}.{key}"


def _str(data: object, path: str) -> str:
    if not isinstance(data, str):
        raise _invalid(path, "expected a string")
    return data


def _bool(data: object, path: str) -> bool:
    if not isinstance(data, bool):
        raise _invalid(path, "expected a boolean")
    return data


def _int(data: object, path: str) -> int:
    if not isinstance(data, int) or isinstance(data, bool):
        raise _invalid(path, "expected an integer")
    return data


def _nullable(read: _Read[T]) -> _Read[T | None]:
    return lambda data, path: None if data is None else read(data, path)


def _enum(cls: type[E]) -> _Read[E]:
    def read(data: object, path: str) -> E:
        text = _str(data, path)
        try:
            return cls(text)
        except ValueError as exc:
            expected = ", ".join(member.value for member in cls)
            raise _invalid(path, f"unknown value {text!r}, expected one of: {expected}") from exc

    return read


def _list(data: object, path: str) -> list[tuple[object, str]]:
    """The items of a JSON array, each with its own path."""
    if not isinstance(data, list):
        raise _invalid(path, "expected a list")
    return [(item, f"{path}[{index}]") for index, item in enumerate(data)]


def _tuple_of(read: _Read[T]) -> _Read[tuple[T, ...]]:
    return lambda data, path: tuple(read(item, item_path) for item, item_path in _list(data, path))


def _kind_set(data: object, path: str) -> frozenset[MethodKind]:
    kinds = _tuple_of(_enum(MethodKind))(data, path)
    if len(set(kinds)) != len(kinds):
        raise _invalid(path, "repeats a method kind")
    return frozenset(kinds)


def _kind_map_from(data: object, path: str) -> dict[MethodKind, str]:
    if not isinstance(data, dict):
        raise _invalid(path, "expected an object")
    read_kind = _enum(MethodKind)
    return {read_kind(key, f"{path}.{key}"): _str(value, f"{path}.{key}") for key, value in data.items()}


def row_from_json(data: object, path: str = "row") -> DesiredRow:
    """The row in parsed JSON *data*; raises ``InputError`` naming the bad field under *path* (``rows[3]``)."""
    obj = _Object(data, path)
    row = DesiredRow(
        line=obj.required("line", _int),
        user=obj.required("user", _str),
        values=obj.optional("values", _kind_map_from, {}),
        managed=obj.optional("managed", _kind_set, frozenset(ALL_KINDS)),
        forced_update=obj.optional("forcedUpdate", _bool, False),
        forced_removal=obj.optional("forcedRemoval", _bool, False),
        sms_sign_in=obj.optional("smsSignIn", _nullable(_enum(SmsSignIn)), None),
        default_method=obj.optional("defaultMethod", _nullable(_enum(DefaultMethod)), None),
        errors=obj.optional("errors", _tuple_of(_str), ()),
    )
    obj.close()
    return row


def current_from_json(data: object, path: str = "current") -> CurrentMethods:
    """The read methods in parsed JSON *data*; raises ``InputError`` naming the bad field under *path*."""
    obj = _Object(data, path)
    current = CurrentMethods(
        user=obj.required("user", _str),
        phones=obj.optional("phones", _kind_map_from, {}),
        email=obj.optional("email", _nullable(_str), None),
        email_known=obj.optional("emailKnown", _bool, True),
        sms_sign_in_state=obj.optional("smsSignInState", _nullable(_str), None),
        default_method=obj.optional("defaultMethod", _nullable(_str), None),
        default_known=obj.optional("defaultKnown", _bool, False),
        system_preferred=obj.optional("systemPreferred", _nullable(_bool), None),
        other_methods=obj.optional("otherMethods", _tuple_of(_str), ()),
    )
    obj.close()
    return current


# One reader per "op" tag; each reads the fields after the tag (every field is required).
_OPERATION_READERS: Mapping[str, Callable[[_Object], Operation]] = {
    "addPhone": lambda o: AddPhone(
        o.required("user", _str), o.required("kind", _enum(MethodKind)), o.required("number", _str)
    ),
    "updatePhone": lambda o: UpdatePhone(
        o.required("user", _str),
        o.required("kind", _enum(MethodKind)),
        o.required("number", _str),
        o.required("previous", _str),
    ),
    "deletePhone": lambda o: DeletePhone(
        o.required("user", _str), o.required("kind", _enum(MethodKind)), o.required("previous", _str)
    ),
    "addEmail": lambda o: AddEmail(o.required("user", _str), o.required("address", _str)),
    "updateEmail": lambda o: UpdateEmail(
        o.required("user", _str), o.required("address", _str), o.required("previous", _str)
    ),
    "deleteEmail": lambda o: DeleteEmail(o.required("user", _str), o.required("previous", _str)),
    "setDefaultMethod": lambda o: SetDefaultMethod(
        o.required("user", _str),
        o.required("method", _enum(DefaultMethod)),
        o.required("previous", _nullable(_str)),
    ),
    "setSmsSignIn": lambda o: SetSmsSignIn(o.required("user", _str), o.required("enable", _bool)),
}


def _operation_tag(data: object, path: str) -> str:
    tag = _str(data, path)
    if tag not in _OPERATION_READERS:
        raise _invalid(path, f"unknown operation {tag!r}, expected one of: {', '.join(_OPERATION_READERS)}")
    return tag


def operation_from_json(data: object, path: str = "operation") -> Operation:
    """The operation in parsed JSON *data*, chosen by ``"op"``; raises ``InputError`` naming the bad field."""
    obj = _Object(data, path)
    op = _OPERATION_READERS[obj.required("op", _operation_tag)](obj)
    obj.close()
    return op


def _read_decision(data: object, path: str) -> Decision:
    obj = _Object(data, path)
    decision = Decision(
        subject=obj.required("subject", _enum(Subject)),
        action=obj.required("action", _enum(Action)),
        reason=obj.required("reason", _str),
        previous=obj.optional("previous", _nullable(_str), None),
        new=obj.optional("new", _nullable(_str), None),
    )
    obj.close()
    return decision


def _read_plan(data: object, path: str) -> Plan:
    obj = _Object(data, path)
    plan = Plan(
        user=obj.required("user", _str),
        operations=obj.required("operations", _tuple_of(operation_from_json)),
        decisions=obj.required("decisions", _tuple_of(_read_decision)),
    )
    obj.close()
    return plan


def _read_result(data: object, path: str) -> OperationResult:
    obj = _Object(data, path)
    result = OperationResult(
        operation=obj.required("operation", operation_from_json),
        ok=obj.required("ok", _bool),
        request_id=obj.optional("requestId", _nullable(_str), None),
        error=obj.optional("error", _nullable(_str), None),
    )
    obj.close()
    return result


def outcome_from_json(data: object, path: str = "outcome") -> Outcome:
    """The outcome in parsed JSON *data*; raises ``InputError`` naming the bad field under *path*."""
    obj = _Object(data, path)
    outcome = Outcome(
        row=obj.required("row", row_from_json),
        kind=obj.required("kind", _enum(OutcomeKind)),
        plan=obj.optional("plan", _nullable(_read_plan), None),
        current=obj.optional("current", _nullable(current_from_json), None),
        results=obj.optional("results", _tuple_of(_read_result), ()),
        error=obj.optional("error", _nullable(_str), None),
        sms_sign_in_state=obj.optional("smsSignInState", _nullable(_str), None),
        request_ids=obj.optional("requestIds", _tuple_of(_str), ()),
    )
    obj.close()
    return outcome
