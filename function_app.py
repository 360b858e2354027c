"""Azure Functions entry point (v2 programming model): registers the blueprints, nothing else.

The triggers (CSV drop, queue worker, ServiceNow endpoint, nightly sync) arrive with the serverless
pipeline; the core they call lives in ``provisioning/``.
"""

from __future__ import annotations

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)
