"""The token issuer's signing keys: OpenID metadata -> ``jwks_uri`` -> RSA keys by ``kid``, cached.

Entra ID rolls its signing keys: a cached key set is used for a day, and an unknown ``kid`` triggers
one refresh (at most once per ``min_refresh_s``, so a stream of made-up ``kid`` values cannot make
this process hammer the issuer). When a refresh fails the keys already known keep working.
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
from collections.abc import Callable, Mapping

import httpx
import jwt

from provisioning.errors import KeysUnavailable

log = logging.getLogger(__name__)

MAX_AGE_S = 24 * 3600.0
MIN_REFRESH_S = 60.0
FETCH_TIMEOUT_S = 10.0
RETRY_EMPTY_S = 5.0  # after a failed first fetch; each try may take FETCH_TIMEOUT_S


class SigningKeys:
    """RS256 verification keys of one issuer, fetched over *http* from its OpenID metadata document."""

    def __init__(
        self,
        metadata_url: str,
        http: Callable[[], httpx.Client],
        *,
        clock: Callable[[], float] = time.monotonic,
        max_age_s: float = MAX_AGE_S,
        min_refresh_s: float = MIN_REFRESH_S,
    ) -> None:
        self.metadata_url = metadata_url
        self._http = http
        self._clock = clock
        self._max_age_s = max_age_s
        self._min_refresh_s = min_refresh_s
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched: float | None = None  # when the last fetch was tried, successful or not
        self._lock = threading.Lock()

    def get(self, kid: str) -> jwt.PyJWK | None:
        """The key with this ``kid``, or None when the issuer does not publish it.

        Raises ``KeysUnavailable`` when nothing is cached and the issuer cannot be reached.
        """
        with self._lock:
            now = self._clock()
            if self._due(kid, now):
                self._refresh(now)
            if not self._keys:
                msg = f"the token issuer's signing keys could not be fetched from {self.metadata_url}"
                raise KeysUnavailable(msg)
            return self._keys.get(kid)

    def _due(self, kid: str, now: float) -> bool:
        if self._fetched is None:
            return True
        age = now - self._fetched
        if not self._keys:  # the last fetch failed: try again soon, not on every request
            return age >= RETRY_EMPTY_S
        if kid not in self._keys and age >= self._min_refresh_s:
            log.info("signing key %r is not known yet: refreshing the issuer's keys", kid[:64])
            return True
        return age >= self._max_age_s

    def _refresh(self, now: float) -> None:
        self._fetched = now
        try:
            keys = _parse_keys(self._fetch_json(self._jwks_uri()))
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("fetching the token issuer's signing keys failed: %s", exc)
            return
        if keys:
            self._keys = keys
        else:
            log.warning("the token issuer published no usable RS256 signing key")

    def _jwks_uri(self) -> str:
        metadata = self._fetch_json(self.metadata_url)
        uri = metadata.get("jwks_uri")
        if not isinstance(uri, str) or not uri.startswith("https://"):
            msg = f"the OpenID metadata at {self.metadata_url} names no https jwks_uri"
            raise ValueError(msg)
        return uri

    def _fetch_json(self, url: str) -> Mapping[str, object]:
        response = self._http().get(url)
        response.raise_for_status()
        document = response.json()
        if not isinstance(document, dict):
            msg = f"{url} did not answer a JSON object"
            raise ValueError(msg)  # noqa: TRY004 - a bad answer, reported as a failed fetch
        return document


def _parse_keys(jwks: Mapping[str, object]) -> dict[str, jwt.PyJWK]:
    """The RSA signature keys with a ``kid``; others (encryption keys, other types) are skipped."""
    raw_keys = jwks.get("keys")
    if not isinstance(raw_keys, list):
        msg = "the JWKS document has no keys list"
        raise ValueError(msg)  # noqa: TRY004 - a malformed document, reported as a failed fetch
    keys: dict[str, jwt.PyJWK] = {}
    for raw in raw_keys:
        if not isinstance(raw, dict) or raw.get("kty") != "RSA" or raw.get("use", "sig") != "sig":
            continue
        kid = raw.get("kid")
        if not isinstance(kid, str) or not kid:
            continue
        try:
            keys[kid] = jwt.PyJWK(raw, algorithm="RS256")
        except jwt.PyJWTError as exc:
            log.warning("skipping signing key %r: %s", kid, exc)
    return keys


def https_client(ca_file: str | None, timeout_s: float = FETCH_TIMEOUT_S) -> httpx.Client:
    """A client for the issuer's endpoints: short timeout, the extra CA bundle when one is set."""
    verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=ca_file) if ca_file else True
    return httpx.Client(timeout=timeout_s, verify=verify, follow_redirects=False)
