"""checkov passes on infra/, offline; and the secure inputs to the Verified Modules, which it cannot see.

checkov reads Bicep itself (no Bicep CLI) but does not fetch registry modules, so it checks the resources
declared in our files (the role assignments) and not those inside the pinned AVM modules. The second
group of tests pins the security-relevant inputs we pass to those modules.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.settings_inventory import ROOT

INFRA = ROOT / "infra"


def _checkov() -> str:
    """`make test` sets CHECKOV (then a missing tool fails); elsewhere the venv or PATH, else skip."""
    wanted = os.environ.get("CHECKOV")
    for candidate in (wanted, str(ROOT / ".venv-checkov" / "bin" / "checkov"), shutil.which("checkov")):
        if candidate and Path(candidate).is_file():
            return candidate
    if wanted:
        pytest.fail(f"CHECKOV={wanted} does not exist: run `make checkov`")
    pytest.skip("checkov is not installed: run `make checkov`")


def test_checkov_passes_on_infra_offline():
    """Every Bicep file parses and no check fails; skipped checks carry their reason inline."""
    result = subprocess.run(
        [
            _checkov(),
            "--directory",
            str(INFRA),
            "--framework",
            "bicep",
            "--skip-download",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
    )
    report = json.loads(result.stdout)
    summary = report.get("summary", report)  # checkov prints a bare summary when nothing matched

    assert summary["parsing_errors"] == 0, result.stderr[-2000:]
    assert summary["failed"] == 0, json.dumps(report.get("results", {}).get("failed_checks", []), indent=1)
    assert result.returncode == 0


def _all_bicep() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(INFRA.rglob("*.bicep")))


def test_every_checkov_skip_states_its_reason():
    """A `#checkov:skip=CKV_...` must say why, on the same line."""
    skips = re.findall(r"checkov:skip=([^\n]*)", _all_bicep())

    assert [s for s in skips if not re.fullmatch(r"CKV\d?_[A-Z0-9_]+:\s*\S.{9,}", s)] == []


def test_every_registry_module_is_pinned_to_a_version():
    """AVM modules are referenced by exact version, never a moving tag."""
    references = re.findall(r"'br/public:([^']+)'", _all_bicep())

    assert references
    assert [r for r in references if not re.fullmatch(r"avm/res/[a-z-]+/[a-z-]+:\d+\.\d+\.\d+", r)] == []


@pytest.mark.parametrize(
    ("file", "setting"),
    [
        pytest.param("app/storage.bicep", "allowSharedKeyAccess: false", id="storage-no-shared-key"),
        pytest.param("app/storage.bicep", "allowBlobPublicAccess: false", id="storage-no-public-blobs"),
        pytest.param("app/storage.bicep", "minimumTlsVersion: 'TLS1_2'", id="storage-tls12"),
        pytest.param("app/monitoring.bicep", "disableLocalAuth: true", id="appinsights-entra-only"),
        pytest.param("app/keyvault.bicep", "enableRbacAuthorization: true", id="keyvault-rbac"),
        pytest.param(
            "app/keyvault.bicep", "enableVaultForTemplateDeployment: false", id="keyvault-no-arm-reads"
        ),
        pytest.param("app/function.bicep", "httpsOnly: true", id="function-https-only"),
        pytest.param("app/function.bicep", "minTlsVersion: '1.2'", id="function-tls12"),
        pytest.param("app/function.bicep", "ftpsState: 'Disabled'", id="function-no-ftp"),
        pytest.param("app/function.bicep", "version: '3.11'", id="function-python-311"),
        pytest.param("main.bicep", "tier: 'FlexConsumption'", id="plan-flex-consumption"),
    ],
)
def test_the_secure_inputs_to_the_verified_modules_stay(file: str, setting: str):
    """What checkov cannot see inside the AVM modules is pinned here, one input per line."""
    text = (INFRA / file).read_text(encoding="utf-8")

    assert setting in text
