"""Server-driven paging: page sizes (``$top``, ``Prefer: odata.maxpagesize``), opaque tokens, links."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from tests.sandbox.errors import GraphFailure

MAX_TOP = 999


def param(query: Mapping[str, str], name: str) -> str | None:
    """A query option by case-insensitive name (``$deltaToken`` = ``$deltatoken``)."""
    wanted = name.lower()
    return next((value for key, value in query.items() if key.lower() == wanted), None)


def preferences(headers: Mapping[str, str]) -> dict[str, str]:
    """The ``Prefer`` header as ``{name: value}`` (``return=minimal, odata.maxpagesize=5``)."""
    out: dict[str, str] = {}
    for part in (headers.get("prefer") or "").split(","):
        name, _, value = part.strip().partition("=")
        if name:
            out[name.lower()] = value.strip().strip('"')
    return out


def page_size(query: Mapping[str, str], headers: Mapping[str, str], default: int) -> int:
    """``$top`` (1..999, else 400), else ``Prefer: odata.maxpagesize``, else the configured default."""
    raw = param(query, "$top")
    if raw is None:
        raw = preferences(headers).get("odata.maxpagesize")
        if raw is None or not raw.isdigit() or int(raw) < 1:
            return default
        return min(int(raw), MAX_TOP)
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_TOP:
        raise GraphFailure(
            400,
            "Request_BadRequest",
            f"Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive.",
        )
    return int(raw)


def encode(state: dict[str, Any]) -> str:
    """An opaque, URL-safe token for a paging or delta state."""
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode(token: str) -> dict[str, Any] | None:
    """The state of a token from ``encode``; None when it is not one."""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        return None
    return data if isinstance(data, dict) else None


def link(root: str, path: str, query: Mapping[str, str]) -> str:
    """An absolute Graph URL: ``{root}/{path}?{query}`` (OData characters left readable)."""
    encoded = urlencode(dict(query), quote_via=quote, safe="$,()'@")
    return f"{root}/{path}?{encoded}" if encoded else f"{root}/{path}"
