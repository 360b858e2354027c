"""StorageSettings.from_env: the two connection forms, the fallback, the names (pure, no Azurite)."""

from __future__ import annotations

import pytest

from provisioning.errors import ConfigurationError
from provisioning.storage.account import StorageSettings, transport_options

CONNECTION = "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net"
CLIENT_ID = "11111111-2222-3333-4444-555555555555"
IDENTITY = {
    "PROVISIONING_STORAGE__blobServiceUri": "https://acct.blob.core.windows.net",
    "PROVISIONING_STORAGE__queueServiceUri": "https://acct.queue.core.windows.net/",
}


def problems(env: dict[str, str]) -> str:
    with pytest.raises(ConfigurationError) as info:
        StorageSettings.from_env(env)
    return str(info.value)


def test_a_connection_string_and_the_default_names():
    """A connection string in PROVISIONING_STORAGE is used as is, with the default names."""
    settings = StorageSettings.from_env({"PROVISIONING_STORAGE": CONNECTION})

    assert settings.connection.connection_string == CONNECTION
    assert settings.connection_name == "PROVISIONING_STORAGE"
    assert (settings.input_container, settings.report_container, settings.state_container) == (
        "provisioning-input",
        "provisioning-reports",
        "provisioning-state",
    )
    assert (settings.work_queue, settings.poison_queue) == ("provisioning-work", "provisioning-work-poison")


def test_the_connection_string_stays_out_of_repr():
    """The account key in a connection string never shows in the settings' repr."""
    settings = StorageSettings.from_env({"PROVISIONING_STORAGE": CONNECTION})

    assert "a2V5" not in repr(settings)


def test_development_storage_is_accepted():
    """``UseDevelopmentStorage=true`` is a connection string (Azurite on its default ports)."""
    settings = StorageSettings.from_env({"PROVISIONING_STORAGE": "UseDevelopmentStorage=true"})

    assert settings.connection.connection_string == "UseDevelopmentStorage=true"


def test_identity_based_connection_with_a_user_assigned_identity():
    """``__blobServiceUri``/``__queueServiceUri`` with ``__credential``/``__clientId`` pick that identity."""
    env = {
        **IDENTITY,
        "PROVISIONING_STORAGE__credential": "managedidentity",
        "PROVISIONING_STORAGE__clientId": CLIENT_ID,
    }

    connection = StorageSettings.from_env(env).connection

    assert connection.connection_string is None
    assert connection.blob_service_uri == "https://acct.blob.core.windows.net"
    assert connection.queue_service_uri == "https://acct.queue.core.windows.net"
    assert connection.managed_identity
    assert connection.client_id == CLIENT_ID


def test_identity_without_credential_uses_the_default_chain():
    """Without ``__credential`` the connection is identity-based through DefaultAzureCredential."""
    connection = StorageSettings.from_env(IDENTITY).connection

    assert not connection.managed_identity
    assert connection.client_id is None


def test_identity_setting_names_are_case_insensitive():
    """Functions reads ``__queueserviceuri`` as ``__queueServiceUri``; so do we."""
    env = {
        key.lower().replace("provisioning_storage", "PROVISIONING_STORAGE"): v for key, v in IDENTITY.items()
    }

    assert StorageSettings.from_env(env).connection.blob_service_uri == "https://acct.blob.core.windows.net"


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"AzureWebJobsStorage": CONNECTION}, id="connection-string"),
        pytest.param(
            {
                "AzureWebJobsStorage__blobServiceUri": "https://acct.blob.core.windows.net",
                "AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net",
                "AzureWebJobsStorage__credential": "managedidentity",
            },
            id="identity",
        ),
    ],
)
def test_falls_back_to_the_host_storage(env):
    """Without PROVISIONING_STORAGE, the Functions host's AzureWebJobsStorage is used (either form)."""
    settings = StorageSettings.from_env(env)

    assert settings.connection_name == "AzureWebJobsStorage"


def test_provisioning_storage_wins_over_the_host_storage():
    """PROVISIONING_STORAGE in either form is preferred to AzureWebJobsStorage."""
    settings = StorageSettings.from_env({**IDENTITY, "AzureWebJobsStorage": CONNECTION})

    assert settings.connection_name == "PROVISIONING_STORAGE"
    assert settings.connection.connection_string is None


def test_names_come_from_the_environment():
    """Each container and the queue can be renamed; the poison queue follows the work queue."""
    env = {
        "PROVISIONING_STORAGE": CONNECTION,
        "PROVISIONING_INPUT_CONTAINER": "inbox",
        "PROVISIONING_REPORT_CONTAINER": "outbox",
        "PROVISIONING_STATE_CONTAINER": "state-1",
        "PROVISIONING_WORK_QUEUE": "work-1",
    }

    settings = StorageSettings.from_env(env)

    assert (settings.input_container, settings.report_container) == ("inbox", "outbox")
    assert (settings.state_container, settings.work_queue, settings.poison_queue) == (
        "state-1",
        "work-1",
        "work-1-poison",
    )


def test_nothing_set_is_one_clear_error():
    """With no connection at all the error names both settings."""
    message = problems({})

    assert "PROVISIONING_STORAGE is not set" in message
    assert "AzureWebJobsStorage" in message


def test_every_problem_is_listed_at_once():
    """Bad names, a bad URI, a bad credential and a bad client id all appear in one message."""
    env = {
        "PROVISIONING_STORAGE__blobServiceUri": "http://acct.blob.core.windows.net",
        "PROVISIONING_STORAGE__credential": "clientsecret",
        "PROVISIONING_STORAGE__clientId": "not-a-guid",
        "PROVISIONING_INPUT_CONTAINER": "Bad_Name",
        "PROVISIONING_WORK_QUEUE": "q" * 60,
    }

    message = problems(env)

    for expected in (
        "__blobServiceUri='http://acct.blob.core.windows.net': must be an https:// URL",
        "__queueServiceUri is missing",
        "__credential='clientsecret'",
        "__clientId='not-a-guid': must be a GUID",
        "PROVISIONING_INPUT_CONTAINER='Bad_Name'",
        "PROVISIONING_WORK_QUEUE=",
    ):
        assert expected in message


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        pytest.param({"PROVISIONING_STORAGE": CONNECTION, **IDENTITY}, "not both", id="both-forms"),
        pytest.param(
            {**IDENTITY, "PROVISIONING_STORAGE__clientId": CLIENT_ID},
            "__clientId needs PROVISIONING_STORAGE__credential=managedidentity",
            id="client-id-without-credential",
        ),
        pytest.param({"PROVISIONING_STORAGE": "hello"}, "not a storage connection string", id="not-a-string"),
        pytest.param(
            {"PROVISIONING_STORAGE": CONNECTION, "PROVISIONING_REPORT_CONTAINER": "provisioning-input"},
            "must differ from the report/state containers",
            id="reports-into-the-input-container",
        ),
        pytest.param(
            {"PROVISIONING_STORAGE": CONNECTION, "PROVISIONING_STATE_CONTAINER": "a--b"},
            "PROVISIONING_STATE_CONTAINER='a--b'",
            id="double-hyphen",
        ),
    ],
)
def test_contradictory_or_invalid_settings_are_refused(env, expected):
    """Each contradiction or invalid value is a ConfigurationError that says what to fix."""
    assert expected in problems(env)


def test_a_bad_connection_string_is_never_echoed():
    """The error about an unusable connection string does not print the value (it may hold a key)."""
    message = problems({"PROVISIONING_STORAGE": "SharedAccessSignature=sv=secret-ish"})

    assert "secret-ish" not in message


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        pytest.param({}, {"use_env_settings": False}, id="nothing-set"),
        pytest.param(
            {"REQUESTS_CA_BUNDLE": "/etc/ca.pem", "CURL_CA_BUNDLE": "/other.pem"},
            {"use_env_settings": False, "connection_verify": "/etc/ca.pem"},
            id="ca-bundle-read-once",
        ),
        pytest.param(
            {"CURL_CA_BUNDLE": "/other.pem"},
            {"use_env_settings": False, "connection_verify": "/other.pem"},
            id="curl-bundle",
        ),
        pytest.param(
            {"https_proxy": "http://proxy:3128", "no_proxy": "localhost"}, {}, id="proxy-keeps-default"
        ),
        pytest.param({"HTTP_PROXY": ""}, {"use_env_settings": False}, id="empty-proxy-is-none"),
    ],
)
def test_the_storage_transport_reads_the_environment_once_unless_a_proxy_is_set(environ, expected):
    """Without a proxy the SDK stops re-reading the environment per request; a CA bundle still applies."""
    assert transport_options(environ) == expected
