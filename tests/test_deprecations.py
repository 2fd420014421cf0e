"""Every public module imports on the running Airflow with deprecation warnings as errors.

Airflow moves names between releases (to ``airflow.sdk`` in 3.x); the old path keeps working
with a warning, until it does not. Importing a name from where the running version no longer
keeps it is caught here on every leg: ``-W error::DeprecationWarning`` plus Airflow's own
classes (``RemovedInAirflow3Warning`` or ``RemovedInAirflow4Warning``,
``AirflowProviderDeprecationWarning``, and 3.3's ``DeprecatedImportWarning``, a
``FutureWarning`` subclass) turned into errors, in a fresh interpreter so nothing was imported
before the filter was set.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import airflow_provider_okx
from airflow_provider_okx.glue.compat import AIRFLOW_V_3_0_PLUS, AIRFLOW_V_3_3_PLUS

SCRIPT = """
import importlib, json, sys, warnings

# Airflow itself (and what it imports) is not under test: load it first, quietly.
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import airflow
    # Airflow's own modules that warn about Airflow's configuration when first imported (2.11:
    # airflow.metrics on timer_unit_consistency), whichever of our modules happens to be first.
    for airflow_module in ("airflow.stats", "airflow.models", "airflow.decorators"):
        try:
            importlib.import_module(airflow_module)
        except ImportError:
            pass
    try:
        import airflow.sdk
    except ImportError:
        pass
    else:
        # airflow.sdk loads its names lazily; some of Airflow's own lazy imports warn (3.1's
        # `task` reaches the standard provider, which imports a moved name through
        # common.compat). Resolve them all here so only our own imports are judged.
        for sdk_name in getattr(airflow.sdk, "__all__", ()):
            try:
                getattr(airflow.sdk, sdk_name)
            except Exception:
                pass
    from airflow import exceptions

airflow_classes = [
    getattr(exceptions, name)
    for name in ("RemovedInAirflow3Warning", "RemovedInAirflow4Warning", "AirflowProviderDeprecationWarning")
    if hasattr(exceptions, name)
]
try:  # Airflow 3.3: a moved name warns with this FutureWarning subclass
    from airflow.utils.deprecation_tools import DeprecatedImportWarning
    airflow_classes.append(DeprecatedImportWarning)
except ImportError:
    pass
for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning, *airflow_classes):
    warnings.simplefilter("error", category)

failures = {}
for name in sys.argv[1:]:
    try:
        importlib.import_module(name)
    except Exception as error:
        failures[name] = f"{type(error).__name__}: {error}"
print(json.dumps({"failures": failures, "airflow_classes": [c.__name__ for c in airflow_classes]}))
"""


def public_modules() -> list[str]:
    """Every module of the package, example DAGs and the simulator included (users import them)."""
    names = [airflow_provider_okx.__name__]
    for info in pkgutil.walk_packages(airflow_provider_okx.__path__, prefix="airflow_provider_okx."):
        if info.name.endswith("__main__"):
            continue  # runs the simulator's CLI
        names.append(info.name)
    return names


def test_every_public_module_imports_with_deprecations_as_errors(tmp_path):
    modules = public_modules()
    assert "airflow_provider_okx.operators.report" in modules
    assert "airflow_provider_okx.example_dags.okx_treasury_report" in modules
    out = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning", "-c", SCRIPT, *modules],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["failures"] == {}
    # Airflow's own classes were really turned into errors on this version.
    assert "AirflowProviderDeprecationWarning" in result["airflow_classes"]
    if AIRFLOW_V_3_3_PLUS:
        assert "DeprecatedImportWarning" in result["airflow_classes"]


def test_execute_methods_are_typed_with_the_context_airflow_gives():
    import typing

    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk import Context
    else:
        from airflow.utils.context import Context

    from airflow_provider_okx.operators.balances import OkxTokenBalancesOperator
    from airflow_provider_okx.operators.report import OkxTreasuryReportOperator
    from airflow_provider_okx.sensors.balance import OkxBalanceSensor
    from airflow_provider_okx.transfers.okx_to_sql import OkxBalancesToSqlOperator

    methods = [
        OkxTokenBalancesOperator.execute,
        OkxTreasuryReportOperator.execute,
        OkxBalancesToSqlOperator.execute,
        OkxBalanceSensor.execute,
        OkxBalanceSensor.poke,
        OkxBalanceSensor.execute_complete,
    ]
    for method in methods:
        assert typing.get_type_hints(method)["context"] is Context, method.__qualname__
