"""CSV text that spreadsheets open safely: formula neutralisation, minimal quoting, CRLF (pure).

Excel, LibreOffice and Sheets run a cell that starts with ``= + - @``, a tab or a CR (or their
full-width forms) as a formula. ``report.csv`` is for people, so every such cell gets one leading
``'`` (``neutralise_cell``): spreadsheets take it as a "text" marker, plain-text viewers show it. It
covers the ``+`` of every phone number too, which also keeps Excel from turning ``+31 612345678``
into an error. ``undo.csv`` is input for our own reader, so ``provisioning.core.undo`` writes Graph-form
phone numbers unchanged (``+CC NUMBER[xEXT]`` is digits only: a spreadsheet may mangle it, but cannot
run anything) and prefixes ``'`` to any other risky cell, which our reader then rejects rather than runs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Mapping, Sequence

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def neutralise_cell(value: str) -> str:
    """*value* with a leading ``'`` when a spreadsheet would run it as a formula; else unchanged."""
    return f"'{value}" if value.startswith(FORMULA_TRIGGERS) else value


def write_csv(
    columns: Sequence[str], rows: Iterable[Mapping[str, str]], *, cell: Callable[[str], str]
) -> str:
    """A header and *rows* as CSV text (minimal quoting, CRLF line ends); *cell* maps every value."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows({name: cell(value) for name, value in row.items()} for row in rows)
    return buffer.getvalue()
