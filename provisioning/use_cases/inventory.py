"""The readiness inventory: every listed user's methods, read in chunks of 20 over ``$batch``, as
``inventory.csv`` lines with a readiness class (``core.readiness``).

The same reads as a job's (``ChunkExecutor.read_methods``: one ``/authentication/methods`` GET per
user, 20 to an envelope, paced by the process's pacer), streamed like ``provision_chunks``: only the
chunks in flight are held, whatever the number of users. Nothing is written to the tenant.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from provisioning.core.models import CurrentMethods, DesiredRow
from provisioning.core.readiness import InventoryLine
from provisioning.use_cases.executor import ChunkExecutor
from provisioning.use_cases.provision_rows import stream_chunks


def inventory_chunks(
    rows: Iterable[DesiredRow], executor: ChunkExecutor, *, concurrency: int = 1
) -> Iterator[list[InventoryLine]]:
    """Each chunk's inventory lines, one per row, in input order (an invalid row or a failed read
    gets its line too, with the reason and no class)."""

    def run(chunk: list[DesiredRow]) -> list[InventoryLine]:
        found = executor.read_methods(chunk)
        lines = []
        for row in chunk:
            read = found[row.line]
            if isinstance(read, CurrentMethods):
                lines.append(InventoryLine.of(row, read))
            else:
                lines.append(InventoryLine(row, error=read.error or read.kind.value))
        return lines

    return stream_chunks(rows, run, concurrency=concurrency)
