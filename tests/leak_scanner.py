"""Finds personal data and secrets in log text: what must never appear (needles), and the scan.

Phones are matched on their national significant number as a digit run, whatever the punctuation
around or inside it (E.164, Graph's ``+31 612345678``, ``06-1234 5678``, ``(425) 555-0190``); emails in
any case and percent-encoded (``%40``), and by their local part alone (``jordan.miller``); tokens,
PEM blocks, SAS signatures, account keys and bearer values by shape; known secret values verbatim.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote

import phonenumbers

from provisioning.core.masking import mask_email, mask_phone

MIN_PHONE_DIGITS = 7  # shorter "numbers" in the samples are deliberately invalid (+31 12)
MIN_LOCAL_PART = 6  # local parts such as "jordan.miller"; shorter ones are ordinary words
_EMAIL = re.compile(r"[\w.+'%!#$&*^`{|}~\-]+@[\w\-]+(?:\.[\w\-]+)+")
_PHONE_CELL = re.compile(r"[+\d][\d ()./\-]*(?:(?:x|ext\.?)\s*\d+)?", re.IGNORECASE)
_DIGIT_RUN = re.compile(r"\d(?:[ \-.()/]{0,2}\d)*")  # digits with the punctuation numbers are written with
SHAPES: dict[str, re.Pattern[str]] = {
    "jwt": re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]*\."),
    "pem": re.compile(r"-----BEGIN [A-Z0-9 ]+-----|PRIVATE KEY"),
    "sas-signature": re.compile(r"\bsig=(?!\[redacted\])[\w%+/=]{8,}"),
    "account-key": re.compile(r"AccountKey=(?!\[redacted\])[^;\s'\"]{8,}"),
    "bearer": re.compile(r"(?i)\bBearer\s+(?!\[redacted\])[\w\-.~+/]{8,}"),
    "function-key-query": re.compile(r"[?&]code=(?!\[redacted\])[^&\s\"']{8,}"),
}


@dataclass(frozen=True)
class Finding:
    """One leak: where, what kind, and the needle masked (a test report is a log too)."""

    source: str
    line: int
    kind: str
    what: str


@dataclass
class Needles:
    """What must not appear: national numbers (digits), lower-case emails, literal secrets."""

    phones: set[str] = field(default_factory=set)
    emails: set[str] = field(default_factory=set)
    secrets: dict[str, str] = field(default_factory=dict)  # value -> what it is

    def add_value(self, value: str, region: str = "NL") -> None:
        """Classify one data value: an email address, a phone number, or neither."""
        value = value.strip()
        if _EMAIL.fullmatch(value):
            self.emails.add(value.lower())
        elif _PHONE_CELL.fullmatch(value):
            number = national_number(value, region)
            if number is not None:
                self.phones.add(number)

    def add_json(self, document: object) -> None:
        for value in _strings(document):
            self.add_value(value)

    def add_csv(self, text: str) -> None:
        dialect = csv.Sniffer().sniff(text.splitlines()[0], delimiters=",;\t")
        for row in csv.reader(io.StringIO(text), dialect):
            for cell in row:
                self.add_value(cell)

    def add_secret(self, value: str, what: str) -> None:
        self.secrets[value] = what

    @property
    def local_parts(self) -> set[str]:
        return {email.split("@")[0] for email in self.emails if len(email.split("@")[0]) >= MIN_LOCAL_PART}


def national_number(value: str, region: str = "NL") -> str | None:
    """The national significant number as digits (``+31 6 1234 5678`` -> ``612345678``), or None when
    the value has too few digits to be told apart from counts and ports in a log."""
    try:
        parsed = phonenumbers.parse(value, region)
        number = str(parsed.national_number)
    except phonenumbers.NumberParseException:
        number = re.sub(r"\D", "", value)
    return number if len(number) >= MIN_PHONE_DIGITS else None


def _strings(document: object) -> Iterator[str]:
    if isinstance(document, str):
        yield document
    elif isinstance(document, dict):
        for value in document.values():
            yield from _strings(value)
    elif isinstance(document, list):
        for value in document:
            yield from _strings(value)


def scan(text: str, needles: Needles, source: str) -> list[Finding]:
    """Every leak in *text*, one finding per line and needle."""
    emails = [(e, quote(e, safe="").lower(), mask_email(e)) for e in sorted(needles.emails)]
    local_parts = sorted(needles.local_parts)
    phones = sorted(needles.phones)
    findings: list[Finding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        lower = line.lower()
        found = [("email", masked) for email, encoded, masked in emails if email in lower or encoded in lower]
        found += [("email local part", f"{local[:1]}***") for local in local_parts if local in lower]
        digits = " ".join(re.sub(r"\D", "", run) for run in _DIGIT_RUN.findall(line))
        found += [("phone", mask_phone(phone)) for phone in phones if phone in digits]
        found += [(kind, kind) for kind, pattern in SHAPES.items() if pattern.search(line)]
        found += [("secret", what) for secret, what in needles.secrets.items() if secret in line]
        findings.extend(Finding(source, number, kind, what) for kind, what in found)
    return findings


def scan_all(sources: Iterable[tuple[str, str]], needles: Needles) -> list[Finding]:
    """Scan several (source name, text) pairs."""
    return [finding for source, text in sources for finding in scan(text, needles, source)]
