"""A finished job's ``report.csv`` and ``undo.csv``, streamed from its chunks' outcomes, and its counts (pure).

The chunks come in chunk order, so the report keeps the input's line order; nothing is held but the
chunk being written, so a job of a million rows never sits in memory whole.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from provisioning.core.models import MethodKind, Outcome
from provisioning.core.ports import TextSink
from provisioning.core.reports import render_report_csv
from provisioning.core.summary import Summary, summarise
from provisioning.core.undo import render_undo_csv


def write_job_reports(
    chunks: Iterable[Sequence[Outcome]],
    report: TextSink,
    undo: TextSink | None,
    *,
    managed: frozenset[MethodKind],
) -> Summary:
    """Write the report (and, unless *undo* is None, the undo file) chunk by chunk; the run's counts."""
    report.write(render_report_csv(()))
    if undo is not None:
        undo.write(render_undo_csv((), managed=managed))
    summary = summarise(())
    for outcomes in chunks:
        report.write(render_report_csv(outcomes, header=False))
        if undo is not None:
            undo.write(render_undo_csv(outcomes, managed=managed, header=False))
        summary += summarise(outcomes)
    return summary
