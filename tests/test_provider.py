"""Provider registration, the connection form on both UIs, and parse-time imports."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version

import pytest

from airflow_provider_okx import CONN_FIELDS, DEFAULT_HOST, DOCS_URL, __version__, get_provider_info
from airflow_provider_okx.glue.compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_1_PLUS, AIRFLOW_V_3_2_PLUS
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
        "rate_limit_store",
    }
    assert conn["conn-fields"]["passphrase"]["schema"]["format"] == "password"
    # the store's URL may hold a password: masked in the form like the passphrase
    assert conn["conn-fields"]["rate_limit_store"]["schema"]["format"] == "password"
    behaviour = conn["ui-field-behaviour"]
    assert behaviour["relabeling"] == {"host": "Base URL", "login": "API Key", "password": "Secret Key"}
    assert "https://web3.okx.com" in behaviour["placeholders"]["host"]
    assert {"schema", "port", "extra"} <= set(behaviour["hidden-fields"])


def test_one_version_for_the_package_and_the_provider_info():
    """pyproject.toml reads ``__version__``: what pip installed is what Airflow shows."""
    info = get_provider_info()
    assert info["versions"] == [__version__] == [version("airflow-provider-okx")]


def test_provider_docs_link_is_okx_by_address_balance_page():
    [integration] = get_provider_info()["integrations"]
    assert integration["external-doc-url"] == DOCS_URL
    assert DOCS_URL.startswith("https://web3.okx.com/") and "all-token-balances" in DOCS_URL


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


def _ui_hook_meta() -> dict:
    """What the running Airflow's UI receives for the ``okx`` connection type.

    Airflow 3 serves the form from ``HookMetaService`` (``/ui/connections/hook_meta``): 3.0 and
    3.1 build it from the hook's Airflow-2 widgets with Flask-AppBuilder mocked out, 3.2+ from
    ``conn-fields``. Airflow 2 renders the hook's widgets through ``ProvidersManager``.
    """
    # In a fresh interpreter, as the api-server has it: ProvidersManager caches hook forms per
    # process, and a test that initialised it earlier (without 3.1's Flask-AppBuilder mock)
    # would leave the OKX form empty here.
    code = (
        "import json\n"
        "from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService\n"
        "[meta] = [m for m in HookMetaService.hook_meta_data() if m.connection_type == 'okx']\n"
        "print(json.dumps(meta.model_dump(mode='json')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=180)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not AIRFLOW_V_3_0_PLUS, reason="Airflow 3's React connection form")
def test_airflow3_ui_receives_the_okx_form():
    if not AIRFLOW_V_3_1_PLUS:
        # 3.0 calls the hook's widgets only when Flask-AppBuilder imports (docs: supported versions)
        pytest.importorskip("flask_appbuilder", reason="Airflow 3.0 builds hook forms only with FAB")
    meta = _ui_hook_meta()
    assert meta["hook_name"] == "OKX Web3"
    standard = meta["standard_fields"]
    assert standard["host"] == {"hidden": False, "title": "Base URL", "placeholder": DEFAULT_HOST}
    assert standard["login"]["title"] == "API Key"
    assert standard["password"]["title"] == "Secret Key"
    assert standard["port"]["hidden"] is True
    extra = meta["extra_fields"]
    assert set(extra) == set(CONN_FIELDS)
    for name, field in CONN_FIELDS.items():
        assert extra[name]["schema"]["title"] == field["label"]
        assert extra[name]["description"] == field["description"]
    assert extra["passphrase"]["schema"]["format"] == "password"
    if AIRFLOW_V_3_2_PLUS:  # conn-fields carry the JSON schema as written: API version is a select
        assert extra["api_version"]["schema"]["enum"] == ["v6", "v5"]
        assert extra["api_version"]["value"] == "v6"


@pytest.mark.skipif(AIRFLOW_V_3_0_PLUS, reason="Airflow 2's Flask-AppBuilder connection form")
def test_airflow2_providers_manager_builds_the_okx_form():
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    assert "airflow-provider-okx" in manager.providers
    hook = manager.hooks["okx"]
    assert hook is not None
    assert hook.hook_class_name == "airflow_provider_okx.hooks.okx.OkxHook"
    assert hook.connection_type == "okx"
    assert {f"extra__okx__{name}" for name in CONN_FIELDS} <= set(manager.connection_form_widgets)
    assert manager.field_behaviours["okx"]["relabeling"]["login"] == "API Key"


def test_pytest_plugin_costs_nothing_on_load():
    """pytest loads the plugin in every session where the provider is installed."""
    script = (
        "import sys, threading, json\n"
        "import airflow_provider_okx.testing.pytest_plugin\n"
        "print(json.dumps({'airflow': 'airflow' in sys.modules, 'threads': threading.active_count()}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == {"airflow": False, "threads": 1}


def test_provider_modules_import_without_deprecation_warnings():
    """Each Airflow name comes from where the running version keeps it: no deprecated path
    (an all-or-nothing choice took Airflow 2's paths on 3.0 and 3.1, each a warning)."""
    script = (
        "import warnings, json\n"
        "warnings.simplefilter('always')\n"
        "try:\n    import airflow.sdk\nexcept ImportError:\n    import airflow\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import airflow_provider_okx.glue.compat, airflow_provider_okx.hooks.okx\n"
        "    import airflow_provider_okx.operators.balances, airflow_provider_okx.operators.report\n"
        "    import airflow_provider_okx.sensors.balance, airflow_provider_okx.triggers.balance\n"
        "print(json.dumps([f'{w.filename}: {w.message}' for w in caught\n"
        "                  if issubclass(w.category, (DeprecationWarning, FutureWarning))\n"
        "                  and 'airflow_provider_okx' in w.filename]))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def _new_modules(code: str) -> set[str]:
    """Modules a fresh interpreter imports for ``code``, beyond what importing Airflow costs."""
    script = (
        "import sys, json\n"
        "try:\n    import airflow.sdk\nexcept ImportError:\n    import airflow\n"
        "from airflow_provider_okx.glue import compat\n"
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
    "redis",
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


# What a DAG file must never pay for at parse time: importing any operator, sensor or transfer
# module loads none of these (each is imported inside the method that uses it).
PARSE_TIME_FORBIDDEN = (
    # HTTP
    "requests",
    "aiohttp",
    "httpx",
    "urllib3",
    "yarl",
    # templates, report building
    "jinja2",
    "markupsafe",
    "airflow_provider_okx.core.report",
    # database drivers and the SQL machinery
    "sqlalchemy",
    "psycopg",
    "psycopg2",
    "pymysql",
    "MySQLdb",
    "sqlite3",
    "airflow.providers.common.sql",
    # lineage, cache, our transports, the simulator
    "openlineage",
    "airflow.providers.openlineage",
    "redis",
    "airflow_provider_okx.hooks.sync_transport",
    "airflow_provider_okx.hooks.async_transport",
    "airflow_provider_okx.testing",
    # dataclasses only a running task needs (figure 3 of bench/RESULTS.md: parse time)
    "airflow_provider_okx.core.models",
    "airflow_provider_okx.core.report_time",
    "airflow_provider_okx.glue.explorers",
)


def test_parse_time_imports_nothing_heavy():
    """Every module of ``operators``, ``sensors`` and ``transfers`` (found by walking the
    packages, so a new one is covered), imported in a fresh interpreter after Airflow: none
    of :data:`PARSE_TIME_FORBIDDEN` is newly in ``sys.modules``."""
    script = (
        "import importlib, json, pkgutil, sys\n"
        # What Airflow's own operator, sensor and hook bases cost is Airflow's, not ours.
        "try:\n    import airflow.sdk\n"
        "except ImportError:\n"
        "    import airflow.models.baseoperator, airflow.sensors.base, airflow.hooks.base\n"
        "before = set(sys.modules)\n"
        "names = []\n"
        "for package in ('operators', 'sensors', 'transfers'):\n"
        "    root = importlib.import_module('airflow_provider_okx.' + package)\n"
        "    for info in pkgutil.walk_packages(root.__path__, root.__name__ + '.'):\n"
        "        importlib.import_module(info.name)\n"
        "        names.append(info.name)\n"
        "print(json.dumps({'names': names, 'new': sorted(set(sys.modules) - before)}))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert {"airflow_provider_okx.operators.report", "airflow_provider_okx.transfers.okx_to_sql"} <= set(
        found["names"]
    )
    bad = sorted(
        m for m in found["new"] if any(m == f or m.startswith(f + ".") for f in PARSE_TIME_FORBIDDEN)
    )
    assert bad == []


def test_the_sql_loader_imports_neither_the_dialects_nor_the_transactions_loader():
    """A DAG file that imports ``OkxBalancesToSqlOperator`` checks its table name with
    ``transfers.table_names``; the dialects (``transfers.sql``) and the transactions loader come
    when used, and every name of the module's ``__all__`` is still importable from it."""
    new = _new_modules(
        "import airflow_provider_okx.transfers.okx_to_sql as m\n"
        "assert 'airflow_provider_okx.transfers.sql' not in sys.modules\n"
        "assert 'airflow_provider_okx.transfers.transactions_to_sql' not in sys.modules\n"
        "assert all(getattr(m, name) is not None for name in m.__all__)"
    )
    assert {"airflow_provider_okx.transfers.sql", "airflow_provider_okx.transfers.transactions_to_sql"} <= new


def test_importing_the_hook_pulls_in_no_http_library_until_a_request():
    new = _new_modules("import airflow_provider_okx.hooks.okx")
    assert not {m for m in new if m.split(".")[0] in ("requests", "httpx", "redis")}
