"""The deployment sets every app setting the code reads: infra/ is checked against the code, not a list."""

from __future__ import annotations

import json
import re

from provisioning.storage.account import DEFAULT_NAMES, POISON_SUFFIX
from tests.settings_inventory import ROOT, settings_read

INFRA = ROOT / "infra"

# Settings the code reads that the deployment leaves unset on purpose, each with the reason.
OPTIONAL = {
    "PROVISIONING_CERTIFICATE_PATH": "a developer's file; in Azure the certificate comes from Key Vault",
    "PROVISIONING_CERTIFICATE_PASSWORD": "only for PROVISIONING_CERTIFICATE_PATH; Key Vault secrets carry no password",
    "PROVISIONING_CLIENT_SECRET": "the discouraged alternative to the certificate, which the deployment uses",
    "PROVISIONING_AUTHORITY_URL": "derived from PROVISIONING_CLOUD; set only to reach a test server",
    "PROVISIONING_GRAPH_URL": "derived from PROVISIONING_CLOUD; set only to reach a test server",
    "PROVISIONING_WRITE_RATE": "derived from PROVISIONING_INSTANCES (Graph's budget split evenly); an override",
    "PROVISIONING_REQUEST_RATE": "derived from PROVISIONING_INSTANCES (Graph's budget split evenly); an override",
    "PROVISIONING_WRITE_WINDOW": "Graph's 150 s; set only for a test Graph with scaled windows (the benchmark)",
    "PROVISIONING_REQUEST_WINDOW": "Graph's 10 s; set only for a test Graph with scaled windows (the benchmark)",
    "PROVISIONING_API_ISSUERS": "derived from PROVISIONING_CLOUD and the tenant (Entra's v1 and v2 issuers); an override",
    "PROVISIONING_LOCAL_FUNCTION_KEY": "the local runner's stand-in; Azure issues the function keys",
    "PROVISIONING_LOCAL_MASTER_KEY": "the local runner's stand-in; Azure issues the master key",
    "PROVISIONING_LOCAL_LOCK_S": "the local runner's stand-in for the host's message visibility renewal",
}

_SETTING_KEY = re.compile(
    r"^\s*((?:PROVISIONING|AzureWebJobsStorage|APPLICATIONINSIGHTS)_\w+)\s*:", re.MULTILINE
)


def _bicep(name: str) -> str:
    return (INFRA / name).read_text(encoding="utf-8")


def settings_written() -> set[str]:
    """App setting names that infra/**/*.bicep writes (object keys of the app settings)."""
    names: set[str] = set()
    for path in INFRA.rglob("*.bicep"):
        names |= set(_SETTING_KEY.findall(path.read_text(encoding="utf-8")))
    return names


def _is_written(setting: str, written: set[str]) -> bool:
    # A named connection is set through its identity-based parts: NAME__blobServiceUri, ...
    return setting in written or any(key.startswith(f"{setting}__") for key in written)


def test_every_setting_the_code_reads_is_set_by_the_bicep_or_optional_with_a_reason():
    """Nothing the code reads is left to its default in Azure by accident."""
    written = settings_written()

    missing = sorted(s for s in settings_read() if not _is_written(s, written) and s not in OPTIONAL)

    assert missing == []


def test_the_optional_list_holds_only_settings_the_code_reads_and_the_bicep_leaves_unset():
    """No stale or contradictory entry: an optional setting is read by the code and not written by infra/."""
    written = settings_written()

    assert sorted(set(OPTIONAL) - settings_read()) == []
    assert sorted(s for s in OPTIONAL if _is_written(s, written)) == []


def test_both_storage_connections_are_complete_identity_based_connections():
    """The host and the pipeline connect with the managed identity: credential, client id and both URIs."""
    written = settings_written()
    parts = {"credential", "clientId", "blobServiceUri", "queueServiceUri"}

    for connection in ("AzureWebJobsStorage", "PROVISIONING_STORAGE"):
        assert {f"{connection}__{part}" for part in parts} <= written, connection
    assert not {"AzureWebJobsStorage", "PROVISIONING_STORAGE"} & written  # no connection strings


def test_the_container_and_queue_names_are_the_code_defaults():
    """The Bicep creates the containers and queues the code expects, poison queue included."""
    main = _bicep("main.bicep")

    quoted = set(re.findall(r"'([a-z0-9-]+)'", main))

    assert set(DEFAULT_NAMES.values()) <= quoted
    assert f"'${{names.workQueue}}{POISON_SUFFIX}'" in main


def test_the_post_deploy_hook_subscribes_the_blob_trigger_that_exists():
    """The function named in the Event Grid webhook is the blob trigger's function name."""
    output = re.search(r"output CSV_DROP_FUNCTION_NAME string = '(\w+)'", _bicep("main.bicep"))
    trigger = (ROOT / "provisioning" / "entrypoints" / "functions" / "csv_drop.py").read_text(
        encoding="utf-8"
    )

    assert output is not None
    assert f'@bp.function_name("{output.group(1)}")' in trigger
    assert "source=func.BlobSource.EVENT_GRID" in trigger


def test_every_azd_parameter_is_a_parameter_of_main_bicep():
    """main.parameters.json names only parameters main.bicep declares (a typo would be ignored silently)."""
    given = json.loads(_bicep("main.parameters.json"))["parameters"]
    declared = set(re.findall(r"^param (\w+) ", _bicep("main.bicep"), re.MULTILINE))

    assert sorted(set(given) - declared) == []
