"""Provider registration, the connection form on both UIs, and parse-time imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from airflow_provider_okx import CONN_FIELDS, get_provider_info
from airflow_provider_okx.hooks.okx import OkxHook


def test_provider_info_declares_the_okx_connection():
    info = get_provider_info()
    [conn] = info["connection-types"]
    assert conn["connection-type"] == "okx"
    assert conn["hook-class-name"] == "airflow_provider_okx.hooks.okx.OkxHook"
    assert conn["hook-name"] == "OKX Web3"
    assert set(conn["conn-fields"]) == {
        "passphrase",
        "project_id",
        "api_version",
        "rate_limit_rps",
        "timeout",
        "max_retries",
    }
    assert conn["conn-fields"]["passphrase"]["schema"]["format"] == "password"
    behaviour = conn["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"host": "Base URL", "login": "API Key", "password": "Secret Key"}
    assert "https://web3.okx.com" in behaviour["placeholders"]["host"]
    assert {"schema", "port", "extra"} <= set(behaviour["hidden-fields"])


def test_airflow3_and_airflow2_forms_agree():
    """Airflow 3 reads get_provider_info(); Airflow 2 reads the hook. Same fields, same words."""
    pytest.importorskip("flask_appbuilder")
    pytest.importorskip("wtforms")
    info = get_provider_info()["connection-types"][0]
    widgets = OkxHook.get_connection_form_widgets()
    assert set(widgets) == set(info["conn-fields"])
    for name, widget in widgets.items():
        assert str(widget.args[0]) == info["conn-fields"][name]["label"]
        is_password = info["conn-fields"][name]["schema"].get("format") == "password"
        assert (widget.field_class.__name__ == "PasswordField") is is_password
    behaviour = OkxHook.get_ui_field_behaviour()
    assert behaviour["hidden_fields"] == info["ui-field-behaviour"]["hidden-fields"]
    assert behaviour["relabeling"] == info["ui-field-behaviour"]["relabeling"]
    assert behaviour["placeholders"] == info["ui-field-behaviour"]["placeholders"]
    assert set(info["ui-field-behaviour"]["placeholders"]) - {"host", "login", "password"} == set(CONN_FIELDS)


def test_providers_manager_sees_the_connection_type():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-okx" in manager.providers
    hook = manager.hooks["okx"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_okx.hooks.okx.OkxHook"
    assert hook.connection_type == "okx"
    assert "extra__okx__passphrase" in manager.connection_form_widgets
    assert manager.field_behaviours["okx"]["relabeling"]["login"] == "API Key"


def _new_modules(code: str) -> set[str]:
    """Modules a fresh interpreter imports for ``code``, beyond what importing Airflow costs."""
    script = (
        "import sys, json\n"
        "try:\n    import airflow.sdk\nexcept ImportError:\n    import airflow\n"
        "from airflow_provider_okx import compat\n"
        "before = set(sys.modules)\n"
        f"{code}\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout.strip().splitlines()[-1]))


FORBIDDEN = (
    "requests",
    "httpx",
    "urllib3",
    "airflow_provider_okx.testing",
    "airflow_provider_okx.triggers.balance",
)


def test_importing_operators_and_sensor_pulls_in_no_http_library():
    new = _new_modules(
        "import airflow_provider_okx.operators.balances, airflow_provider_okx.sensors.balance, "
        "airflow_provider_okx.operators.report"
    )
    bad = sorted(m for m in new if m.split(".")[0] in FORBIDDEN or m.startswith(FORBIDDEN))
    assert bad == []


def test_importing_the_hook_pulls_in_no_http_library_until_a_request():
    new = _new_modules("import airflow_provider_okx.hooks.okx")
    assert not {m for m in new if m.split(".")[0] in ("requests", "httpx")}
