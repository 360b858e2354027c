"""What a soak run does: its sizes, fault rates and time limits."""

from __future__ import annotations

from dataclasses import dataclass, field

from soak.storage_proxy import ProxyFaults


@dataclass(frozen=True)
class SoakConfig:
    """What the soak does; the defaults are the 5,000-user run's."""

    users: int = 5000
    kills: int = 24
    seed: int = 1
    workers: int = 3
    duplicates: int = 12  # chunk messages sent a second time (half while the chunk is in flight)
    graph_fault_rate: float = 0.12  # per Graph operation (inner $batch request)
    batch_fault_rate: float = 0.04  # per $batch envelope
    storage: ProxyFaults = field(
        default_factory=lambda: ProxyFaults(
            refused=0.005, reset=0.005, lost=0.005, delay=0.02, delay_s=(0.05, 0.4)
        )
    )
    outages: int = 2
    outage_s: float = 3.0
    lock_s: int = 6  # a killed worker's chunk comes back after at most this long
    http_timeout_s: float = 4.0
    deadline_s: float = 1500.0
    time_scale: float = 10.0  # the sandbox's throttling windows shrunk by this much
    worker_log_level: str = "warning"
