"""``undo.csv``: an input-format CSV that, applied, puts back what an apply run wrote (pure).

Each row restores using only the writes that were applied: every managed column holds the kind's
value from before the run (unwritten kinds therefore stay as they are), ``ForcedUpdate`` lets restored
values overwrite, and ``ForcedRemoval`` removes what the run added. It assumes nobody changed the
user's methods in between.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from provisioning.core.models import (
    ALL_KINDS,
    AddEmail,
    AddPhone,
    CurrentMethods,
    DefaultMethod,
    DeleteEmail,
    DeletePhone,
    MethodKind,
    Operation,
    Outcome,
    SetDefaultMethod,
    SetSmsSignIn,
    SmsSignIn,
    UpdateEmail,
    UpdatePhone,
)
from provisioning.core.spreadsheet import neutralise_cell, write_csv

INPUT_COLUMNS: Mapping[MethodKind, str] = {
    MethodKind.MOBILE: "Mobile",
    MethodKind.ALTERNATE_MOBILE: "AlternateMobile",
    MethodKind.OFFICE: "OfficePhone",
    MethodKind.EMAIL: "AlternateEmail",
}
# Graph's phone form holds only digits after the "+": a spreadsheet cannot run it, our reader needs it.
_GRAPH_PHONE = re.compile(r"\+\d{1,3} \d+(?:x\d+)?")
# smsSignInState values from phoneAuthenticationMethod: which side of enable/disable a state is on.
_SMS_ON_STATES = frozenset({"ready", "phoneNumberNotUnique"})
_SMS_OFF_STATES = frozenset({"notEnabled", "notSupported", "notAllowedByPolicy", "notConfigured"})


def undo_columns(managed: frozenset[MethodKind]) -> tuple[str, ...]:
    """The undo file's header: ``UPN``, the managed method columns, then the row options."""
    methods = (INPUT_COLUMNS[kind] for kind in ALL_KINDS if kind in managed)
    return ("UPN", *methods, "ForcedUpdate", "ForcedRemoval", "DefaultMethod", "SmsSignIn")


def render_undo_csv(
    outcomes: Sequence[Outcome], *, managed: frozenset[MethodKind], header: bool = True
) -> str:
    """``undo.csv``: one row per user with at least one applied write, in input order.

    *managed* is the input file's set of method columns; the undo file has the same ones. Raises
    ``ValueError`` when a row needs ``ForcedRemoval`` (it added a method) while a managed kind's
    previous value is unknown (email not read): its empty cell would delete that method. The service
    reads the email for such rows, so this is a bug, never an input problem. Without *header* only
    the rows are rendered (a job writes its undo file chunk by chunk).
    """
    rows = [_undo_row(o, managed) for o in outcomes if any(r.ok for r in o.results)]
    text = write_csv(undo_columns(managed), rows, cell=_undo_cell)
    return text if header else text.partition("\r\n")[2]


def _undo_row(outcome: Outcome, managed: frozenset[MethodKind]) -> dict[str, str]:
    line, current = outcome.row.line, outcome.current
    if current is None:
        msg = f"line {line}: writes were applied but the user's previous methods are missing"
        raise ValueError(msg)
    applied = [r.operation for r in outcome.results if r.ok]
    forced_update = any(
        isinstance(op, UpdatePhone | UpdateEmail | DeletePhone | DeleteEmail) for op in applied
    )
    forced_removal = any(isinstance(op, AddPhone | AddEmail) for op in applied)
    row = {"UPN": outcome.row.user}
    for kind in ALL_KINDS:
        if kind in managed:
            row[INPUT_COLUMNS[kind]] = _previous_value(current, kind, applied, forced_removal, line)
    return row | {
        "ForcedUpdate": str(forced_update),
        "ForcedRemoval": str(forced_removal),
        "DefaultMethod": _previous_default(applied),
        "SmsSignIn": _previous_sms(current, applied),
    }


def _previous_value(
    current: CurrentMethods, kind: MethodKind, applied: Sequence[Operation], forced_removal: bool, line: int
) -> str:
    if kind is not MethodKind.EMAIL:
        return current.phones.get(kind) or ""
    if current.email_known:
        return current.email or ""
    wrote_email = any(isinstance(op, AddEmail | UpdateEmail | DeleteEmail) for op in applied)
    if forced_removal or wrote_email:
        msg = (
            f"line {line}: the undo row removes an added method (ForcedRemoval) but the email method "
            "was not read; an empty AlternateEmail cell would delete it"
        )
        raise ValueError(msg)
    return ""  # without ForcedRemoval an empty cell leaves the unknown email alone


def _previous_default(applied: Sequence[Operation]) -> str:
    """The default before the run when the run moved it; empty when it was unset or not ours to name.

    An empty cell leaves the default where the run put it; the planner then refuses to delete a phone
    the default rests on, so the undo stays safe, if partial.
    """
    moves = [op for op in applied if isinstance(op, SetDefaultMethod)]
    if not moves or moves[0].previous not in set(DefaultMethod):
        return ""
    return moves[0].previous or ""


def _previous_sms(current: CurrentMethods, applied: Sequence[Operation]) -> str:
    """The SMS sign-in request that restores the state before the run, or empty when none is needed.

    The state before the run decides (a re-enable after a number change must stay enabled); an
    unfamiliar state falls back to the reverse of the write. A mobile the run added goes away with the
    undo, and its SMS sign-in with it.
    """
    writes = [op for op in applied if isinstance(op, SetSmsSignIn)]
    added_mobile = any(isinstance(op, AddPhone) and op.kind is MethodKind.MOBILE for op in applied)
    if not writes or added_mobile:
        return ""
    state = current.sms_sign_in_state
    if state in _SMS_ON_STATES:
        return SmsSignIn.ENABLE.value
    if state in _SMS_OFF_STATES:
        return SmsSignIn.DISABLE.value
    return (SmsSignIn.DISABLE if writes[-1].enable else SmsSignIn.ENABLE).value


def _undo_cell(value: str) -> str:
    return value if _GRAPH_PHONE.fullmatch(value) else neutralise_cell(value)
