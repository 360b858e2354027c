"""PII masking for logs and error texts: the project's single helper (pure).

Phone numbers keep their country code and last three digits, emails their first character and domain.
``mask_log_text`` is what the logging filter (``log_redaction``) applies to every log record: secrets
(tokens, keys, PEM blocks, SAS signatures) removed, then PII masked with log-friendly phone rules.
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
            return _mask_email_in_text(found)
        if match["guid"] or len(re.findall(r"\d", found)) < _MIN_PHONE_DIGITS:
            return found
        return mask_phone(found)

    return _SENSITIVE.sub(replace, text)


# --- log text ------------------------------------------------------------------------------------
# Secrets first (a JWT or a key contains digit runs the phone rule would only half hide), then PII.
_REDACTED = "[redacted]"
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?(?:-----END [A-Z0-9 ]+-----|\Z)", re.DOTALL)
_JWT = re.compile(r"\beyJ[\w-]{8,}(?:\.[\w-]*){0,2}")  # base64url of '{"': every JWT header starts so
_LONG_BASE64 = re.compile(r"[A-Za-z0-9+/]{80,}={0,2}")  # DER certificates and keys, x5c
# Names whose value is a secret; each regex runs only when one of its names is in the text (speed).
_PARAMETER_NAMES = (  # name=value: connection strings, query strings, form bodies
    "accountkey", "sharedaccesskey", "sharedaccesssignature", "sig", "code", "client_secret",
    "client_assertion", "password", "access_token", "refresh_token", "id_token",
)  # fmt: skip
_FIELD_NAMES = (  # "name": "value" and header dumps ('Authorization': '...')
    "authorization", "x-functions-key", "ocp-apim-subscription-key", "access_token", "refresh_token",
    "id_token", "client_secret", "client_assertion", "password", "private_key", "functionkey", "masterkey",
)  # fmt: skip
_SCHEMES = ("bearer", "basic", "sharedkey")  # Authorization schemes followed by a credential
_SECRET_PARAMETER = re.compile(rf"(?i)\b({'|'.join(map(re.escape, _PARAMETER_NAMES))})=([^&;\s'\"<>]+)")
_SECRET_FIELD = re.compile(
    rf"(?i)([\"']?\b(?:{'|'.join(map(re.escape, _FIELD_NAMES))})[\"']?\s*[:=]\s*[\"']?)"
    r"(?!REDACTED|\*+[\"'])([^\s\"',}][^\"'\r\n,}]*)"
)
_BEARER = re.compile(rf"(?i)\b({'|'.join(_SCHEMES)})[ \t]+[\w\-.~+/:]+=*")
_PERCENT_AT = re.compile(r"(?i)(?<=[\w.\-+])%40(?=[\w\-]+\.[\w\-])")  # alice%40contoso.com in a URL
# Shapes that look like digit runs but name nobody: the part of a phone-like run inside one stays readable.
_DATE_TIME = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
_IPV4 = r"(?<![\d.])\d{1,3}(?:\.\d{1,3}){3}(?![\d.])(?::\d{1,5})?"
_HEX = r"\b0x[0-9A-Fa-f]+"
_HTTP_STATUS = r'HTTP/\d(?:\.\d)?"? \d{3}(?: \d+)?'  # access-log status and size: "HTTP/1.1" 200 1544
# Digits, maybe grouped with brackets and separators; not inside a word (hex ids), though an extension
# (x123, ext. 123) may follow.
_LOG_PHONE = r"(?<![\w+])\+?\(?\d+\)?(?:[ .\-]{1,2}\(?\d+\)?)*(?=(?:x|ext)\.?\s*\d|\W|$)"
# In logs "/", "=", "?" and "&" end a word (URL paths, key=value), so they are not part of an address;
# nor does a quote start one ('ann@contoso.com' is quoted, o'brien@contoso.com is not).
_LOG_LOCAL_START = r"[\w!#$%*+^`{|}~.\-]"
_LOG_EMAIL = rf"(?<!{_LOG_LOCAL_START}){_LOG_LOCAL_START}[\w!#$%'*+^`{{|}}~.\-]*@[\w\-]+(?:\.[\w\-]+)*"
_LOG_EMAIL_RUN = re.compile(_LOG_EMAIL)
_LOG_PHONE_RUN = re.compile(_LOG_PHONE)
# Looked for only around a phone-like run (one alternation over the whole text costs 5x more).
_KEPT_SHAPE = re.compile(rf"{_GUID}|{_DATE_TIME}|{_IPV4}|{_HEX}|{_HTTP_STATUS}")
_KEPT_CONTEXT = 48  # characters either side of a run: longer than any kept shape
# A log line is full of counts, ports and sizes: a run without "+" is a phone from seven digits on
# (the shortest national numbers in the data have nine); with "+", from five, as in mask_text.
_MIN_LOG_PHONE_DIGITS = 7


def redact_secrets(text: str, known: tuple[str, ...] = ()) -> str:
    """*text* without tokens, keys, PEM blocks, SAS signatures or the *known* secret values.

    Labels stay (``sig=[redacted]``, ``Bearer [redacted]``) so a reader still sees what was there.
    """
    for secret in known:
        if secret:
            text = text.replace(secret, _REDACTED)
    lowered = text.lower()
    if "-----begin" in lowered:
        text = _PEM_BLOCK.sub("[PEM block redacted]", text)
    if "eyj" in lowered:
        text = _JWT.sub("[token redacted]", text)
    text = _LONG_BASE64.sub(_redact_base64, text)
    if any(scheme in lowered for scheme in _SCHEMES):
        text = _BEARER.sub(lambda m: f"{m[1]} {_REDACTED}", text)
    if any(f"{name}=" in lowered for name in _PARAMETER_NAMES):
        text = _SECRET_PARAMETER.sub(lambda m: f"{m[1]}={_REDACTED}", text)
    if any(name in lowered for name in _FIELD_NAMES):
        text = _SECRET_FIELD.sub(lambda m: f"{m[1]}{_REDACTED}", text)
    return text


def mask_log_text(text: str, known_secrets: tuple[str, ...] = ()) -> str:
    """A log message made safe: secrets redacted, emails masked (also ``%40``-encoded ones in URLs),
    phone-like runs masked; GUIDs, dates, times, IPv4 addresses and hex ids stay readable."""
    text = redact_secrets(text, known_secrets)
    if "@" in text or "%40" in text:
        text = _LOG_EMAIL_RUN.sub(lambda m: _mask_email_in_text(m[0]), _PERCENT_AT.sub("@", text))
    return _LOG_PHONE_RUN.sub(lambda m: _mask_phone_run(m, text), text)


def _mask_phone_run(match: re.Match[str], text: str) -> str:
    """A digit run masked as a phone, except the parts that belong to a date, an IP, a GUID or a hex id."""
    masked = _phone_or_digits(match[0])
    if masked == match[0]:
        return masked  # too short to be a phone: the common case, so no shape search
    start, end = match.span()
    window = _KEPT_SHAPE.finditer(text, max(0, start - _KEPT_CONTEXT), end + _KEPT_CONTEXT)
    kept = [k.span() for k in window if k.start() < end and start < k.end()]
    if not kept:
        return masked
    pieces: list[str] = []
    cursor = start
    for kept_start, kept_end in kept:
        pieces.append(
            _LOG_PHONE_RUN.sub(lambda m: _phone_or_digits(m[0]), text[cursor : max(cursor, kept_start)])
        )
        pieces.append(text[max(cursor, kept_start) : min(end, kept_end)])
        cursor = min(end, kept_end)
    pieces.append(_LOG_PHONE_RUN.sub(lambda m: _phone_or_digits(m[0]), text[cursor:end]))
    return "".join(pieces)


def _phone_or_digits(found: str) -> str:
    """*found* masked when it has a phone's digit count, else as it is."""
    digits = len(re.findall(r"\d", found))
    if digits < (_MIN_PHONE_DIGITS if found.startswith("+") else _MIN_LOG_PHONE_DIGITS):
        return found
    return mask_phone(found)


def _redact_base64(match: re.Match[str]) -> str:
    """Long base64 runs with upper case, lower case and digits (DER, keys); long paths and words stay."""
    found = match[0]
    mixed = all(re.search(pattern, found) for pattern in (r"[a-z]", r"[A-Z]", r"\d"))
    return "[base64 redacted]" if mixed else found


def _mask_email_in_text(found: str) -> str:
    local, _, domain = found.rpartition("@")
    domain = _LONG_DIGITS.sub(lambda digits: _mask_digits(digits[0]), domain)
    return mask_email(f"{local}@{domain}")


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
