"""Azure Functions entry point (v2 programming model): log redaction, then the blueprints; nothing else."""

from __future__ import annotations

import azure.functions as func

from provisioning.entrypoints.functions import api, csv_drop, nightly, worker
from provisioning.entrypoints.logging_setup import configure_host_logging

configure_host_logging()  # before any trigger runs: every log record of the worker is redacted
app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (csv_drop.bp, worker.bp, api.bp, nightly.bp):
    app.register_functions(blueprint)
