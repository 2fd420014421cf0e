"""An OKX Web3 balance API simulator: a real HTTP server on loopback.

    from airflow_provider_okx.testing import OkxSimulator, Fault, SEED_ADDRESS

    with OkxSimulator() as sim:
        sim.base_url            # http://127.0.0.1:<port>
        sim.connection_json()   # for AIRFLOW_CONN_OKX_DEFAULT
        sim.inject(Fault(status=503))

It checks signatures, timestamps and a per-key rate limit exactly as OKX does, serves the v5
and v6 balance routes with deterministic wallets (``SEED_ADDRESS`` on chain 1 returns OKX's
documented example) and injects faults. ``python -m airflow_provider_okx.testing`` serves it
from the command line; the ``okx_simulator`` pytest fixture starts one per test. Standard
library only.
"""

from __future__ import annotations

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

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_PASSPHRASE",
    "DEFAULT_PROJECT_ID",
    "DEFAULT_SECRET_KEY",
    "SEED_ADDRESS",
    "Fault",
    "OkxSimulator",
    "RecordedRequest",
]
