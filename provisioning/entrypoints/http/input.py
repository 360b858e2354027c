"""ServiceNow's JSON request body into ``DesiredRow`` values, checked like CSV cells (pure).

Every problem raises ``PayloadError`` naming the first bad field (``users[3].mobile``); values are
never echoed whole (phones and emails are masked). A user's position in the request (1-based) is its
``DesiredRow.line``.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from provisioning.core.masking import mask_email, mask_phone, mask_text
from provisioning.core.models import DefaultMethod, DesiredRow, MethodKind, SmsSignIn
from provisioning.core.phones import normalise_phone
from provisioning.csv_input import cells
from provisioning.errors import CellError, ErrorCode, PayloadError, PhoneError

_E = TypeVar("_E", SmsSignIn, DefaultMethod)


@dataclass(frozen=True)
class ProvisionRequest:
    """A parsed, valid request: one row per user, in request order."""

    rows: tuple[DesiredRow, ...]
    dry_run: bool


# Method fields, named like the CSV columns; an absent field leaves that kind alone.
PHONE_FIELDS: Mapping[str, MethodKind] = {
    "mobile": MethodKind.MOBILE,
    "alternateMobile": MethodKind.ALTERNATE_MOBILE,
    "office": MethodKind.OFFICE,
}
METHOD_FIELDS: Mapping[str, MethodKind] = {**PHONE_FIELDS, "email": MethodKind.EMAIL}
USER_FIELDS: tuple[str, ...] = (
    "upn",
    *METHOD_FIELDS,
    "forcedUpdate",
    "forcedRemoval",
    "smsSignIn",
    "defaultMethod",
)
DRY_RUN = "dryRun"
USERS = "users"
BATCH_FIELDS: tuple[str, ...] = (USERS, DRY_RUN)


def parse_body(body: bytes, *, default_region: str | None, max_users: int) -> ProvisionRequest:
    """The request for a raw body: ``decode_json`` then ``parse_document``; raises ``PayloadError``."""
    return parse_document(decode_json(body), default_region=default_region, max_users=max_users)


def decode_json(body: bytes) -> object:
    """UTF-8 JSON text into Python values; NaN, Infinity and a key twice in one object are refused."""
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        msg = f"the body is not UTF-8 text (bad byte at offset {exc.start})"
        raise PayloadError(ErrorCode.INVALID_JSON, msg) from exc
    if not text.strip():
        msg = 'the body is empty; send one user object or {"users": [...]}'
        raise PayloadError(ErrorCode.INVALID_JSON, msg)
    try:
        return json.loads(text, object_pairs_hook=_object, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        msg = f"the body is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
        raise PayloadError(ErrorCode.INVALID_JSON, msg) from exc
    except RecursionError as exc:
        msg = "the body is not usable JSON: nested too deeply"
        raise PayloadError(ErrorCode.INVALID_JSON, msg) from exc
    except ValueError as exc:  # from the hooks below, or an integer with thousands of digits
        raise PayloadError(ErrorCode.INVALID_JSON, f"the body is not usable JSON: {exc}") from exc


def _object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    document: dict[str, object] = {}
    for key, value in pairs:
        if key in document:
            msg = f"the key {cells.show(key)} appears twice in one object"
            raise ValueError(msg)
        document[key] = value
    return document


def _constant(name: str) -> object:
    msg = f"{name} is not a JSON number"
    raise ValueError(msg)


def parse_document(document: object, *, default_region: str | None, max_users: int) -> ProvisionRequest:
    """One user object, or ``{"users": [...], "dryRun": bool}``, into the request; raises ``PayloadError``.

    Users are checked in order and the first problem is raised; two entries for the same user
    (case-insensitive) are an error naming both.
    """
    if not isinstance(document, dict):
        msg = f'the body must be a JSON object (one user, or {{"users": [...]}}), not {_kind(document)}'
        raise PayloadError(ErrorCode.INVALID_REQUEST, msg)
    region = (default_region or "").strip() or None
    rows: tuple[DesiredRow, ...]
    if USERS not in document:
        rows = (parse_user_object(document, line=1, where="", default_region=region),)
    else:
        _reject_unknown(document, BATCH_FIELDS, where="")
        items = _users(document[USERS], max_users)
        rows = tuple(
            parse_user_object(item, line=i + 1, where=f"{USERS}[{i}]", default_region=region)
            for i, item in enumerate(items)
        )
        _reject_duplicates(rows)
    return ProvisionRequest(rows, dry_run=_flag(document, DRY_RUN, where=""))


def _users(value: object, max_users: int) -> list[object]:
    if not isinstance(value, list):
        msg = f"{USERS}: must be a list of user objects, not {_kind(value)}"
        raise PayloadError(ErrorCode.INVALID_REQUEST, msg, USERS)
    if not value:
        msg = f"{USERS}: the list is empty; send at least one user"
        raise PayloadError(ErrorCode.INVALID_REQUEST, msg, USERS)
    if len(value) > max_users:
        msg = f"{USERS}: {len(value):,} users; at most {max_users:,} per request, split the list"
        raise PayloadError(ErrorCode.TOO_MANY_USERS, msg, USERS)
    return value


def _reject_duplicates(rows: Sequence[DesiredRow]) -> None:
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        earlier = first.setdefault(row.user.casefold(), index)
        if earlier != index:
            msg = (
                f"{USERS}[{earlier}] and {USERS}[{index}] name the same user; "
                "send one entry per user in a request"
            )
            raise PayloadError(ErrorCode.DUPLICATE_USER, msg, f"{USERS}[{index}].upn")


def parse_user_object(item: object, *, line: int, where: str, default_region: str | None) -> DesiredRow:
    """One user object into a valid ``DesiredRow``; *where* prefixes field names (``users[2]``)."""
    if not isinstance(item, dict):
        msg = f"{where or 'the body'}: must be a user object, not {_kind(item)}"
        raise PayloadError(ErrorCode.INVALID_REQUEST, msg, where or None)
    _reject_unknown(item, USER_FIELDS if where else (*USER_FIELDS, DRY_RUN), where=where)
    user = _upn(item, where)
    values: dict[MethodKind, str] = {}
    for name, kind in METHOD_FIELDS.items():
        parse = _email if kind is MethodKind.EMAIL else _phone_parser(default_region)
        value = _text_field(item, name, where, parse) if name in item else None
        if value is not None:
            values[kind] = value
    return DesiredRow(
        line=line,
        user=user,
        values=values,
        managed=frozenset(kind for name, kind in METHOD_FIELDS.items() if name in item),
        forced_update=_flag(item, "forcedUpdate", where=where),
        forced_removal=_flag(item, "forcedRemoval", where=where),
        sms_sign_in=_choice(item, "smsSignIn", where, SmsSignIn, cells.parse_sms_sign_in),
        default_method=_choice(item, "defaultMethod", where, DefaultMethod, cells.parse_default_method),
    )


def _path(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _reject_unknown(item: Mapping[str, object], allowed: Sequence[str], *, where: str) -> None:
    unknown = next((key for key in item if key not in allowed), None)
    if unknown is None:
        return
    close = difflib.get_close_matches(unknown, allowed, n=1)
    hint = f"; did you mean {close[0]}?" if close else f"; known fields: {', '.join(allowed)}"
    msg = f"{_path(where, cells.printable(unknown))}: unknown field{hint}"
    raise PayloadError(ErrorCode.UNKNOWN_FIELD, msg, _path(where, unknown))


def _upn(item: Mapping[str, object], where: str) -> str:
    field = _path(where, "upn")
    if "upn" not in item:
        msg = f"{field}: missing; every user needs a upn (user principal name or object id)"
        raise PayloadError(ErrorCode.MISSING_FIELD, msg, field)
    value = item["upn"]
    if not isinstance(value, str) or not value.strip():
        got = "empty" if isinstance(value, str) else f"must be a string, not {_kind(value)}"
        msg = f"{field}: {got}; give a user principal name or object id"
        raise PayloadError(ErrorCode.INVALID_FIELD, msg, field)
    try:
        return cells.parse_user(value)
    except CellError as exc:  # its message quotes the cell: mask any phone or email in it
        problem = str(exc).replace(cells.show(value), cells.show(mask_text(value)))
        raise _invalid(field, problem) from exc


def _phone_parser(default_region: str | None) -> Callable[[str], str]:
    def parse(text: str) -> str:
        try:
            return normalise_phone(text, default_region)
        except PhoneError as exc:
            msg = f"{exc} (got {cells.show(mask_phone(text.strip()))})"
            raise CellError(msg) from exc

    return parse


def _email(text: str) -> str:
    try:
        return cells.parse_email(text)
    except CellError as exc:
        msg = f"{exc} (got {cells.show(mask_email(text.strip()))})"
        raise CellError(msg) from exc


def _text_field(item: Mapping[str, object], name: str, where: str, parse: Callable[[str], str]) -> str | None:
    """The parsed value; None for null or blank (the kind is managed and wanted empty)."""
    field = _path(where, name)
    value = item[name]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise _invalid(field, f"must be a string or null, not {_kind(value)}")
    try:
        return parse(value)
    except CellError as exc:
        raise _invalid(field, str(exc)) from exc


def _flag(item: Mapping[str, object], name: str, *, where: str) -> bool:
    value = item.get(name, False)
    if not isinstance(value, bool):
        raise _invalid(_path(where, name), f"must be true or false (a JSON boolean), not {_kind(value)}")
    return value


def _choice(
    item: Mapping[str, object],
    name: str,
    where: str,
    enum: type[_E],
    parse: Callable[[str], _E],
) -> _E | None:
    """An enum value in its exact spelling; null or blank means "leave it alone"."""
    field = _path(where, name)
    value = item.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    allowed = ", ".join(choice.value for choice in enum)
    if not isinstance(value, str):
        raise _invalid(field, f"must be one of {allowed} or null, not {_kind(value)}")
    try:
        choice = parse(value)
    except CellError as exc:
        raise _invalid(field, str(exc)) from exc
    if value != choice.value:  # JSON comes from code: one spelling, as the OpenAPI enum says
        raise _invalid(field, f"write it as {choice.value!r} exactly (one of {allowed})")
    return choice


def _invalid(field: str, problem: str) -> PayloadError:
    return PayloadError(ErrorCode.INVALID_FIELD, f"{field}: {problem}", field)


def _kind(value: object) -> str:
    """The JSON type of *value* for a message; strings are shown masked and cut short."""
    match value:
        case None:
            return "null"
        case bool():
            return f"{str(value).lower()} (a boolean)"
        case int() | float():
            return "a number"
        case str():
            return f"the string {cells.show(mask_text(value))}"
        case list():
            return "a list"
        case _:
            return "an object"
