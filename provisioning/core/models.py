"""Value types shared by the reader, the planner, the Graph adapter and the reports (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class MethodKind(StrEnum):
    """An authentication method this tool manages; values are the report/CSV field names."""

    MOBILE = "mobile"
    ALTERNATE_MOBILE = "alternateMobile"
    OFFICE = "office"
    EMAIL = "email"


# Phone kinds in Graph's add order: a mobile must exist before an alternateMobile
# (learn.microsoft.com/graph/api/resources/phoneauthenticationmethod).
PHONE_KINDS: tuple[MethodKind, ...] = (
    MethodKind.MOBILE,
    MethodKind.ALTERNATE_MOBILE,
    MethodKind.OFFICE,
)
ALL_KINDS: tuple[MethodKind, ...] = (*PHONE_KINDS, MethodKind.EMAIL)

# Method ids are fixed per type, the same for every user (graph-api.md section 1 and 2).
METHOD_IDS: Mapping[MethodKind, str] = {
    MethodKind.MOBILE: "3179e48a-750b-4051-897c-87b9720928f7",
    MethodKind.ALTERNATE_MOBILE: "b6332ec1-7057-4abe-9331-3d72feddfe41",
    MethodKind.OFFICE: "e37fc753-ff3b-4958-9484-eaa9425c82bc",
    MethodKind.EMAIL: "3ddfcfc8-9383-446f-83cc-3ab9be4be18f",
}


class SmsSignIn(StrEnum):
    """The row's request for SMS sign-in on the mobile phone."""

    ENABLE = "enable"
    DISABLE = "disable"


class DefaultMethod(StrEnum):
    """Graph's ``userPreferredMethodForSecondaryAuthentication`` values (beta signInPreferences)."""

    PUSH = "push"
    OATH = "oath"
    VOICE_MOBILE = "voiceMobile"
    VOICE_ALTERNATE_MOBILE = "voiceAlternateMobile"
    VOICE_OFFICE = "voiceOffice"
    SMS = "sms"


# Which phone a default method rests on; push and oath rest on the Authenticator app.
DEFAULT_METHOD_PHONE: Mapping[DefaultMethod, MethodKind] = {
    DefaultMethod.SMS: MethodKind.MOBILE,
    DefaultMethod.VOICE_MOBILE: MethodKind.MOBILE,
    DefaultMethod.VOICE_ALTERNATE_MOBILE: MethodKind.ALTERNATE_MOBILE,
    DefaultMethod.VOICE_OFFICE: MethodKind.OFFICE,
}


def phone_key(number: str) -> str:
    """Comparison key for a phone number: digits and extension (``+31 612345678`` == ``+31612345678``)."""
    return re.sub(r"[^0-9x]", "", number.lower())


def method_key(kind: MethodKind, value: str) -> str:
    """Comparison key for any managed method value: phones by digits, emails case-insensitively."""
    return value.strip().lower() if kind is MethodKind.EMAIL else phone_key(value)


@dataclass(frozen=True)
class DesiredRow:
    """One CSV row (or JSON request item) after parsing: what the admin wants for one user.

    ``values`` holds only non-empty, normalised cells (phones in Graph's ``+CC NUMBER`` form, emails
    lowercased). ``managed`` names the kinds whose column exists in the input: a kind without a column
    is never touched, even with ``forced_removal``. ``errors`` is empty for a valid row.
    """

    line: int
    user: str
    values: Mapping[MethodKind, str] = field(default_factory=dict)
    managed: frozenset[MethodKind] = frozenset(ALL_KINDS)
    forced_update: bool = False
    forced_removal: bool = False
    sms_sign_in: SmsSignIn | None = None
    default_method: DefaultMethod | None = None
    errors: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class CurrentMethods:
    """A user's methods as Graph reported them.

    ``other_methods`` names the user's other methods that can serve as a default (Authenticator,
    FIDO2, ...). ``email_known`` is False only when the email was not read. ``default_method`` is
    None when unknown: it is read only for users where it matters (``default_known``).
    """

    user: str
    phones: Mapping[MethodKind, str] = field(default_factory=dict)
    email: str | None = None
    email_known: bool = True
    sms_sign_in_state: str | None = None
    default_method: str | None = None
    default_known: bool = False
    system_preferred: bool | None = None
    other_methods: tuple[str, ...] = ()


# --- Operations: the plan as data. The planner decides their order; nothing reorders them. ---


@dataclass(frozen=True)
class AddPhone:
    user: str
    kind: MethodKind
    number: str


@dataclass(frozen=True)
class UpdatePhone:
    user: str
    kind: MethodKind
    number: str
    previous: str


@dataclass(frozen=True)
class DeletePhone:
    user: str
    kind: MethodKind
    previous: str


@dataclass(frozen=True)
class AddEmail:
    user: str
    address: str


@dataclass(frozen=True)
class UpdateEmail:
    user: str
    address: str
    previous: str


@dataclass(frozen=True)
class DeleteEmail:
    user: str
    previous: str


@dataclass(frozen=True)
class SetDefaultMethod:
    user: str
    method: DefaultMethod
    previous: str | None


@dataclass(frozen=True)
class SetSmsSignIn:
    user: str
    enable: bool


Operation = (
    AddPhone
    | UpdatePhone
    | DeletePhone
    | AddEmail
    | UpdateEmail
    | DeleteEmail
    | SetDefaultMethod
    | SetSmsSignIn
)
WRITE_OPERATIONS = (
    AddPhone,
    UpdatePhone,
    DeletePhone,
    AddEmail,
    UpdateEmail,
    DeleteEmail,
    SetDefaultMethod,
    SetSmsSignIn,
)


class Action(StrEnum):
    """What the plan does with one method (or the default / SMS sign-in setting) of one row."""

    ADD = "add"
    UPDATE = "update"
    DELETE = "delete"
    UNCHANGED = "unchanged"
    SKIP = "skip"
    NONE = "none"  # nothing asked for this method


class Subject(StrEnum):
    """What a decision is about: a method kind, the default method, or SMS sign-in."""

    MOBILE = "mobile"
    ALTERNATE_MOBILE = "alternateMobile"
    OFFICE = "office"
    EMAIL = "email"
    DEFAULT_METHOD = "defaultMethod"
    SMS_SIGN_IN = "smsSignIn"


@dataclass(frozen=True)
class Decision:
    """The plan's verdict on one subject of one row, with a reason an admin understands."""

    subject: Subject
    action: Action
    reason: str
    previous: str | None = None
    new: str | None = None


@dataclass(frozen=True)
class Plan:
    """Operations in apply order, plus one decision per subject the row touches."""

    user: str
    operations: tuple[Operation, ...]
    decisions: tuple[Decision, ...]

    @property
    def skipped(self) -> bool:
        return any(d.action is Action.SKIP for d in self.decisions)


class OutcomeKind(StrEnum):
    """A row's single outcome in the report."""

    CHANGED = "changed"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"
    INVALID = "invalid"


@dataclass(frozen=True)
class OperationResult:
    """One write as it went: applied or failed, with Graph's request id."""

    operation: Operation
    ok: bool
    request_id: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The single outcome of one input row, with everything the report needs."""

    row: DesiredRow
    kind: OutcomeKind
    plan: Plan | None = None
    current: CurrentMethods | None = None
    results: tuple[OperationResult, ...] = ()
    error: str | None = None
    sms_sign_in_state: str | None = None
    request_ids: tuple[str, ...] = ()


def subject_of(kind: MethodKind) -> Subject:
    """The decision subject for a method kind."""
    return Subject(kind.value)


class JobState(StrEnum):
    """Where a pipeline job stands."""

    RUNNING = "running"
    COMPLETED = "completed"
    REJECTED = "rejected"


@dataclass(frozen=True)
class JobStatus:
    """A pipeline job's progress, as ``GET /api/jobs/{id}`` reports it."""

    job_id: str
    kind: str  # "csv", "http" or "sync"
    source: str
    state: JobState
    rows: int
    chunks: int | None  # None until the fan-out has counted them
    chunks_done: int
    started: str
    finished: str | None = None
    dry_run: bool = False
    report: Mapping[str, str] = field(default_factory=dict)  # file name -> blob URL
    outcomes: Mapping[str, int] = field(default_factory=dict)  # filled once completed
    rows_done: int = 0  # rows of the chunks done so far, and the writes Graph accepted for them
    writes_applied: int = 0
