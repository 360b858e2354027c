"""Nightly sync: profile mobilePhone -> mobile method, on the schedule in PROVISIONING_SYNC_SCHEDULE (UTC)."""

from __future__ import annotations

import azure.functions as func

from provisioning.entrypoints.wiring import services
from provisioning.use_cases import pipeline

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.function_name("nightly_sync")
@bp.timer_trigger(arg_name="timer", schedule="%PROVISIONING_SYNC_SCHEDULE%", run_on_startup=False)
def nightly_sync(timer: func.TimerRequest) -> None:
    pipeline.run_nightly_sync(services(), past_due=timer.past_due)
