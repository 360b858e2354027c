"""The soak's tenant and CSV: a seeded mix of every kind of row the pipeline handles.

Row kinds: ``add`` (phones, sometimes email and SMS sign-in), ``update`` (ForcedUpdate in place),
``remove`` (ForcedRemoval of office, alternate mobile and email), ``email`` (add or replace the email
method), ``default`` (move the default method to SMS, then remove the office phone it rested on),
``unchanged``, ``skip`` (another number without ForcedUpdate) and ``invalid``. A few users are in the
tenant but not in the file: nothing may ever touch them.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.datasets import alternate, mobile, office

DOMAIN = "soak.test"
HEADER = (
    "UPN",
    "Mobile",
    "AlternateMobile",
    "OfficePhone",
    "AlternateEmail",
    "ForcedUpdate",
    "ForcedRemoval",
    "SmsSignIn",
    "DefaultMethod",
)
KINDS = ("add", "update", "remove", "email", "default", "unchanged", "skip", "invalid", "absent")
WEIGHTS = (25, 15, 10, 10, 5, 18, 5, 5, 2)


def upn(i: int) -> str:
    return f"user{i:06d}@{DOMAIN}"


def _email(i: int, variant: int = 0) -> str:
    return f"u{i:06d}.v{variant}@fabrikam.test"


@dataclass
class Dataset:
    """A tenant seed and the CSV that goes with it."""

    seed: dict[str, Any]
    rows: list[dict[str, str]]
    kinds: Counter[str] = field(default_factory=Counter)

    def csv_bytes(self) -> bytes:
        lines = [",".join(HEADER)]
        lines += [",".join(row.get(column, "") for column in HEADER) for row in self.rows]
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")

    def write(self, seed_path: Path, csv_path: Path) -> None:
        seed_path.write_text(json.dumps(self.seed), encoding="utf-8")
        csv_path.write_bytes(self.csv_bytes())


def generate(users: int, *, seed: int) -> Dataset:
    """*users* tenant users and one CSV row for each of them but the ``absent`` ones; deterministic."""
    rnd = random.Random(f"soak-dataset-{seed}")
    tenant: list[dict[str, Any]] = []
    rows: list[dict[str, str]] = []
    kinds: Counter[str] = Counter()
    for i in range(users):
        kind = rnd.choices(KINDS, WEIGHTS)[0]
        kinds[kind] += 1
        user, row = _ROWS[kind](i, rnd)
        tenant.append(
            {"userPrincipalName": upn(i), "displayName": f"Soak {i}", "inSmsSignInPolicy": True} | user
        )
        if row is not None:
            rows.append({"UPN": upn(i)} | row)
    return Dataset({"users": tenant}, rows, kinds)


Row = tuple[dict[str, Any], dict[str, str] | None]


def _add(i: int, rnd: random.Random) -> Row:
    row = {"Mobile": mobile(i)}
    if rnd.random() < 0.4:
        row["AlternateMobile"] = alternate(i)
    if rnd.random() < 0.3:
        row["OfficePhone"] = office(i)
    if rnd.random() < 0.3:
        row["AlternateEmail"] = _email(i)
    if rnd.random() < 0.2:
        row["SmsSignIn"] = "enable"
    user = {"otherMethods": ["microsoftAuthenticator"]} if rnd.random() < 0.5 else {}
    return user, row


def _update(i: int, rnd: random.Random) -> Row:
    phones = {"mobile": mobile(i)}
    row = {"Mobile": mobile(i, 1), "ForcedUpdate": "yes"}
    if rnd.random() < 0.3:
        phones["alternateMobile"] = alternate(i)
        row["AlternateMobile"] = alternate(i, 1)
    return {"phoneMethods": phones, "otherMethods": ["microsoftAuthenticator"], "defaultMethod": "push"}, row


def _remove(i: int, rnd: random.Random) -> Row:
    phones = {"mobile": mobile(i), "office": office(i)}
    if rnd.random() < 0.3:
        phones["alternateMobile"] = alternate(i)
    user = {
        "phoneMethods": phones,
        "email": _email(i),
        "otherMethods": ["microsoftAuthenticator"],
        "defaultMethod": "push",
    }
    return user, {"Mobile": mobile(i), "ForcedRemoval": "yes"}


def _email_row(i: int, rnd: random.Random) -> Row:
    user: dict[str, Any] = {"phoneMethods": {"mobile": mobile(i)}}
    if rnd.random() < 0.5:
        user["email"] = _email(i)
    return user, {"Mobile": mobile(i), "AlternateEmail": _email(i, 1), "ForcedUpdate": "yes"}


def _default(i: int, rnd: random.Random) -> Row:
    user = {"phoneMethods": {"mobile": mobile(i), "office": office(i)}, "defaultMethod": "voiceOffice"}
    return user, {"Mobile": mobile(i), "ForcedRemoval": "yes", "DefaultMethod": "sms"}


def _unchanged(i: int, rnd: random.Random) -> Row:
    phones = {"mobile": mobile(i)}
    row = {"Mobile": mobile(i)}
    if rnd.random() < 0.3:
        phones["office"] = office(i)
        row["OfficePhone"] = office(i)
    if rnd.random() < 0.2:
        row["ForcedUpdate"] = "yes"
    return {"phoneMethods": phones}, row


def _skip(i: int, rnd: random.Random) -> Row:
    return {"phoneMethods": {"mobile": mobile(i)}}, {"Mobile": mobile(i, 2)}


def _invalid(i: int, rnd: random.Random) -> Row:
    return {}, {"Mobile": rnd.choice(("0612345678x", "+31 6123", "12345", "+31 6 12x45"))}


def _absent(i: int, rnd: random.Random) -> Row:
    return {"phoneMethods": {"mobile": mobile(i)}, "email": _email(i)}, None


_ROWS = {
    "add": _add,
    "update": _update,
    "remove": _remove,
    "email": _email_row,
    "default": _default,
    "unchanged": _unchanged,
    "skip": _skip,
    "invalid": _invalid,
    "absent": _absent,
}
