"""Log redaction: the masking of log text, and the one setup every entry point uses to apply it."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from collections.abc import Iterator

import pytest

from provisioning.core.masking import mask_log_text, redact_secrets
from provisioning.entrypoints.cli import main as cli_main
from provisioning.entrypoints.logging_setup import LEVEL_SETTING, configure_host_logging, log_level
from provisioning.errors import ConfigurationError
from provisioning.log_redaction import RedactingFilter, add_secret, install_redaction
from tests.conftest import ROOT

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJhdWQiOiJodHRwczovL2dyYXBoIn0.c2lnbmF0dXJl"


# --- the text ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        pytest.param(
            "GET https://graph/v1.0/users/alice@contoso.com/authentication/methods",
            "GET https://graph/v1.0/users/a***@contoso.com/authentication/methods",
            id="upn-in-url-path",
        ),
        pytest.param("users/o%27brien%40contoso.com/x", "users/o***@contoso.com/x", id="percent-encoded-upn"),
        pytest.param("?upn=bob@x.org&a=1", "?upn=b***@x.org&a=1", id="upn-in-query"),
        pytest.param("mobile +31 612345678", "mobile +31 ******678", id="graph-phone"),
        pytest.param("call +1 (425) 555-0190.", "call +* (***) ***-*190.", id="bracketed-phone"),
        pytest.param("body 0612345678,", "body *******678,", id="national-digits"),
        pytest.param("n 0612345678x12", "n *******678x12", id="extension-follows"),
        pytest.param(
            "2026-11-25 22:08:13,453 at 127.0.0.1:43319 port=43319",
            "2026-11-25 22:08:13,453 at 127.0.0.1:43319 port=43319",
            id="times-addresses-ports-stay",
        ),
        pytest.param(
            "request-id 3179e48a-750b-4051-897c-87b9720928f7 etag 0x220560298351FE0 blob 6150923124a8e24f.json",
            "request-id 3179e48a-750b-4051-897c-87b9720928f7 etag 0x220560298351FE0 blob 6150923124a8e24f.json",
            id="ids-stay",
        ),
        pytest.param(
            '"GET /x HTTP/1.1" 200 1544', '"GET /x HTTP/1.1" 200 1544', id="access-log-status-stays"
        ),
        pytest.param("expires on 2026-12-31T10:00:00Z", "expires on 2026-12-31T10:00:00Z", id="dates-stay"),
    ],
)
def test_log_text_masks_people_and_keeps_what_support_needs(text, masked):
    """Emails and numbers are masked; times, addresses, ports, GUIDs and hex ids stay readable."""
    assert mask_log_text(text) == masked


@pytest.mark.parametrize(
    ("text", "redacted"),
    [
        pytest.param(f"Authorization: Bearer {JWT}", "Authorization: [redacted]", id="authorization-header"),
        pytest.param(f"token {JWT} end", "token [token redacted] end", id="bare-jwt"),
        pytest.param("bearer abc.def-ghi", "bearer [redacted]", id="bearer-value"),
        pytest.param(
            "-----BEGIN PRIVATE KEY-----\nMIIEvQ\n-----END PRIVATE KEY----- after",
            "[PEM block redacted] after",
            id="pem-block",
        ),
        pytest.param("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIE", "[PEM block redacted]", id="cut-pem"),
        pytest.param("?sv=2024&sig=ab%2Fcd&se=1", "?sv=2024&sig=[redacted]&se=1", id="sas-signature"),
        pytest.param(
            "AccountName=dev;AccountKey=Eby8vd==;BlobEndpoint=http://x",
            "AccountName=dev;AccountKey=[redacted];BlobEndpoint=http://x",
            id="connection-string",
        ),
        pytest.param(
            "/api/provision?code=k3y&x=1", "/api/provision?code=[redacted]&x=1", id="function-key-query"
        ),
        pytest.param(
            "{'x-functions-key': 'k3y'}", "{'x-functions-key': '[redacted]'}", id="function-key-header"
        ),
        pytest.param('"client_secret": "s3"', '"client_secret": "[redacted]"', id="json-secret"),
        pytest.param("'Authorization': 'REDACTED'", "'Authorization': 'REDACTED'", id="already-redacted"),
        pytest.param('"access_token": "********"', '"access_token": "********"', id="msal-masked"),
        pytest.param("MII" + "aB3" * 30, "[base64 redacted]", id="der-base64"),
    ],
)
def test_secrets_are_redacted_with_their_label_kept(text, redacted):
    """Tokens, keys, PEM blocks, SAS signatures and function keys go; what they were stays readable."""
    assert redact_secrets(text) == redacted


def test_a_known_secret_is_removed_wherever_it_appears():
    """A registered value (client secret, function key) is redacted verbatim, even unlabelled."""
    assert redact_secrets("oops: Zx9-very-secret-value!", ("Zx9-very-secret-value",)) == "oops: [redacted]!"


# --- the records ------------------------------------------------------------------------------------


def _fail_with_payload() -> None:
    raise ValueError("payload {'mobile': '+31 612345678', 'upn': 'ann@contoso.test'}")


def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            _fail_with_payload()
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("x", logging.INFO, __file__, 1, msg, args or None, exc_info)


def test_the_filter_masks_the_final_message_and_clears_the_arguments():
    """A handler formatting the record later sees only the masked text."""
    item = record("user %s phone %s", "ann@contoso.test", "+31 612345678")

    RedactingFilter().filter(item)

    assert item.getMessage() == "user a***@contoso.test phone +31 ******678"
    assert item.args is None


def test_the_filter_masks_the_exception_text_and_keeps_the_exception():
    """A traceback quoting a payload is masked; exc_info stays for handlers that want the type."""
    item = record("failed", exc=True)

    RedactingFilter().filter(item)
    text = logging.Formatter().format(item)

    assert "a***@contoso.test" in text
    assert "+31 ******678" in text
    assert "ann@contoso.test" not in text
    assert "612345678" not in text
    assert item.exc_info is not None


def test_arguments_that_do_not_fit_the_format_are_dropped_not_raised():
    """A broken log call keeps its format string and loses the arguments (which may hold PII)."""
    item = record("user %s %s", "ann@contoso.test")

    RedactingFilter().filter(item)

    assert item.getMessage() == "user %s %s [log arguments did not match the format]"


@pytest.fixture
def plain_factory() -> Iterator[None]:
    """The stock record factory for the test, whatever earlier tests installed; restored after."""
    before = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)
    yield
    logging.setLogRecordFactory(before)


def test_redaction_reaches_every_logger_and_handlers_added_later(plain_factory):
    """Installed as the record factory: a third-party child logger and a handler added afterwards
    both see masked text."""
    install_redaction()
    installed = logging.getLogRecordFactory()
    install_redaction()  # idempotent: one wrapper, not two
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("httpx.child.of.a.library")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        logger.debug("HTTP Request: GET https://graph/v1.0/users/%s/x", "ann@contoso.test")
    finally:
        logger.removeHandler(handler)

    assert stream.getvalue() == "HTTP Request: GET https://graph/v1.0/users/a***@contoso.test/x\n"
    assert logging.getLogRecordFactory() is installed


def test_a_registered_secret_never_reaches_a_log(plain_factory, caplog):
    """add_secret() values are redacted from every record of the process."""
    install_redaction()
    add_secret("registered-secret-1234")

    with caplog.at_level(logging.INFO):
        logging.getLogger("any").info("value registered-secret-1234 here")

    assert "registered-secret-1234" not in caplog.text
    assert "value [redacted] here" in caplog.text


# --- the level setting ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "env", "level"),
    [
        pytest.param("info", {LEVEL_SETTING: "debug"}, logging.INFO, id="option-wins"),
        pytest.param(None, {LEVEL_SETTING: "DEBUG"}, logging.DEBUG, id="setting-any-case"),
        pytest.param(None, {}, logging.WARNING, id="default"),
    ],
)
def test_the_level_comes_from_the_option_then_the_setting_then_the_default(given, env, level):
    assert log_level(given, env, default="warning") == level


def test_a_wrong_level_names_the_setting_and_the_choices():
    with pytest.raises(
        ConfigurationError, match=r"PROVISIONING_LOG_LEVEL='loud'.*debug, info, warning, error"
    ):
        log_level(None, {LEVEL_SETTING: "loud"}, default="info")


def test_the_cli_rejects_a_wrong_level_setting_with_exit_2_and_no_traceback(monkeypatch, tmp_path):
    monkeypatch.setenv(LEVEL_SETTING, "loud")
    csv_file = tmp_path / "users.csv"
    csv_file.write_text("UPN,Mobile\nann@contoso.test,+31 612345678\n", encoding="utf-8")
    out, err = io.StringIO(), io.StringIO()

    code = cli_main(["check", str(csv_file)], out=out, err=err)

    assert code == 2
    assert "PROVISIONING_LOG_LEVEL" in err.getvalue()
    assert "Traceback" not in err.getvalue()


def test_the_local_runner_rejects_a_wrong_level_setting_with_its_usage():
    result = subprocess.run(
        [sys.executable, "-m", "provisioning.entrypoints.local", "--role", "worker"],
        cwd=ROOT,
        env={"PATH": "", LEVEL_SETTING: "loud"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "PROVISIONING_LOG_LEVEL='loud' is not a log level" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_functions_host_keeps_its_level_when_the_setting_is_wrong(plain_factory, monkeypatch, caplog):
    """function_app.py must import whatever the setting says: a wrong level is a warning, not a crash."""
    monkeypatch.setenv(LEVEL_SETTING, "loud")
    root = logging.getLogger()
    before = root.level

    with caplog.at_level(logging.WARNING):
        configure_host_logging()

    assert root.level == before
    assert "keeping the host's log level" in caplog.text
