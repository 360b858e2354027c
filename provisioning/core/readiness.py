"""Who is ready for 2027-02-01: each user's methods sorted into a readiness class (pure).

From 2027-02-01 Microsoft no longer delivers SMS and voice codes in the public cloud, and a user whose
only MFA method is a phone gets a blocking passkey prompt at sign-in (graph-api.md section 14). The
classes, strongest first; a user is in the first one their methods reach:

- ``phishing-resistant``: a passkey (FIDO2, Authenticator passkeys included), Windows Hello for
  Business, a platform credential or a certificate.
- ``app-or-oath``: Microsoft Authenticator (push or code), a software or hardware OATH token.
- ``phone-only``: only phone methods (mobile, alternate mobile, office): blocked after 2027-02-01.
- ``nothing``: no MFA method at all. Email and the password are not MFA methods (email serves SSPR).

A Temporary Access Pass is no class of its own: it is how a user registers a passkey, so it is shown
beside the class. Method types this module does not know (Graph adds some now and then) are listed but
never lift a user into a class: an unknown type is not proof that the user can sign in.
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TextIO

from provisioning.core.models import PHONE_KINDS, CurrentMethods, DesiredRow
from provisioning.core.spreadsheet import neutralise_cell


class Readiness(StrEnum):
    PHISHING_RESISTANT = "phishing-resistant"
    APP_OR_OATH = "app-or-oath"
    PHONE_ONLY = "phone-only"
    NOTHING = "nothing"


# ``CurrentMethods.other_methods`` names: the @odata.type without "#microsoft.graph." and
# "AuthenticationMethod" (graph-api.md section 13)
PHISHING_RESISTANT_METHODS = frozenset(
    {"fido2", "windowsHelloForBusiness", "platformCredential", "x509Certificate"}
)
APP_METHODS = frozenset({"microsoftAuthenticator", "softwareOath", "hardwareOath"})
TAP_METHOD = "temporaryAccessPass"
# where the methods were read (summary.json says which, and when)
SOURCE_METHODS = "/users/{id}/authentication/methods"


def classify(methods: CurrentMethods) -> Readiness:
    """The user's readiness class (the module's docstring)."""
    others = set(methods.other_methods)
    if others & PHISHING_RESISTANT_METHODS:
        return Readiness.PHISHING_RESISTANT
    if others & APP_METHODS:
        return Readiness.APP_OR_OATH
    if methods.phones:
        return Readiness.PHONE_ONLY
    return Readiness.NOTHING


def method_names(methods: CurrentMethods) -> list[str]:
    """The user's methods by kind, phones first in Graph's order, then email, then the others as read."""
    names = [kind.value for kind in PHONE_KINDS if kind in methods.phones]
    if methods.email is not None:
        names.append("email")
    names.extend(dict.fromkeys(methods.other_methods))  # once each, in the order Graph listed them
    return names


@dataclass(frozen=True)
class InventoryLine:
    """One input row's line of ``inventory.csv``: its class, or why it has none (*error*)."""

    row: DesiredRow
    readiness: Readiness | None = None
    methods: tuple[str, ...] = ()
    error: str | None = None

    @property
    def has_pass(self) -> bool:
        """Holds a Temporary Access Pass (usable or not: the methods list does not say)."""
        return TAP_METHOD in self.methods

    @classmethod
    def of(cls, row: DesiredRow, methods: CurrentMethods) -> InventoryLine:
        return cls(row, classify(methods), tuple(method_names(methods)))


INVENTORY_COLUMNS = ("line", "upn", "class", "methods", "temporaryAccessPass", "error")


def inventory_record(line: InventoryLine) -> dict[str, str]:
    """The line's cells for ``inventory.csv`` (formula-safety is the writer's: ``core.spreadsheet``)."""
    return {
        "line": str(line.row.line),
        "upn": line.row.user,
        "class": line.readiness.value if line.readiness else "",
        "methods": ";".join(line.methods),
        "temporaryAccessPass": "registered" if line.has_pass else "",
        "error": line.error or "",
    }


@dataclass
class InventoryCounts:
    """Counts for ``summary.json``: users per class, with a pass, and rows without a class."""

    classes: Counter[str] = field(default_factory=Counter)
    with_pass: int = 0
    invalid: int = 0
    failed: int = 0

    def add(self, lines: Iterable[InventoryLine]) -> None:
        for line in lines:
            if line.readiness is not None:
                self.classes[line.readiness.value] += 1
                self.with_pass += line.has_pass
            elif line.row.valid:
                self.failed += 1
            else:
                self.invalid += 1

    def document(self, *, source: str, read_from: str, started: str, finished: str) -> dict[str, object]:
        classes: Mapping[str, int] = {c.value: self.classes[c.value] for c in Readiness}
        return {
            "source": source,
            "methodsReadFrom": read_from,
            "started": started,
            "finished": finished,
            "users": sum(classes.values()),
            "classes": dict(classes),
            "withTemporaryAccessPass": self.with_pass,
            "invalid": self.invalid,
            "failed": self.failed,
            "blockedAfter20270201": classes[Readiness.PHONE_ONLY.value],
        }


# the phone-only users as an input file for Temporary Access Passes (a one-time pass each)
PASS_INPUT_COLUMNS = ("UPN", "TemporaryAccessPass")


def write_inventory(
    chunks: Iterable[list[InventoryLine]], inventory: TextIO, phone_only: TextIO
) -> InventoryCounts:
    """``inventory.csv`` (formula-safe, one line per input row) and the phone-only users' input file,
    line by line as *chunks* come in; the counts."""
    report = csv.DictWriter(inventory, fieldnames=INVENTORY_COLUMNS, lineterminator="\r\n")
    report.writeheader()
    passes = csv.writer(phone_only, lineterminator="\r\n")
    passes.writerow(PASS_INPUT_COLUMNS)
    counts = InventoryCounts()
    for lines in chunks:
        counts.add(lines)
        for line in lines:
            report.writerow({k: neutralise_cell(v) for k, v in inventory_record(line).items()})
            if line.readiness is Readiness.PHONE_ONLY:
                passes.writerow((line.row.user, "once"))
    return counts
