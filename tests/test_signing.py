"""Signing: checked against an independent HMAC computation, as OKX documents it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

from airflow_provider_okx.core.api.signing import Credentials, format_timestamp, prehash

SECRET = "22582BD0CFF14C41EDBF1AB98506286D"


def independent(secret: str, message: str) -> str:
    return base64.b64encode(
        hmac.new(secret.encode("utf-8"), message.encode("utf-8"), "sha256").digest()
    ).decode()


def test_timestamp_is_iso_utc_with_milliseconds():
    assert format_timestamp(1607418537.715) == "2020-12-08T09:08:57.715Z"
    assert format_timestamp(0) == "1970-01-01T00:00:00.000Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", format_timestamp(1.9999))


def test_get_with_query_signs_path_and_query():
    creds = Credentials("key", SECRET, "pass")
    path = "/api/v6/dex/balance/all-token-balances-by-address?address=0xabc&chains=1,56&excludeRiskToken=0"
    headers = creds.headers("2020-12-08T09:08:57.715Z", "GET", path)
    expected = independent(SECRET, "2020-12-08T09:08:57.715ZGET" + path)
    assert headers["OK-ACCESS-SIGN"] == expected
    assert headers["OK-ACCESS-TIMESTAMP"] == "2020-12-08T09:08:57.715Z"
    assert headers["OK-ACCESS-KEY"] == "key"
    assert headers["OK-ACCESS-PASSPHRASE"] == "pass"
    assert headers["Content-Type"] == "application/json"
    assert "OK-ACCESS-PROJECT" not in headers


def test_get_without_query_has_no_question_mark():
    creds = Credentials("key", SECRET, "pass", project_id="proj")
    headers = creds.headers("2020-12-08T09:08:57.715Z", "get", "/api/v6/dex/balance/supported/chain")
    assert headers["OK-ACCESS-SIGN"] == independent(
        SECRET, "2020-12-08T09:08:57.715ZGET/api/v6/dex/balance/supported/chain"
    )
    assert headers["OK-ACCESS-PROJECT"] == "proj"


def test_post_signs_bare_path_and_exact_body():
    creds = Credentials("key", SECRET, "pass")
    body = '{"address":"0xabc","tokenContractAddresses":[{"chainIndex":"1","tokenContractAddress":""}]}'
    path = "/api/v6/dex/balance/token-balances-by-address"
    headers = creds.headers("2020-12-08T09:08:57.715Z", "POST", path, body)
    assert headers["OK-ACCESS-SIGN"] == independent(SECRET, "2020-12-08T09:08:57.715ZPOST" + path + body)
    assert prehash("t", "post", "/p", "{}") == "tPOST/p{}"


def test_secret_is_raw_utf8_not_decoded():
    # A base64-looking secret must be used as its literal bytes.
    secret = "c2VjcmV0"
    creds = Credentials("key", secret, "pass")
    assert creds.sign("x") == independent(secret, "x")
    assert creds.sign("x") != base64.b64encode(hmac.new(b"secret", b"x", hashlib.sha256).digest()).decode()


def test_repr_hides_secret_and_passphrase():
    creds = Credentials("abcdefghijkl", "my-secret-key", "my-passphrase", "p1")
    text = repr(creds) + str(creds)
    assert "my-secret-key" not in text
    assert "my-passphrase" not in text
    assert "abcdefghijkl" not in text


def test_timestamp_reuses_its_second_only_within_that_second():
    assert format_timestamp(100.001) == "1970-01-01T00:01:40.001Z"
    assert format_timestamp(100.999) == "1970-01-01T00:01:40.999Z"
    assert format_timestamp(101.0) == "1970-01-01T00:01:41.000Z"
    assert format_timestamp(99.5) == "1970-01-01T00:01:39.500Z"  # a clock stepped back
