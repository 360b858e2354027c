"""Azure Functions entry point (v2 programming model): registers the blueprints, nothing else."""

from __future__ import annotations

import azure.functions as func

from provisioning.functions import api, csv_drop, nightly, worker

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
for blueprint in (csv_drop.bp, worker.bp, api.bp, nightly.bp):
    app.register_functions(blueprint)
