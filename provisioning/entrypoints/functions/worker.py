"""Queue workers: apply a chunk of rows; record a poisoned chunk's rows as failed."""

from __future__ import annotations

import azure.functions as func

from provisioning.entrypoints.wiring import services
from provisioning.use_cases import pipeline

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.function_name("chunk_worker")
@bp.queue_trigger(arg_name="msg", queue_name="%PROVISIONING_WORK_QUEUE%", connection="PROVISIONING_STORAGE")
def chunk_worker(msg: func.QueueMessage) -> None:
    pipeline.process_chunk_message(msg.get_body().decode("utf-8"), services())


@bp.function_name("poison_handler")
@bp.queue_trigger(
    arg_name="msg", queue_name="%PROVISIONING_WORK_QUEUE%-poison", connection="PROVISIONING_STORAGE"
)
def poison_handler(msg: func.QueueMessage) -> None:
    pipeline.record_poisoned_chunk(msg.get_body().decode("utf-8"), services())
