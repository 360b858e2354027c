"""A stateful HTTPS stand-in for Microsoft Graph and the Entra ID token endpoint on loopback.

``Sandbox.start(seed=..., config=SandboxConfig(...), state_dir=...)`` runs it in-process;
``python -m tests.sandbox`` runs it as a process. See tests/sandbox/README.md.
"""

from __future__ import annotations

from tests.sandbox.config import SandboxConfig
from tests.sandbox.faults import FaultConfig
from tests.sandbox.sandbox import Sandbox

__all__ = ["FaultConfig", "Sandbox", "SandboxConfig"]
