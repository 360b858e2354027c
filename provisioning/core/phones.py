"""Phone numbers from admins' files into Graph's ``+{country code} {number}[x{ext}]`` form (pure).

Also owns the two checks every free-text cell goes through: the spreadsheet-formula guard, and
naming a character that hides in plain sight (invisible, or a look-alike of an ASCII one).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import phonenumbers

from provisioning.errors import PhoneError

# Graph's phoneNumber format, "+{country code} {number}x{extension}"
# (learn.microsoft.com/graph/api/resources/phoneauthenticationmethod).
_MAX_LENGTH = 64
_MAX_EXTENSION_DIGITS = 10
# A trailing extension: "x123", "ext 123", "ext. 123", "extension 123", "#123".
_EXTENSION = re.compile(r"^(?P<number>.*?)\s*(?:e?xt(?:ension)?\.?|x|#)\s*(?P<ext>[0-9]+)\s*$", re.IGNORECASE)
# Spaces (any Unicode space, e.g. the no-break spaces Excel writes), dashes, dots, slashes, brackets.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212./()\[\]]")
_FORMULA_STARTS = ("=", "@", "-", "\t", "\r")
# Graph's own form and plain "+digits": the common case, which needs no separator or extension handling.
_PLAIN = re.compile(r"\+[1-9][0-9]* ?[0-9]+")


def looks_like_formula(text: str) -> bool:
    """Whether a cell would run as a formula in a spreadsheet (CSV injection, OWASP).

    True when it starts with ``=``, ``@``, ``-``, a tab or a CR, or with ``+`` followed by
    anything but a digit, a space or a bracket (``+31 6…`` and ``+(31)`` are phone numbers).
    """
    for candidate in (text, text.lstrip(" ")):
        if candidate.startswith(_FORMULA_STARTS):
            return True
        if candidate.startswith("+") and len(candidate) > 1:
            follower = candidate[1]
            if not (follower.isdecimal() or follower.isspace() or follower in "(["):
                return True
    return False


def describe_character(ch: str) -> str:
    """*ch* for a message: ``'A'`` when printable ASCII, else with its code point and Unicode name.

    An admin cannot see a zero-width space, and cannot tell a full-width ``\\uff11`` or a Cyrillic ``\\u0430``
    from ASCII; the name says which character to delete or retype.
    """
    if ch.isascii() and ch.isprintable():
        return repr(ch)
    label = f"U+{ord(ch):04X} {unicodedata.name(ch, '')}".rstrip()
    if ch.isprintable() and not ch.isspace():
        return f"'{ch}' ({label})"
    return f"the invisible character {label}"


def check_region(region: str) -> str:
    """The ISO 3166 alpha-2 code *region* in upper case; PhoneError if phonenumbers does not know it."""
    code = region.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        msg = f"{region!r} is not a known ISO 3166 region code (e.g. NL, DE, US)"
        raise PhoneError(msg)
    return code


def normalise_phone(text: str, default_region: str | None) -> str:
    """*text* in Graph's form, e.g. ``+31 612345678`` or ``+1 4255550100x123``.

    Accepts ``+`` or ``00`` prefixes, separators, ``(0)`` and a stray trunk zero after the country
    code. Numbers without a country code use *default_region* (ISO 3166 alpha-2). Raises
    ``PhoneError`` (and nothing else) for anything phonenumbers does not call valid.
    """
    if len(text) <= _MAX_LENGTH and _PLAIN.fullmatch(text):  # the same answer as below, sooner
        country_code, national = _international(text.replace(" ", ""))
        return f"+{country_code} {national}"
    if looks_like_formula(text):
        msg = "looks like a spreadsheet formula; enter the number as plain text, e.g. +31 612345678"
        raise PhoneError(msg)
    stripped = text.strip()
    if not stripped:
        msg = "empty"
        raise PhoneError(msg)
    if len(stripped) > _MAX_LENGTH:
        msg = f"longer than {_MAX_LENGTH} characters; not a phone number"
        raise PhoneError(msg)
    number, extension = _split_extension(stripped)
    compact = _compact(number)
    if compact.startswith(("+", "00")):
        country_code, national = _international(compact)
    else:
        country_code, national = _national(compact, default_region)
    return f"+{country_code} {national}" + (f"x{extension}" if extension else "")


def _split_extension(text: str) -> tuple[str, str]:
    match = _EXTENSION.match(text)
    if match is None:
        return text, ""
    extension = match["ext"]
    if len(extension) > _MAX_EXTENSION_DIGITS:
        msg = f"extension longer than {_MAX_EXTENSION_DIGITS} digits"
        raise PhoneError(msg)
    return match["number"], extension


def _compact(number: str) -> str:
    """The number without separators: only digits and ``+`` remain, or PhoneError."""
    compact = _SEPARATORS.sub("", number)
    if not compact:
        msg = "no digits"
        raise PhoneError(msg)
    bad = sorted({ch for ch in compact if ch != "+" and not ("0" <= ch <= "9")})
    if bad:
        shown = ", ".join(describe_character(ch) for ch in bad[:5])
        msg = f"contains {shown}; a phone number has only digits, spaces and + - . ( ) /"
        raise PhoneError(msg)
    prefixes = compact.count("+") + (compact.lstrip("+").startswith("00"))
    if prefixes > 1:
        msg = "two international prefixes (+ or 00); keep one, e.g. +31 612345678"
        raise PhoneError(msg)
    if "+" in compact[1:]:
        msg = "a '+' in the middle; it belongs only at the start"
        raise PhoneError(msg)
    return compact


def _international(compact: str) -> tuple[int, str]:
    digits = compact[1:] if compact.startswith("+") else compact[2:]
    country_code = _country_code(digits)
    rest = digits[len(str(country_code)) :]
    national = _valid_national(country_code, rest)
    if national is not None:
        return country_code, national
    raise PhoneError(_invalid_reason(country_code, rest))


def _country_code(digits: str) -> int:
    # Country codes are prefix-free and 1 to 3 digits long (ITU-T E.164).
    for length in (1, 2, 3):
        candidate = digits[:length]
        if len(candidate) == length and int(candidate) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return int(candidate)
    msg = "no valid country code after the international prefix; write it as +CC NUMBER, e.g. +31 612345678"
    raise PhoneError(msg)


def _valid_national(country_code: int, rest: str) -> str | None:
    """The national significant number if *rest* is valid, or valid once its trunk zero is dropped.

    The zero is dropped only when the number is invalid with it and valid without it: Italian
    numbers keep theirs (``+39 0612345678``), Dutch ones lose it (``+31 0612345678``).
    """
    for national in (rest, rest[1:] if rest.startswith("0") else None):
        if national and _is_valid(country_code, national):
            return national
    return None


def _is_valid(country_code: int, national: str) -> bool:
    """Whether phonenumbers' ``is_valid_number`` holds for this number (same answer, ~3x faster)."""
    if len(national) > 17:  # E.164 allows 15 digits in all; longer cannot be valid
        return False
    # phonenumbers keeps leading zeros apart from the integer, so an all-zero number gains one.
    significant = national if national.strip("0") else national + "0"
    regions = _regions(country_code)
    if len(regions) == 1:  # phonenumbers picks a lone region without looking at the number
        return regions[0].is_valid(significant)
    chosen = next((region for region in regions if region.claims(significant)), None)
    return chosen is not None and chosen.is_valid(significant)


@dataclass(frozen=True)
class _Pattern:
    """One of phonenumbers' number descriptions: allowed lengths (empty: any) and a pattern."""

    lengths: frozenset[int]
    fullmatch: Callable[[str], object]

    def matches(self, significant: str) -> bool:
        if self.lengths and len(significant) not in self.lengths:
            return False
        return self.fullmatch(significant) is not None


@dataclass(frozen=True)
class _Region:
    """A region's metadata, compiled once, for a copy of ``is_valid_number`` without its overhead.

    ``is_valid`` mirrors ``is_valid_number_for_region``: the general pattern and one type's pattern
    must match. ``claims`` mirrors how ``region_code_for_number`` picks among regions sharing a code.
    """

    leading: Callable[[str], object] | None
    general: _Pattern | None
    types: tuple[_Pattern, ...]
    own_code: bool

    def is_valid(self, significant: str) -> bool:
        return self.own_code and self._has_type(significant)

    def claims(self, significant: str) -> bool:
        if self.leading is not None:
            return self.leading(significant) is not None
        return self._has_type(significant)

    def _has_type(self, significant: str) -> bool:
        if self.general is None or not self.general.matches(significant):
            return False
        return any(pattern.matches(significant) for pattern in self.types)


_TYPES = ("premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail")


@functools.cache
def _regions(country_code: int) -> tuple[_Region, ...]:
    """The regions phonenumbers tries for *country_code*, in its order, with their metadata loaded."""
    codes: tuple[str, ...] = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code, ())
    lone = len(codes) == 1
    regions = []
    for code in codes:
        metadata = (
            phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, code.upper())
            if lone
            else phonenumbers.PhoneMetadata.metadata_for_region(code.upper(), None)
        )
        if metadata is not None:
            regions.append(_region(metadata, country_code, code))
    return tuple(regions)


def _region(metadata: phonenumbers.PhoneMetadata, country_code: int, code: str) -> _Region:
    def pattern(name: str) -> _Pattern | None:
        desc = getattr(metadata, name)
        regex = desc.national_number_pattern if desc is not None else None
        return _Pattern(frozenset(desc.possible_length), re.compile(regex).fullmatch) if regex else None

    # Any order gives the same answer; the common types go first. phonenumbers skips the mobile
    # pattern when it is the fixed-line one.
    names = ["fixed_line"] + ([] if metadata.same_mobile_and_fixed_line_pattern else ["mobile"]) + [*_TYPES]
    leading = metadata.leading_digits
    return _Region(
        leading=re.compile(leading).match if leading is not None else None,
        general=pattern("general_desc"),
        types=tuple(p for p in map(pattern, names) if p is not None),
        own_code=code == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY or metadata.country_code == country_code,
    )


def _invalid_reason(country_code: int, rest: str) -> str:
    cc = str(country_code)
    for doubled in (cc, "0" + cc, "00" + cc):
        if rest.startswith(doubled) and _valid_national(country_code, rest[len(doubled) :]):
            return f"country code +{cc} written twice; keep one"
    region = phonenumbers.region_code_for_country_code(country_code)
    return f"not a valid phone number for country code +{cc} ({region}){_length_hint(country_code, rest)}"


def _length_hint(country_code: int, rest: str) -> str:
    if not rest or len(rest) > 17:
        return ": wrong length" if rest else ": nothing after the country code"
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int(rest))
    reason = phonenumbers.is_possible_number_with_reason(number)
    hints = {
        phonenumbers.ValidationResult.TOO_SHORT: ": too short",
        phonenumbers.ValidationResult.TOO_LONG: ": too long",
        phonenumbers.ValidationResult.INVALID_LENGTH: ": wrong length",
    }
    return hints.get(reason, "")


def _national(compact: str, default_region: str | None) -> tuple[int, str]:
    if default_region is None:
        msg = (
            "no country code; write it as +CC NUMBER (e.g. +31 612345678) or set PROVISIONING_DEFAULT_REGION"
        )
        raise PhoneError(msg)
    region = check_region(default_region)
    try:
        number = phonenumbers.parse(compact, region)
    except phonenumbers.NumberParseException as exc:
        msg = f"not a phone number for region {region}"
        raise PhoneError(msg) from exc
    country_code = int(number.country_code or 0)
    if not phonenumbers.is_valid_number(number):
        hint = _length_hint(country_code, str(number.national_number))
        msg = f"not a valid phone number for region {region}{hint}"
        raise PhoneError(msg)
    return country_code, phonenumbers.national_significant_number(number)
