"""The connection form and the hook accept exactly the same numbers.

Every numeric field of the form (``CONN_FIELDS``) is tried at its bounds and just outside
them: the hook (``config_from_connection``), Airflow 2's form (the hook's WTForms widgets,
validated for real) and Airflow 3's form (the JSON schema in ``conn-fields``, and what the
running Airflow's UI receives on 3.2+) must say the same.
"""

from __future__ import annotations

import pytest

from airflow_provider_okx import CONN_FIELDS, get_provider_info
from airflow_provider_okx.core.api.errors import OkxConnectionConfigError
from airflow_provider_okx.glue.compat import AIRFLOW_V_3_2_PLUS
from airflow_provider_okx.hooks.connection import config_from_connection
from airflow_provider_okx.hooks.okx import OkxHook
from tests.test_hostile_connection import Conn

NUMERIC = {
    name: spec for name, spec in CONN_FIELDS.items() if {"number", "integer"} & set(spec["schema"]["type"])
}


def _cases():
    for name, spec in NUMERIC.items():
        schema = spec["schema"]
        low, high = schema["minimum"], schema["maximum"]
        step = 1 if "integer" in schema["type"] else 0.01
        yield name, low, True
        yield name, high, True
        yield name, schema["default"], True
        yield name, low - step, False
        yield name, high + step, False


CASES = list(_cases())


def test_every_numeric_field_has_both_bounds_and_a_default_inside():
    assert set(NUMERIC) >= {"rate_limit_rps", "timeout", "max_retries"}
    for spec in NUMERIC.values():
        schema = spec["schema"]
        assert schema["minimum"] <= schema["default"] <= schema["maximum"]
    # The UI form must never accept 0 for a timeout the hook refuses (the bug this guards).
    assert NUMERIC["timeout"]["schema"]["minimum"] > 0


def _hook_accepts(name, value) -> bool:
    try:
        config = config_from_connection(Conn(**{name: str(value)}))
    except OkxConnectionConfigError as error:
        refused = error.field
    else:
        refused = None
    if refused is not None:
        assert refused == f"extra.{name}"
        return False
    assert getattr(config, name) == pytest.approx(float(value))
    return True


@pytest.mark.parametrize(("name", "value", "accepted"), CASES, ids=[f"{n}={v}" for n, v, _ in CASES])
def test_the_hook_enforces_the_form_bounds(name, value, accepted):
    assert _hook_accepts(name, value) is accepted


@pytest.mark.parametrize(("name", "value", "accepted"), CASES, ids=[f"{n}={v}" for n, v, _ in CASES])
def test_airflow2_form_validates_like_the_hook(name, value, accepted):
    """Airflow 2 (and 3.0/3.1 with Flask-AppBuilder) builds the form from the hook's widgets."""
    pytest.importorskip("flask_appbuilder")
    wtforms = pytest.importorskip("wtforms")
    from werkzeug.datastructures import MultiDict

    widgets = OkxHook.get_connection_form_widgets()
    form_class = type("OkxForm", (wtforms.Form,), {name: widgets[name]})
    form = form_class(MultiDict({name: str(value)}))
    assert form.validate() is accepted, form.errors
    assert _hook_accepts(name, value) is accepted


def test_airflow3_conn_fields_carry_the_hook_bounds():
    fields = get_provider_info()["connection-types"][0]["conn-fields"]
    for name, spec in NUMERIC.items():
        assert fields[name]["schema"]["minimum"] == spec["schema"]["minimum"]
        assert fields[name]["schema"]["maximum"] == spec["schema"]["maximum"]


@pytest.mark.skipif(not AIRFLOW_V_3_2_PLUS, reason="3.2+ draws the form from conn-fields")
def test_airflow3_ui_receives_the_bounds():
    from tests.test_provider import _ui_hook_meta

    extra = _ui_hook_meta()["extra_fields"]
    for name, spec in NUMERIC.items():
        assert extra[name]["schema"]["minimum"] == spec["schema"]["minimum"]
        assert extra[name]["schema"]["maximum"] == spec["schema"]["maximum"]
