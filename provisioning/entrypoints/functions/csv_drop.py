"""CSV drop: a CSV uploaded to the input container is validated and fanned out to the work queue."""

from __future__ import annotations

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from provisioning.entrypoints.wiring import services
from provisioning.use_cases import pipeline

bp = func.Blueprint()  # type: ignore[no-untyped-call]


# Flex Consumption supports only the Event Grid-based blob trigger; the SDK-type binding hands us a
# BlobClient so the CSV is streamed, never loaded whole (functions.md sections 1 and 2).
@bp.function_name("csv_drop")
@bp.blob_trigger(
    arg_name="client",
    path="%PROVISIONING_INPUT_CONTAINER%/{name}",
    connection="PROVISIONING_STORAGE",
    source=func.BlobSource.EVENT_GRID,
)
def csv_drop(client: blob.BlobClient) -> None:
    pipeline.fan_out_blob(client, services())
