"""Every app setting the code reads is documented in local.settings.json.example."""

from __future__ import annotations

import json

from tests.settings_inventory import ROOT, settings_read


def test_the_inventory_finds_the_settings_of_every_reader():
    """The recorded reads cover Graph, storage, sync and binding settings (the inventory itself works)."""
    names = settings_read()

    assert {"PROVISIONING_TENANT_ID", "PROVISIONING_STORAGE", "PROVISIONING_SYNC_MODE"} <= names
    assert {"PROVISIONING_INPUT_CONTAINER", "PROVISIONING_SYNC_SCHEDULE", "PROVISIONING_WORK_QUEUE"} <= names


def test_every_setting_read_is_in_the_local_settings_example():
    """local.settings.json.example lists each setting the code reads, so none is undocumented."""
    example = json.loads((ROOT / "local.settings.json.example").read_text(encoding="utf-8"))["Values"]

    assert sorted(settings_read() - example.keys()) == []
