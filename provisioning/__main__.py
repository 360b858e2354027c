"""``python -m provisioning``: the admin CLI."""

from __future__ import annotations

from provisioning.cli import main

raise SystemExit(main())
