"""Logging for every entry point (Functions host, CLI, local runner and its workers): one level setting,
and the redaction step of ``log_redaction`` installed before anything logs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TextIO

from provisioning.errors import ConfigurationError
from provisioning.log_redaction import install_redaction

LEVEL_SETTING = "PROVISIONING_LOG_LEVEL"
LEVELS = ("debug", "info", "warning", "error")


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
