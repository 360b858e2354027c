"""One CSV cell into one typed value: users, emails, yes/no flags and the two enums (pure).

Each parser takes a non-empty, trimmed cell and returns the value or raises ``CellError`` with a
message for the admin (the caller puts the column name in front). Phones live in ``phones``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping

from provisioning.core.models import DefaultMethod, SmsSignIn
from provisioning.core.phones import describe_character, looks_like_formula
from provisioning.errors import CellError

_MAX_EMAIL = 254  # RFC 5321 path limit
_MAX_UPN = 1024  # guest UPNs (name_domain#EXT#@tenant) run long; Entra's own limits are lower
_GUID = re.compile(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}", re.IGNORECASE)
# Entra allows A-Z a-z 0-9 ' . - _ ! # ^ ~ before the @ of a UPN
# (learn.microsoft.com/entra/identity/hybrid/connect/plan-connect-userprincipalname).
_UPN_LOCAL = re.compile(r"[A-Za-z0-9'._!#^~-]+")
_EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]{1,64}")
_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
_TLD = re.compile(r"[A-Za-z]{2,63}|xn--[A-Za-z0-9-]{1,59}")
_BOOLS: Mapping[str, bool] = {
    **dict.fromkeys(("true", "yes", "y", "1"), True),
    **dict.fromkeys(("false", "no", "n", "0"), False),
}
_SHOWN_CHARS = 40


def show(value: str) -> str:
    """*value* quoted for a message: control characters escaped, long values cut short."""
    cut = value if len(value) <= _SHOWN_CHARS else value[:_SHOWN_CHARS] + "…"
    return "'" + printable(cut) + "'"


def printable(text: str) -> str:
    """*text* with control and other unprintable characters written as ``\\xNN``/``\\uNNNN``."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def parse_bool(cell: str) -> bool:
    """true/false, yes/no, y/n, 1/0 in any case."""
    value = _BOOLS.get(cell.strip().casefold())
    if value is None:
        msg = f"{show(cell)} is not a yes/no value; use true/false, yes/no, y/n or 1/0"
        raise CellError(msg)
    return value


def parse_sms_sign_in(cell: str) -> SmsSignIn:
    """enable or disable, in any case."""
    for choice in SmsSignIn:
        if cell.strip().casefold() == choice.value:
            return choice
    msg = f"{show(cell)} is not enable or disable (or empty to leave SMS sign-in alone)"
    raise CellError(msg)


def parse_default_method(cell: str) -> DefaultMethod:
    """One of Graph's default method names in any case, returned in Graph's spelling."""
    for choice in DefaultMethod:
        if cell.strip().casefold() == choice.value.casefold():
            return choice
    allowed = ", ".join(choice.value for choice in DefaultMethod)
    msg = f"{show(cell)} is not a default method; use one of {allowed} (or leave it empty)"
    raise CellError(msg)


def parse_user(cell: str) -> str:
    """A user principal name (kept as written) or an object id (GUID, lower-cased)."""
    text = cell.strip()
    if _GUID.fullmatch(text):
        return text.lower()
    if looks_like_formula(cell):
        msg = f"{show(cell)} looks like a spreadsheet formula, not a user"
        raise CellError(msg)
    local, at, domain = text.rpartition("@")
    ok = (
        at
        and len(text) <= _MAX_UPN
        and _UPN_LOCAL.fullmatch(local) is not None
        and not local.startswith(".")
        and not local.endswith(".")
        and ".." not in local
        and _is_domain(domain)
    )
    if not ok:
        msg = f"{show(cell)} is not a user principal name (name@domain.tld) or an object id (GUID)"
        raise CellError(msg + _hidden_hint(text))
    return text


def parse_email(cell: str) -> str:
    """An email address, lower-cased. The message never repeats the address (it is PII)."""
    text = cell.strip()
    if looks_like_formula(cell):
        msg = "looks like a spreadsheet formula, not an email address"
        raise CellError(msg)
    if len(text) > _MAX_EMAIL:
        msg = f"longer than {_MAX_EMAIL} characters"
        raise CellError(msg)
    if any(ch.isspace() for ch in text):
        msg = "contains a space"
        raise CellError(msg)
    if text.count("@") != 1:
        msg = "needs exactly one @, as in name@example.com"
        raise CellError(msg + _hidden_hint(text))
    local, _, domain = text.partition("@")
    if _EMAIL_LOCAL.fullmatch(local) is None or local.startswith(".") or local.endswith("."):
        msg = "the part before the @ is not a valid mailbox name"
        raise CellError(msg + _hidden_hint(local))
    if ".." in local or not _is_domain(domain):
        msg = "not a valid email address; write it as name@example.com"
        raise CellError(msg + _hidden_hint(text))
    return text.lower()


def _hidden_hint(text: str) -> str:
    """Names the first character of *text* that hides in plain sight, or "".

    Invisible characters and look-alikes from other scripts (Cyrillic ``\\u0430``, full-width
    ``\\uff41``) make a value that reads right fail; accented Latin letters show, so get no hint.
    """
    for ch in text:
        if not ch.isascii() and not unicodedata.name(ch, "").startswith("LATIN "):
            return f"; it contains {describe_character(ch)}, retype it in plain ASCII"
    return ""


def _is_domain(domain: str) -> bool:
    labels = domain.split(".")
    return (
        len(labels) >= 2
        and all(_LABEL.fullmatch(label) for label in labels[:-1])
        and _TLD.fullmatch(labels[-1]) is not None
    )
