"""Which app settings the code reads: every reader run against a mapping that records the keys asked for.

Used to check that the settings documentation (local.settings.json.example) and, later, the
deployment (infra/) cover every setting the code reads, with no list kept by hand.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path

from provisioning.core.sync_rows import SyncSettings
from provisioning.entrypoints.http.access import ApiAccessSettings
from provisioning.entrypoints.local.host import SETTING_EXPRESSION
from provisioning.errors import ProvisioningError
from provisioning.settings import Settings
from provisioning.storage.account import StorageSettings

ROOT = Path(__file__).resolve().parents[1]


class RecordingEnv(dict[str, str]):
    """A dict that remembers every key looked up in it."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: set[str] = set()

    def get(self, key: str, default: object = None) -> object:  # type: ignore[override]
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.asked.add(key)
        return super().__contains__(key)


def settings_read() -> set[str]:
    """Every PROVISIONING_* setting a reader asks for, plus those the trigger bindings name."""
    env = RecordingEnv({"PROVISIONING_STORAGE": "UseDevelopmentStorage=true"})
    readers = (
        Settings.from_env,
        Settings.offline,
        StorageSettings.from_env,
        SyncSettings.from_env,
        ApiAccessSettings.from_env,
    )
    for reader in readers:
        with contextlib.suppress(ProvisioningError):
            reader(env)
    names = {k for k in env.asked if k.startswith("PROVISIONING_") and "__" not in k}
    for path in (ROOT / "provisioning" / "entrypoints" / "functions").glob(
        "*.py"
    ):  # %SETTING% in trigger bindings
        names |= set(SETTING_EXPRESSION.findall(path.read_text(encoding="utf-8")))
    names |= set(
        re.findall(
            r'"(PROVISIONING_LOCAL_[A-Z_]+)"', (ROOT / "provisioning/entrypoints/local/runner.py").read_text()
        )
    )
    return names
