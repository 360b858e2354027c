"""The redaction step every log record passes, whichever library logged it (stdlib logging only, no I/O of its own).

Our own log calls mask users and numbers at the source (``core.masking``); this is the defence in depth for
what third-party libraries log at DEBUG (httpx request URLs holding UPNs, azure-core headers, MSAL).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from provisioning.core.masking import mask_log_text

_MIN_SECRET_LENGTH = 8  # shorter values would redact ordinary words


class RedactingFilter(logging.Filter):
    """Rewrites a record so its final message, exception and stack text are masked; drops nothing.

    The message is formatted once (``msg % args``) and masked, and ``args`` cleared: a handler formatting
    the record later sees only the masked text. Known secret values (``add_secret``) are removed verbatim.
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def add_secret(self, value: str | None) -> None:
        """Redact *value* wherever it appears (a client secret, a function key); short values are ignored."""
        if value and len(value) >= _MIN_SECRET_LENGTH and value not in self._secrets:
            with self._lock:
                # Longest first, so a secret containing another is removed whole.
                self._secrets = tuple(sorted({*self._secrets, value}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        """*text* as it may appear in a log."""
        return mask_log_text(text, self._secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_provisioning_redacted", False):
            return True
        record.msg = self.redact(_message(record))
        record.args = None
        if record.exc_info and not record.exc_text:
            # Rendered now so the masked text is what every Formatter prints (it reuses exc_text);
            # exc_info stays for handlers that want the exception type.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        record.__dict__["_provisioning_redacted"] = True
        return True


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):  # arguments that do not fit the format: keep the format, drop them
        return f"{record.msg} [log arguments did not match the format]"


_FILTER = RedactingFilter()


def add_secret(value: str | None) -> None:
    """Never log *value*: the process-wide filter removes it from every record."""
    _FILTER.add_secret(value)


def install_redaction() -> RedactingFilter:
    """Pass every log record of this process through the redacting filter; idempotent.

    Installed as the record factory, not on handlers: a filter on a handler misses handlers added later
    (the Functions worker's, Application Insights'), and a logger's filter misses its children's records.
    """
    current = logging.getLogRecordFactory()
    if not getattr(current, "_provisioning_redaction", False):
        logging.setLogRecordFactory(_redacting_factory(current))
    return _FILTER


def _redacting_factory(inner: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = inner(*args, **kwargs)
        _FILTER.filter(record)
        return record

    factory._provisioning_redaction = True  # type: ignore[attr-defined]
    return factory
