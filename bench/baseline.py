"""The old PowerShell script (``Pre-ConfigureAuthMethods.ps1``), ported faithfully as the baseline client.

Its algorithm (shared/reference/mission.md), one user at a time, no retries, no validation, no
normalisation (cells are sent as written):

1. one ``GET users/{upn}/authentication/phoneMethods``;
2. mobile, then alternate mobile (only when the row has a mobile value), then office:
   - value given, method absent: ``POST`` it;
   - value given, method present, ``ForcedUpdate`` is ``True``: ``DELETE`` then ``POST`` (even when the
     number is unchanged); otherwise leave it;
   - value empty, ``ForcedRemoval`` is ``True``, method present: ``DELETE`` it;
3. every failure is one printed line (here: counted), and the script goes on with the next step.

``True`` (any case, as PowerShell's ``-eq`` compares) is the only truth value. The token comes from the
project's own MSAL wiring (certificate credential), and every Graph call is one raw HTTPS request.
"""

from __future__ import annotations

import csv
import os
import ssl
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from provisioning.graph.auth import build_token_provider
from provisioning.settings import Settings

# The script's order; the CSV column holding each type's value.
TYPES = (("mobile", "Mobile"), ("alternateMobile", "AlternateMobile"), ("office", "OfficePhone"))


@dataclass
class BaselineResult:
    rows: int = 0
    seconds: float = 0.0
    requests: Counter[str] = field(default_factory=Counter)
    failures: int = 0  # the script's yellow lines
    status: Counter[int] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
            "rows_per_s": round(self.rows / self.seconds, 3) if self.seconds else None,
            "graph_requests": sum(self.requests.values()),
            "graph_requests_by_method": dict(self.requests),
            "graph_requests_per_row": round(sum(self.requests.values()) / self.rows, 3)
            if self.rows
            else None,
            "failures_printed": self.failures,
            "http_status": {str(k): v for k, v in sorted(self.status.items())},
        }


class OldScript:
    """One user at a time over one HTTPS connection, as the PowerShell module would."""

    def __init__(self, env: Mapping[str, str]) -> None:
        settings = Settings.from_env(env)
        self._tokens = build_token_provider(settings)
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=settings.ca_file) if settings.ca_file else True
        )
        self._graph = settings.graph_root.rstrip("/") + "/v1.0"
        self._http = httpx.Client(verify=verify, timeout=100)
        self.result = BaselineResult()

    def close(self) -> None:
        self._http.close()
        self._tokens.close()

    def _call(self, method: str, path: str, body: dict[str, str] | None = None) -> httpx.Response | None:
        headers = {"Authorization": f"Bearer {self._tokens.token()}"}
        self.result.requests[method] += 1
        response = self._http.request(method, self._graph + path, json=body, headers=headers)
        self.result.status[response.status_code] += 1
        if response.is_success:
            return response
        # Write-Host "... check the default method ..." -ForegroundColor Yellow, whatever the cause.
        self.result.failures += 1
        return None

    def user(self, row: Mapping[str, str]) -> None:
        upn = row["UPN"].strip()
        base = f"/users/{quote(upn)}/authentication/phoneMethods"
        listing = self._call("GET", base)
        methods = listing.json().get("value", []) if listing is not None else []
        present = {m.get("phoneType"): m.get("id") for m in methods}
        forced_update = row.get("ForcedUpdate", "").strip().lower() == "true"
        forced_removal = row.get("ForcedRemoval", "").strip().lower() == "true"
        for phone_type, column in TYPES:
            if phone_type == "alternateMobile" and not row.get("Mobile", "").strip():
                continue  # the script looks at the alternate only inside its mobile branch
            value = row.get(column, "").strip()
            method_id = present.get(phone_type)
            if value:
                if method_id is None:
                    self._call("POST", base, {"phoneNumber": value, "phoneType": phone_type})
                elif forced_update:
                    self._call("DELETE", f"{base}/{method_id}")
                    self._call("POST", base, {"phoneNumber": value, "phoneType": phone_type})
            elif forced_removal and method_id is not None:
                self._call("DELETE", f"{base}/{method_id}")

    def run(self, csv_path: Path, limit: int | None = None, deadline_s: float = 3600) -> BaselineResult:
        start = time.perf_counter()
        with csv_path.open(encoding="utf-8-sig", newline="") as file:
            for n, row in enumerate(csv.DictReader(file)):
                if limit is not None and n >= limit:
                    break
                if time.perf_counter() - start > deadline_s:
                    break
                self.user(row)
                self.result.rows += 1
        self.result.seconds = time.perf_counter() - start
        return self.result


def run(env: Mapping[str, str], csv_path: Path, limit: int | None = None) -> BaselineResult:
    """Run the old script's algorithm over the first *limit* rows; the token is fetched before timing.

    The sandbox's settings go into this process's environment for the run, as the CLI loads an env file
    (MSAL's requests session takes its CA bundle from ``REQUESTS_CA_BUNDLE``).
    """
    saved = dict(os.environ)
    os.environ.update(env)
    script = OldScript(env)
    try:
        script._tokens.token()  # the script connects (Connect-MgGraph) before its loop
        return script.run(csv_path, limit)
    finally:
        script.close()
        os.environ.clear()
        os.environ.update(saved)
