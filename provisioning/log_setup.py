"""Logging for every entry point (Functions host, CLI, local runner and its workers): one level setting
and one redaction step that every log record passes, whichever library logged it.

Our own log calls mask users and numbers at the source (``masking``); this is the defence in depth for
what third-party libraries log at DEBUG (httpx request URLs holding UPNs, azure-core headers, MSAL).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from provisioning.errors import ConfigurationError
from provisioning.masking import mask_log_text

LEVEL_SETTING = "PROVISIONING_LOG_LEVEL"
LEVELS = ("debug", "info", "warning", "error")
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


def log_level(given: str | None, env: Mapping[str, str], *, default: str) -> int:
    """The level from *given* (a command-line option), else ``PROVISIONING_LOG_LEVEL``, else *default*.

    Raises ``ConfigurationError`` naming the setting when the value is not a level.
    """
    name = (given or env.get(LEVEL_SETTING) or default).strip().lower()
    if name not in LEVELS:
        msg = f"{LEVEL_SETTING}={name!r} is not a log level: use one of {', '.join(LEVELS)}"
        raise ConfigurationError(msg)
    return logging.getLevelNamesMapping()[name.upper()]


def configure_logging(given: str | None, *, default: str, fmt: str, stream: TextIO | None = None) -> None:
    """Set up logging for a process we start (CLI, local runner, worker): level, format, redaction.

    Like ``logging.basicConfig``, leaves handlers already on the root logger alone (pytest's).
    """
    install_redaction()
    logging.basicConfig(level=log_level(given, os.environ, default=default), stream=stream, format=fmt)


def configure_host_logging() -> None:
    """For ``function_app.py``: the Functions worker owns the handlers; add redaction, and the level
    only when ``PROVISIONING_LOG_LEVEL`` is set (host.json's ``logging.logLevel`` otherwise decides)."""
    install_redaction()
    if not os.environ.get(LEVEL_SETTING):
        return
    try:
        logging.getLogger().setLevel(log_level(None, os.environ, default="info"))
    except ConfigurationError as exc:  # a wrong log level must not stop the app: say so, keep the host's
        logging.getLogger(__name__).warning("%s; keeping the host's log level", exc)
