"""What the local runner knows of the Functions host: the app's functions, their bindings, host.json.

It indexes ``function_app.app`` the way the host does (``get_functions()``), resolves ``%SETTING%``
binding expressions from the environment, and reads the queue settings the host would apply.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import azure.functions as func

from provisioning.storage.account import DEFAULT_NAMES

ROOT = Path(__file__).resolve().parents[3]
SETTING_EXPRESSION = re.compile(r"%([A-Za-z0-9_]+)%")
BINDING_DEFAULTS: Mapping[str, str] = {
    "PROVISIONING_INPUT_CONTAINER": DEFAULT_NAMES["PROVISIONING_INPUT_CONTAINER"],
    "PROVISIONING_WORK_QUEUE": DEFAULT_NAMES["PROVISIONING_WORK_QUEUE"],
    "PROVISIONING_SYNC_SCHEDULE": "0 0 2 * * *",  # 02:00 UTC (NCRONTAB; Flex has no time zones)
}


@dataclass(frozen=True)
class QueueOptions:
    """``extensions.queues`` of host.json, with the host's defaults."""

    max_dequeue_count: int = 5
    visibility_timeout_s: float = 0.0
    batch_size: int = 16
    message_encoding: str = "base64"
    max_polling_interval_s: float = 2.0
    new_batch_threshold: int | None = None  # the host's default: batchSize / 2

    @property
    def refill_at(self) -> int:
        """A new batch is fetched once no more than this many messages are still running."""
        return self.batch_size // 2 if self.new_batch_threshold is None else self.new_batch_threshold


@dataclass(frozen=True)
class Function:
    """One indexed function: its name, trigger binding (settings resolved) and the Python callable."""

    name: str
    trigger: Mapping[str, Any]
    call: Callable[..., Any]
    extra: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def kind(self) -> str:
        return str(self.trigger["type"])

    @property
    def arg(self) -> str:
        return str(self.trigger["name"])


def resolve(value: str, env: Mapping[str, str]) -> str:
    """``%NAME%`` replaced by the app setting NAME; a missing setting is an error, as on the host."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            msg = f"app setting {name} is not set (used in a binding as %{name}%)"
            raise KeyError(msg)
        return env[name]

    return SETTING_EXPRESSION.sub(lookup, value)


_BUILT: dict[int, list[Any]] = {}


def _functions_of(app: func.FunctionApp) -> list[Any]:
    # get_functions() may run once per app: a second call finds the names taken and raises.
    if id(app) not in _BUILT:
        _BUILT[id(app)] = list(app.get_functions())
    return _BUILT[id(app)]


def index(app: func.FunctionApp, env: Mapping[str, str]) -> list[Function]:
    """Every function of *app* with its trigger's ``%SETTING%`` expressions resolved.

    Settings the bindings name but the environment lacks take the app's defaults (in Azure the
    Bicep sets each of them as an app setting).
    """
    env = {**BINDING_DEFAULTS, **env}
    functions = []
    for built in _functions_of(app):
        bindings = json.loads(built.get_function_json())["bindings"]
        trigger = next(b for b in bindings if str(b["type"]).endswith("Trigger"))
        resolved = {k: resolve(v, env) if isinstance(v, str) else v for k, v in trigger.items()}
        others = tuple(b for b in bindings if b is not trigger)
        functions.append(
            Function(str(built.get_function_name()), resolved, built.get_user_function(), others)
        )
    return functions


def queue_options(host_json: Path = ROOT / "host.json") -> QueueOptions:
    """The queue settings from host.json (``extensions.queues``)."""
    data = json.loads(host_json.read_text(encoding="utf-8"))
    queues = data.get("extensions", {}).get("queues", {})
    defaults = QueueOptions()
    return QueueOptions(
        max_dequeue_count=int(queues.get("maxDequeueCount", defaults.max_dequeue_count)),
        visibility_timeout_s=_seconds(queues.get("visibilityTimeout"), defaults.visibility_timeout_s),
        batch_size=int(queues.get("batchSize", defaults.batch_size)),
        message_encoding=str(queues.get("messageEncoding", defaults.message_encoding)),
        max_polling_interval_s=_seconds(queues.get("maxPollingInterval"), defaults.max_polling_interval_s),
        new_batch_threshold=int(queues["newBatchThreshold"]) if "newBatchThreshold" in queues else None,
    )


def blob_parallelism(host_json: Path = ROOT / "host.json") -> int:
    """How many blob-triggered invocations run at once (``extensions.blobs.maxDegreeOfParallelism``).

    The host's default is 8 per core; a local runner shares its machine, so without the setting it runs 2.
    """
    data = json.loads(host_json.read_text(encoding="utf-8"))
    return max(1, int(data.get("extensions", {}).get("blobs", {}).get("maxDegreeOfParallelism", 2)))


def _seconds(value: object, default: float) -> float:
    """A host.json TimeSpan (``hh:mm:ss``) in seconds."""
    if not isinstance(value, str):
        return default
    hours, minutes, seconds = value.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def load_app() -> func.FunctionApp:
    """Import ``function_app.app`` from the project root, as the host does."""
    import function_app

    app = function_app.app
    assert isinstance(app, func.FunctionApp)
    return app
