"""An OKX Web3 balance API simulator: a real HTTP server on loopback.

    from airflow_provider_okx.testing import OkxSimulator, Fault, SEED_ADDRESS

    with OkxSimulator() as sim:
        sim.base_url            # http://127.0.0.1:<port>
        sim.connection_json()   # for AIRFLOW_CONN_OKX_DEFAULT
        sim.inject(Fault(status=503))

It checks signatures, timestamps and a per-key rate limit exactly as OKX does, serves the v5
and v6 balance routes with deterministic wallets (``SEED_ADDRESS`` on chain 1 returns OKX's
documented example) and injects faults. ``python -m airflow_provider_okx.testing`` serves it
from the command line, with an admin API (``/_admin/``) and a CLI to steer it from another
process (``python -m airflow_provider_okx.testing admin ...``); the ``okx_simulator`` pytest
fixture starts one per test. Standard library only.

The names below are imported on first use, so importing this package (as the pytest plugin
does in every test session) loads nothing.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_okx.testing.admin_client import AdminClient
    from airflow_provider_okx.testing.faults import Fault
    from airflow_provider_okx.testing.simulator import (
        DEFAULT_API_KEY,
        DEFAULT_PASSPHRASE,
        DEFAULT_PROJECT_ID,
        DEFAULT_SECRET_KEY,
        OkxSimulator,
        RecordedRequest,
    )
    from airflow_provider_okx.testing.wallets import SEED_ADDRESS

_WHERE = {
    "AdminClient": "admin_client",
    "DEFAULT_API_KEY": "simulator",
    "DEFAULT_PASSPHRASE": "simulator",
    "DEFAULT_PROJECT_ID": "simulator",
    "DEFAULT_SECRET_KEY": "simulator",
    "Fault": "faults",
    "OkxSimulator": "simulator",
    "RecordedRequest": "simulator",
    "SEED_ADDRESS": "wallets",
}

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_PASSPHRASE",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_SECRET_KEY",
    "SEED_ADDRESS",
    "AdminClient",
    "Fault",
    "OkxSimulator",
    "RecordedRequest",
]


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
