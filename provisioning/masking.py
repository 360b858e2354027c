"""PII masking for logs and error texts: the project's single helper (pure).

Phone numbers keep their country code and last three digits, emails their first character and domain.
"""

from __future__ import annotations

import re

_GUID = r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}"
_ATEXT = r"[\w!#$%&'*+/=?^`{|}~.\-]"  # characters of an email's local part (RFC 5322 atext, dots)
_EMAIL = rf"(?<!{_ATEXT}){_ATEXT}+@[\w\-]+(?:\.[\w\-]+)*"
_PHONE = r"(?<!\d)\+?\d(?:[ .\-]?\d)*(?:[xX]\d+)?"  # digits, single separators, optional extension
_SENSITIVE = re.compile(rf"(?P<email>{_EMAIL})|(?P<guid>{_GUID})|(?P<phone>{_PHONE})")
_GRAPH_PHONE = re.compile(r"\s*(\+\d{1,3}) (\d+)\s*")
_EXTENSION = re.compile(r"[xX](\d+)\s*$")
_LONG_DIGITS = re.compile(r"\d{5,}")
_KEPT_DIGITS = 3
_MIN_PHONE_DIGITS = 5


def mask_phone(number: str) -> str:
    """``+31 612345678`` -> ``+31 ******678``: country code and last three digits kept, extension hidden.

    A number not in Graph's form keeps its punctuation and only its last three digits.
    """
    extension = _EXTENSION.search(number)
    body = number[: extension.start()] if extension else number
    graph_form = _GRAPH_PHONE.fullmatch(body)
    masked = f"{graph_form[1]} {_mask_digits(graph_form[2])}" if graph_form else _mask_digits(body)
    return masked + (f"x{'*' * len(extension[1])}" if extension else "")


def mask_email(address: str) -> str:
    """``alice@contoso.com`` -> ``a***@contoso.com``: only the first character of the local part stays."""
    if not address:
        return ""
    local, at, domain = address.rpartition("@")
    if not at:
        return f"{address[:1]}***"
    return f"{local[:1]}***@{domain}"


def mask_user(user: str) -> str:
    """A UPN masked like an email; an object id (GUID) returned as it is, since it names nobody."""
    return user if re.fullmatch(_GUID, user.strip()) else mask_email(user)


def mask_text(text: str) -> str:
    """*text* with every email and every phone-like run of five or more digits masked.

    GUIDs (request and object ids) stay readable; digits in an email's domain are masked too.
    """

    def replace(match: re.Match[str]) -> str:
        found = match[0]
        if match["email"]:
            local, _, domain = found.rpartition("@")
            domain = _LONG_DIGITS.sub(lambda digits: _mask_digits(digits[0]), domain)
            return mask_email(f"{local}@{domain}")
        if match["guid"] or len(re.findall(r"\d", found)) < _MIN_PHONE_DIGITS:
            return found
        return mask_phone(found)

    return _SENSITIVE.sub(replace, text)


def _mask_digits(text: str) -> str:
    """Every digit as ``*`` except the last three (all of them when there are no more than three)."""
    total = len(re.findall(r"\d", text))
    keep_from = total - _KEPT_DIGITS if total > _KEPT_DIGITS else total
    seen = 0

    def star(match: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        return match[0] if seen > keep_from else "*"

    return re.sub(r"\d", star, text)
