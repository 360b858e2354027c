"""Settings: read from a mapping once, every problem reported in one ConfigurationError."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from provisioning.errors import ConfigurationError
from provisioning.settings import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_MAX_ROWS,
    Cloud,
    InputLimits,
    Settings,
)

TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT = "66666666-7777-8888-9999-000000000000"


@pytest.fixture(name="cert_file")
def _cert_file(tmp_path: Path) -> Path:
    path = tmp_path / "app.pem"
    path.write_text("not parsed by settings")
    return path


@pytest.fixture(name="env")
def _env(cert_file: Path) -> dict[str, str]:
    return {
        "PROVISIONING_TENANT_ID": TENANT,
        "PROVISIONING_CLIENT_ID": CLIENT,
        "PROVISIONING_CERTIFICATE_PATH": str(cert_file),
    }


def _problems(env: dict[str, str]) -> str:
    with pytest.raises(ConfigurationError) as info:
        Settings.from_env(env)
    return str(info.value)


def test_minimal_settings_take_global_cloud_defaults(env: dict[str, str], cert_file: Path) -> None:
    """Tenant, client id and certificate suffice; the rest defaults to the global cloud and documented limits."""

    settings = Settings.from_env(env)

    assert settings.cloud is Cloud.GLOBAL
    assert settings.authority == f"https://login.microsoftonline.com/{TENANT}"
    assert settings.scope == "https://graph.microsoft.com/.default"
    assert settings.certificate_path == cert_file
    assert settings.limits == InputLimits(None, DEFAULT_MAX_FILE_BYTES, DEFAULT_MAX_ROWS)
    assert (settings.http_timeout, settings.max_attempts, settings.concurrency) == (30.0, 6, 16)


@pytest.mark.parametrize(
    ("cloud", "authority_root", "graph_root"),
    [
        pytest.param(
            "global", "https://login.microsoftonline.com", "https://graph.microsoft.com", id="global"
        ),
        pytest.param("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us", id="usgov"),
        pytest.param(
            "USGOVDOD", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us", id="dod"
        ),
        pytest.param(
            "china",
            "https://login.partner.microsoftonline.cn",
            "https://microsoftgraph.chinacloudapi.cn",
            id="china",
        ),
    ],
)
def test_each_cloud_has_its_authority_and_graph_root(
    env: dict[str, str], cloud: str, authority_root: str, graph_root: str
) -> None:
    """A named cloud sets both roots, case-insensitively."""
    env["PROVISIONING_CLOUD"] = cloud

    settings = Settings.from_env(env)

    assert (settings.authority_root, settings.graph_root) == (authority_root, graph_root)


def test_custom_urls_without_a_cloud_point_at_a_test_server(env: dict[str, str]) -> None:
    """Both URLs of a test server are taken as roots, trailing slash dropped."""
    env["PROVISIONING_AUTHORITY_URL"] = "https://127.0.0.1:8443/"
    env["PROVISIONING_GRAPH_URL"] = "https://127.0.0.1:8443"

    settings = Settings.from_env(env)

    assert settings.authority == f"https://127.0.0.1:8443/{TENANT}"
    assert settings.scope == "https://127.0.0.1:8443/.default"


def test_a_national_graph_url_alone_brings_its_cloud_authority(env: dict[str, str]) -> None:
    """Without a cloud name, a Microsoft Graph host implies its cloud's authority."""
    env["PROVISIONING_GRAPH_URL"] = "https://dod-graph.microsoft.us"

    settings = Settings.from_env(env)

    assert (settings.cloud, settings.authority_root) == (Cloud.USGOVDOD, "https://login.microsoftonline.us")


def test_every_problem_is_listed_in_one_error(tmp_path: Path) -> None:
    """One message names each variable at fault and what to set."""
    env = {
        "PROVISIONING_CLIENT_ID": "not-a-guid",
        "PROVISIONING_CERTIFICATE_PATH": str(tmp_path / "missing.pfx"),
        "PROVISIONING_CLIENT_SECRET": "s3cret",
        "PROVISIONING_CLOUD": "mars",
        "PROVISIONING_GRAPH_URL": "http://graph.example",
        "PROVISIONING_MAX_ROWS": "lots",
        "PROVISIONING_DEFAULT_REGION": "USA",
    }

    message = _problems(env)

    assert "8 configuration problem(s)" in message
    for name in (
        "PROVISIONING_TENANT_ID is not set",
        "PROVISIONING_CLIENT_ID must be the application (client) id GUID",
        "PROVISIONING_CLIENT_SECRET is set together with PROVISIONING_CERTIFICATE_PATH",
        "PROVISIONING_CERTIFICATE_PATH names no file",
        "PROVISIONING_CLOUD is 'mars'",
        "PROVISIONING_GRAPH_URL must be an https URL",
        "PROVISIONING_MAX_ROWS must be a whole number",
        "PROVISIONING_DEFAULT_REGION must be a two-letter",
    ):
        assert name in message
    assert "s3cret" not in message


def test_neither_certificate_nor_secret_is_a_problem(env: dict[str, str]) -> None:
    """A credential is required."""
    del env["PROVISIONING_CERTIFICATE_PATH"]

    message = _problems(env)

    assert "PROVISIONING_CERTIFICATE_PATH is not set" in message


def test_a_password_without_a_certificate_is_a_problem(env: dict[str, str]) -> None:
    """The certificate password only makes sense with a certificate."""
    del env["PROVISIONING_CERTIFICATE_PATH"]
    env["PROVISIONING_CLIENT_SECRET"] = "s3cret"
    env["PROVISIONING_CERTIFICATE_PASSWORD"] = "pw"

    message = _problems(env)

    assert "PROVISIONING_CERTIFICATE_PASSWORD is set without PROVISIONING_CERTIFICATE_PATH" in message


def test_an_unreadable_certificate_is_a_problem(env: dict[str, str], cert_file: Path) -> None:
    """A directory is not a certificate file."""
    env["PROVISIONING_CERTIFICATE_PATH"] = str(cert_file.parent)

    message = _problems(env)

    assert "PROVISIONING_CERTIFICATE_PATH names no file" in message


def test_a_client_secret_is_accepted_with_a_warning(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """A secret works but the log recommends a certificate, without echoing the secret."""
    del env["PROVISIONING_CERTIFICATE_PATH"]
    env["PROVISIONING_CLIENT_SECRET"] = "s3cret"

    with caplog.at_level(logging.WARNING):
        settings = Settings.from_env(env)

    assert settings.client_secret == "s3cret"
    assert "s3cret" not in repr(settings)
    assert "certificate" in caplog.text
    assert "s3cret" not in caplog.text


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("PROVISIONING_GRAPH_URL", "https://graph.microsoft.us", id="graph-of-usgov"),
        pytest.param("PROVISIONING_AUTHORITY_URL", "https://127.0.0.1:8443", id="custom-authority"),
    ],
)
def test_a_cloud_with_a_contradicting_url_is_a_problem(
    env: dict[str, str], variable: str, value: str
) -> None:
    """Naming a cloud and a URL of somewhere else is refused."""
    env["PROVISIONING_CLOUD"] = "global"
    env[variable] = value

    message = _problems(env)

    assert f"{variable} ({value}) contradicts PROVISIONING_CLOUD=global" in message


def test_urls_of_two_clouds_are_a_problem(env: dict[str, str]) -> None:
    """A China authority with the global Graph cannot work."""
    env["PROVISIONING_AUTHORITY_URL"] = "https://login.partner.microsoftonline.cn"
    env["PROVISIONING_GRAPH_URL"] = "https://graph.microsoft.com"

    message = _problems(env)

    assert "belong to different clouds" in message


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        pytest.param(
            "PROVISIONING_GRAPH_URL", "https://graph.microsoft.com/v1.0", "without /v1.0", id="graph-v1"
        ),
        pytest.param(
            "PROVISIONING_AUTHORITY_URL",
            f"https://login.microsoftonline.com/{TENANT}",
            "without the tenant",
            id="authority-with-tenant",
        ),
        pytest.param(
            "PROVISIONING_GRAPH_URL", "https://graph.microsoft.com?x=1", "without query", id="query"
        ),
    ],
)
def test_urls_must_be_roots(env: dict[str, str], variable: str, value: str, expected: str) -> None:
    """Version segments, tenants and queries do not belong in the roots."""
    env[variable] = value

    message = _problems(env)

    assert expected in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("PROVISIONING_MAX_ATTEMPTS", "0", id="attempts-zero"),
        pytest.param("PROVISIONING_CONCURRENCY", "four", id="concurrency-word"),
        pytest.param("PROVISIONING_HTTP_TIMEOUT", "nan", id="timeout-nan"),
        pytest.param("PROVISIONING_MAX_FILE_BYTES", "-1", id="negative-size"),
        pytest.param("PROVISIONING_TENANT_ID", "not a tenant", id="tenant"),
    ],
)
def test_bad_values_are_problems(env: dict[str, str], variable: str, value: str) -> None:
    """Out-of-range or unparsable values name their variable."""
    env[variable] = value

    message = _problems(env)

    assert variable in message


def test_numbers_and_region_are_read(env: dict[str, str]) -> None:
    """Integers accept underscores, the timeout fractions, the region any case."""
    env |= {
        "PROVISIONING_MAX_ROWS": "2_000",
        "PROVISIONING_MAX_FILE_BYTES": "1048576",
        "PROVISIONING_HTTP_TIMEOUT": "12.5",
        "PROVISIONING_MAX_ATTEMPTS": "3",
        "PROVISIONING_CONCURRENCY": "8",
        "PROVISIONING_DEFAULT_REGION": "nl",
        "PROVISIONING_TENANT_ID": "contoso.onmicrosoft.com",
    }

    settings = Settings.from_env(env)

    assert settings.limits == InputLimits("NL", 1048576, 2000)
    assert (settings.http_timeout, settings.max_attempts, settings.concurrency) == (12.5, 3, 8)
    assert settings.tenant_id == "contoso.onmicrosoft.com"


def test_offline_settings_need_no_credentials() -> None:
    """The offline reader returns only the input limits and ignores missing Graph settings."""

    limits = Settings.offline({"PROVISIONING_DEFAULT_REGION": "gb", "PROVISIONING_MAX_ROWS": "10"})

    assert limits == InputLimits("GB", DEFAULT_MAX_FILE_BYTES, 10)


def test_offline_settings_still_reject_bad_limits() -> None:
    """A bad limit fails even offline."""

    with pytest.raises(ConfigurationError, match="PROVISIONING_MAX_FILE_BYTES"):
        Settings.offline({"PROVISIONING_MAX_FILE_BYTES": "big"})


def test_the_pacers_windows_default_to_graphs_and_can_follow_a_scaled_test_graph(env: dict[str, str]) -> None:
    """150 s for writes and 10 s for requests unless set (the benchmark's scaled sandbox sets them)."""
    from provisioning.graph.stack import ARRIVAL_MARGIN, build_pacer

    default = Settings.from_env(env)
    scaled = Settings.from_env({**env, "PROVISIONING_WRITE_WINDOW": "30", "PROVISIONING_REQUEST_WINDOW": "2"})

    assert (default.write_window_s, default.request_window_s) == (150.0, 10.0)
    assert (scaled.write_window_s, scaled.request_window_s) == (30.0, 2.0)
    writes = build_pacer(scaled)._writes
    assert writes is not None
    assert writes.fill == pytest.approx(20 * (1 - ARRIVAL_MARGIN) - 20 / 30)
    assert "PROVISIONING_WRITE_WINDOW" in _problems({**env, "PROVISIONING_WRITE_WINDOW": "0"})
