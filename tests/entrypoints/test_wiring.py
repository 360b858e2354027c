"""The process wiring reads each setting once, and holds the endpoint's concurrency to its bounds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

import pytest

from provisioning.entrypoints.wiring import Services
from provisioning.errors import ConfigurationError

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"


class CountingEnv(Mapping[str, str]):
    """An environment that counts how often each setting is looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        self._values = values
        self.reads: Counter[str] = Counter()

    def __getitem__(self, key: str) -> str:
        self.reads[key] += 1
        return self._values[key]

    def get(self, key: str, default: Any = None) -> Any:
        self.reads[key] += 1
        return self._values.get(key, default)

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


def _services(tmp_path: Path, **extra: str) -> tuple[Services, CountingEnv]:
    cert = tmp_path / "app.pem"
    cert.write_text("not parsed by settings")
    env = CountingEnv(
        {
            "PROVISIONING_TENANT_ID": TENANT,
            "PROVISIONING_CLIENT_ID": CLIENT,
            "PROVISIONING_CERTIFICATE_PATH": str(cert),
            "PROVISIONING_DEFAULT_REGION": "NL",
            **extra,
        }
    )
    storage_blobs_jobs: Any = (
        None  # no storage (nor the finisher over it) is touched by what these tests call
    )
    return Services(cast(Mapping[str, str], env), *(storage_blobs_jobs,) * 4), env


def test_settings_and_limits_are_parsed_once_per_process(tmp_path: Path) -> None:
    services, env = _services(tmp_path)

    first, limits = services.settings(), services.limits()
    for _ in range(5):  # one per chunk or blob, as the worker and the fan-out ask
        assert services.settings() is first
        assert services.limits() is limits

    assert env.reads["PROVISIONING_TENANT_ID"] == 1
    assert env.reads["PROVISIONING_DEFAULT_REGION"] == 2  # once by settings(), once by limits()


def test_the_endpoint_dependencies_are_built_once(tmp_path: Path) -> None:
    services, env = _services(tmp_path, PROVISIONING_CONCURRENCY="8")

    deps = services.api_deps()

    assert services.api_deps() is deps
    assert deps.concurrency == 8
    assert deps.default_region == "NL"
    assert env.reads["PROVISIONING_CONCURRENCY"] == 1


@pytest.mark.parametrize("value", ["0", "65", "many"])
def test_the_endpoint_concurrency_is_held_to_1_to_64(tmp_path: Path, value: str) -> None:
    services, _ = _services(tmp_path, PROVISIONING_CONCURRENCY=value)

    with pytest.raises(ConfigurationError, match="PROVISIONING_CONCURRENCY"):
        services.api_deps()
