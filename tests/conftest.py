"""Shared fixtures: an isolated Airflow home, and OKX connections that point at a simulator."""

from __future__ import annotations

import json
import os
import tempfile

# Airflow reads its configuration at import: give tests a home of their own unless the
# Makefile already chose one (it migrates that home's database once).
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="okx-airflow-home-"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")

import pytest

from tests.redis_server import redis_server  # noqa: F401 (fixture: a real redis-server per test)

API_KEY = "test-api-key-0001"
SECRET_KEY = "test-secret-key-s3cr3t-value"
PASSPHRASE = "test-passphrase-Pa55"
BASE_URL = "https://okx.test"


def conn_json(host: str = BASE_URL, **extra: object) -> str:
    """An ``okx`` connection as ``AIRFLOW_CONN_*`` JSON."""
    values = {"passphrase": PASSPHRASE, "rate_limit_rps": 0, **extra}
    return json.dumps(
        {"conn_type": "okx", "host": host, "login": API_KEY, "password": SECRET_KEY, "extra": values}
    )


@pytest.fixture
def okx_conn(monkeypatch):
    """``okx_default`` pointing at ``https://okx.test`` (for requests-mock), no rate limit."""

    def make(conn_id: str = "okx_default", **extra: object) -> str:
        monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", conn_json(**extra))
        return conn_id

    make()
    return make


class SleepRecorder:
    """Stands in for ``time.sleep`` in the hook: records every wait, waits for none."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def no_sleep(monkeypatch):
    from airflow_provider_okx.hooks.okx import OkxHook

    recorder = SleepRecorder()
    monkeypatch.setattr(OkxHook, "_sleep", staticmethod(recorder))
    return recorder
