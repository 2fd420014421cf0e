"""A careless user's connection: every field is checked when the connection is read.

Numbers that are NaN, infinite, negative, booleans or words; hosts without a scheme;
credentials with a trailing newline or a character no header can carry; transport extras
(proxies, CA bundle, client certificate) that point nowhere. Each fails before any request
with an ``OkxConnectionConfigError`` naming the connection and the field, never quoting a
secret.
"""

from __future__ import annotations

import json
import logging

import pytest

from airflow_provider_okx.core.api.errors import OkxConnectionConfigError, OkxInvalidInputError, is_permanent
from airflow_provider_okx.hooks.connection import config_from_connection
from airflow_provider_okx.hooks.okx import OkxHook
from tests.conftest import API_KEY, PASSPHRASE, SECRET_KEY


class Conn:
    """What Airflow's Connection gives the hook (attributes only)."""

    def __init__(
        self,
        conn_id="okx_real",
        host="https://web3.okx.com",
        login=API_KEY,
        password=SECRET_KEY,
        schema=None,
        port=None,
        **extra,
    ):
        self.conn_id = conn_id
        self.host = host
        self.login = login
        self.password = password
        self.schema = schema
        self.port = port
        self.extra_dejson = {"passphrase": PASSPHRASE, **extra}


BAD_NUMBERS = [
    ("nan", "must be a finite number"),
    ("NaN", "must be a finite number"),
    ("inf", "must be a finite number"),
    ("-Infinity", "must be a finite number"),
    ("-1", "must not be negative"),
    ("fast", "expected"),
    (True, "expected"),
    ([], "expected"),
    (float("nan"), "must be a finite number"),
    (10**400, "expected"),
]


@pytest.mark.parametrize(
    "field", ["rate_limit_rps", "timeout", "max_retries", "max_response_bytes", "max_in_flight_bytes"]
)
@pytest.mark.parametrize(("value", "reason"), BAD_NUMBERS, ids=[repr(v)[:12] for v, _ in BAD_NUMBERS])
def test_bad_numeric_extras_are_refused_naming_the_field(field, value, reason):
    with pytest.raises(OkxConnectionConfigError) as info:
        config_from_connection(Conn(**{field: value}))
    error = info.value
    assert error.field == f"extra.{field}"
    assert error.conn_id == "okx_real"
    assert reason in error.reason
    assert str(error).startswith("connection 'okx_real': extra.")
    assert is_permanent(error) and isinstance(error, OkxInvalidInputError)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("timeout", 0),
        ("max_response_bytes", 0),
        ("max_retries", 2.5),
        ("max_response_bytes", "1.5"),
        ("timeout", 1e9),
    ],
)
def test_numbers_that_make_no_sense_for_the_field(field, value):
    with pytest.raises(OkxConnectionConfigError) as info:
        config_from_connection(Conn(**{field: value}))
    assert info.value.field == f"extra.{field}"


MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (0, "must be at least 1048576"),
        (-5, "must not be negative"),
        ("-1048576", "must not be negative"),
        (MIB - 1, "must be at least 1048576"),
        (16 * 1024 * MIB + 1, "must be at most 17179869184"),
        (10**30, "must be at most 17179869184"),
        ("2097152.5", "expected a whole number"),
        (2097152.5, "expected a whole number"),
        (True, "expected a whole number, got bool"),
        (False, "expected a whole number, got bool"),
        ("64 MiB", "expected a whole number"),
        ("lots", "expected a whole number"),
        ({"bytes": 1}, "expected a whole number, got dict"),
    ],
)
def test_max_in_flight_bytes_is_a_whole_number_of_bytes_within_its_bounds(value, reason):
    with pytest.raises(OkxConnectionConfigError) as info:
        config_from_connection(Conn(max_in_flight_bytes=value))
    assert info.value.field == "extra.max_in_flight_bytes"
    assert info.value.reason == reason
    assert "extra.max_in_flight_bytes" in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, 64 * MIB),
        ("", 64 * MIB),
        (MIB, MIB),
        (" 2097152 ", 2 * MIB),
        ("536870912", 512 * MIB),
        (16 * 1024 * MIB, 16 * 1024 * MIB),
        (float(4 * MIB), 4 * MIB),  # a JSON number written 4194304.0 is still a whole number
    ],
)
def test_max_in_flight_bytes_from_json_or_uri_strings(value, expected):
    config = config_from_connection(Conn(max_in_flight_bytes=value))
    assert config.max_in_flight_bytes == expected
    assert isinstance(config.max_in_flight_bytes, int)


def test_sensible_numbers_from_json_or_uri_strings():
    config = config_from_connection(
        Conn(rate_limit_rps="2.5", timeout=" 3 ", max_retries="4", max_response_bytes=1048576)
    )
    assert (config.rate_limit_rps, config.timeout, config.max_retries, config.max_response_bytes) == (
        2.5,
        3.0,
        4,
        1048576,
    )
    defaults = config_from_connection(Conn())
    assert (defaults.rate_limit_rps, defaults.timeout, defaults.max_retries) == (1.0, 10.0, 5)
    assert defaults.max_response_bytes == 32 * 1024 * 1024
    assert defaults.max_in_flight_bytes == 64 * 1024 * 1024
    assert config_from_connection(Conn(rate_limit_rps=0)).rate_limit_rps == 0  # 0 = unlimited


# --- hosts -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "schema", "port", "base_url"),
    [
        (None, None, None, "https://web3.okx.com"),
        ("", None, None, "https://web3.okx.com"),
        ("web3.okx.com", None, None, "https://web3.okx.com"),
        ("  web3.okx.com/ ".strip(), None, None, "https://web3.okx.com"),
        ("https://web3.okx.com/", None, None, "https://web3.okx.com"),
        ("HTTPS://web3.okx.com", None, None, "HTTPS://web3.okx.com"),
        ("okx.test", None, 8443, "https://okx.test:8443"),
        ("okx.test", "http", 8080, "http://okx.test:8080"),
        ("http://127.0.0.1:9000", None, None, "http://127.0.0.1:9000"),
        ("https://proxy.corp/okx", None, None, "https://proxy.corp/okx"),
    ],
)
def test_host_forms_that_mean_one_base_url(host, schema, port, base_url):
    assert config_from_connection(Conn(host=host, schema=schema, port=port)).base_url == base_url


@pytest.mark.parametrize(
    ("host", "says"),
    [
        ("localhost:8080", "has no scheme: write https://localhost:8080 (or http://localhost:8080"),
        ("web3.okx.com:443", "has no scheme: write https://web3.okx.com:443"),
        ("ftp://web3.okx.com", "the scheme must be https://"),
        ("web3.okx.com/api/v6", "expected a URL such as https://web3.okx.com"),
        ("https://", "has no host name"),
        ("https://web3.okx.com?x=1", "takes no query"),
        ("https://web3.okx.com:99999", "not a valid URL"),
        ("web3 okx com", "expected a URL"),
    ],
)
def test_hosts_that_would_fail_later_fail_now_with_the_fix(host, says):
    with pytest.raises(OkxConnectionConfigError) as info:
        config_from_connection(Conn(host=host))
    assert info.value.field == "host"
    assert says in str(info.value)


def test_a_host_with_credentials_is_refused_without_quoting_them():
    with pytest.raises(OkxConnectionConfigError) as info:
        config_from_connection(Conn(host="https://admin:hunter2@web3.okx.com"))
    assert "hunter2" not in str(info.value) + repr(info.value)


def test_plain_http_is_warned_about_except_on_loopback(caplog):
    caplog.set_level(logging.WARNING, logger="airflow_provider_okx")
    config_from_connection(Conn(host="http://localhost:9000"))
    config_from_connection(Conn(host="http://[::1]:9000"))
    assert caplog.records == []
    config_from_connection(Conn(host="http://web3.okx.com"))
    [record] = caplog.records
    assert "plain http://" in record.getMessage() and "okx_real" in record.getMessage()


# --- credentials -------------------------------------------------------------------------------


def test_file_mounted_credentials_lose_their_newlines():
    config = config_from_connection(
        Conn(
            login=f"{API_KEY}\n",
            password=f"  {SECRET_KEY}\r\n",
            passphrase=f"{PASSPHRASE}\n",
            project_id=" p1\n",
        )
    )
    assert config.credentials.api_key == API_KEY
    assert config.credentials.secret_key == SECRET_KEY
    assert config.credentials.passphrase == PASSPHRASE
    assert config.credentials.project_id == "p1"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"login": ""}, "login (API key)"),
        ({"login": "   \n"}, "login (API key)"),
        ({"password": None}, "password (secret key)"),
        ({"passphrase": ""}, "extra.passphrase"),
        ({"passphrase": "\n"}, "extra.passphrase"),
        ({"passphrase": None}, "extra.passphrase"),
    ],
)
def test_missing_credentials_name_the_field_and_the_real_connection(changes, field):
    with pytest.raises(OkxConnectionConfigError) as info:
        config_from_connection(Conn(conn_id="treasury_okx", **changes))
    assert info.value.field == field
    assert "connection 'treasury_okx'" in str(info.value)
    assert "is required" in str(info.value)


@pytest.mark.parametrize(
    ("changes", "field", "secret"),
    [
        ({"login": "key\nInjected: 1"}, "login (API key)", "key\nInjected: 1"),
        ({"passphrase": "pass\x7fword"}, "extra.passphrase", "pass\x7fword"),
        ({"passphrase": "pass\u200bword"}, "extra.passphrase", "pass\u200bword"),
        ({"project_id": "proj\nX: 1"}, "extra.project_id", "proj\nX: 1"),
    ],
)
def test_unsendable_credentials_are_refused_without_quoting_them(changes, field, secret):
    with pytest.raises(OkxConnectionConfigError) as info:
        config_from_connection(Conn(**changes))
    assert info.value.field == field
    text = str(info.value) + repr(info.value) + repr(info.value.value)
    assert secret not in text and repr(secret)[1:-1] not in text


def test_test_connection_names_the_field_not_airflows_temporary_id(monkeypatch, requests_mock):
    """Airflow 3's Test button runs the hook under a random id ('M6wBBtSC'): not shown."""
    monkeypatch.setenv(
        "AIRFLOW_CONN_M6WBBTSC",
        json.dumps({"conn_type": "okx", "login": API_KEY, "password": SECRET_KEY, "extra": {}}),
    )
    ok, message = OkxHook("M6wBBtSC").test_connection()
    assert not ok
    assert message == (
        "The connection is not usable: extra.passphrase: is required: the passphrase chosen when "
        "the API key was created"
    )
    assert "M6wBBtSC" not in message
    assert requests_mock.call_count == 0


def test_a_task_names_the_real_connection(monkeypatch, requests_mock):
    monkeypatch.setenv(
        "AIRFLOW_CONN_TREASURY_OKX",
        json.dumps({"conn_type": "okx", "login": API_KEY, "password": SECRET_KEY, "extra": {}}),
    )
    with pytest.raises(OkxConnectionConfigError, match=r"connection 'treasury_okx': extra\.passphrase"):
        OkxHook("treasury_okx").get_supported_chains()


def test_v5_without_a_project_id_warns_once_per_hook(okx_conn, requests_mock, no_sleep, caplog):
    caplog.set_level(logging.WARNING, logger="airflow_provider_okx")
    okx_conn(api_version="v5")
    requests_mock.get(
        "https://okx.test/api/v5/wallet/chain/supported-chains",
        json={"code": "0", "data": [{"chainIndex": "1", "name": "Ethereum"}]},
    )
    hook = OkxHook()
    hook.get_supported_chains()
    hook.get_supported_chains()
    warnings = [r for r in caplog.records if "project_id" in r.getMessage()]
    assert len(warnings) == 1
    assert "OK-ACCESS-PROJECT" in warnings[0].getMessage() and warnings[0].levelno == logging.WARNING
    caplog.clear()
    okx_conn(api_version="v5", project_id="p-1")
    OkxHook().get_supported_chains()
    okx_conn(api_version="v6")
    OkxHook().config  # noqa: B018
    assert [r for r in caplog.records if "project_id" in r.getMessage()] == []


# --- transport extras ----------------------------------------------------------------------------


def test_proxies_verify_and_cert_reach_the_session(tmp_path):
    ca = tmp_path / "ca.pem"
    cert = tmp_path / "client.pem"
    key = tmp_path / "client.key"
    for path in (ca, cert, key):
        path.write_text("-----BEGIN CERTIFICATE-----\n")
    config = config_from_connection(
        Conn(
            proxies={"https": "http://user:proxy-pw@proxy.corp:3128"},
            verify=str(ca),
            cert=str(cert),
            cert_key=str(key),
        )
    )
    assert config.proxies == {"https": "http://user:proxy-pw@proxy.corp:3128"}
    assert config.verify == str(ca)
    assert config.cert == (str(cert), str(key))
    assert "proxy-pw" in config.secrets()  # registered with the masker
    assert "proxy-pw" not in repr(config)
    from airflow_provider_okx.hooks.sync_transport import build_session

    session = build_session(config)
    assert session.proxies["https"] == "http://user:proxy-pw@proxy.corp:3128"
    assert session.verify == str(ca)
    assert session.cert == (str(cert), str(key))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"verify": False}, False),
        ({"verify": "false"}, False),
        ({"verify_ssl": "0"}, False),
        ({"verify": "true"}, True),
        ({}, True),
        ({"proxy": "http://proxy.corp:3128"}, True),
    ],
)
def test_verify_and_httphook_aliases(extra, expected):
    config = config_from_connection(Conn(**extra))
    assert config.verify is expected
    if "proxy" in extra:
        assert config.proxies == {"http": "http://proxy.corp:3128", "https": "http://proxy.corp:3128"}


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"verify": "/nonexistent/ca.pem"}, "extra.verify"),
        ({"verify": 3}, "extra.verify"),
        ({"cert": "/nonexistent/client.pem"}, "extra.cert"),
        ({"cert": ["/a", "/b", "/c"]}, "extra.cert"),
        ({"cert_key": "/nonexistent/key.pem"}, "extra.cert_key"),
        ({"proxies": "not a url"}, "extra.proxies['http']"),
        ({"proxies": ["http://proxy:1"]}, "extra.proxies"),
        ({"proxies": {"https": 3128}}, "extra.proxies['https']"),
    ],
)
def test_transport_extras_that_point_nowhere(extra, field):
    with pytest.raises(OkxConnectionConfigError) as info:
        config_from_connection(Conn(**extra))
    assert info.value.field == field


def test_a_proxy_password_is_never_quoted_in_an_error():
    with pytest.raises(OkxConnectionConfigError) as info:
        config_from_connection(Conn(proxies={"https": "user:s3cret-proxy@proxy.corp"}))
    assert "s3cret-proxy" not in str(info.value) + repr(info.value)


def test_the_masker_gets_the_stripped_secrets(okx_conn, monkeypatch):
    masked: list[str] = []
    monkeypatch.setattr("airflow_provider_okx.hooks.okx.mask_secret", masked.append)
    okx_conn(passphrase=f"{PASSPHRASE}\n")
    OkxHook().config  # noqa: B018
    assert PASSPHRASE in masked and SECRET_KEY in masked
    assert f"{PASSPHRASE}\n" not in masked
