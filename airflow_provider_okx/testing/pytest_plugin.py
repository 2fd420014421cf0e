"""pytest fixtures for the OKX simulator (registered through the ``pytest11`` entry point).

- ``okx_simulator``: a started :class:`OkxSimulator` for one test, stopped afterwards.
- ``okx_simulator_connection``: the same, with ``AIRFLOW_CONN_OKX_DEFAULT`` pointing at it
  (client-side rate limit high enough not to slow tests down).

pytest loads this plugin in every test session of every project that has the provider
installed, so loading it costs nothing: it imports neither Airflow nor the simulator (that
happens when a test asks for a fixture) and starts nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from airflow_provider_okx.testing.simulator import OkxSimulator


@pytest.fixture
def okx_simulator() -> Iterator[OkxSimulator]:
    """A running OKX simulator on a free loopback port."""
    from airflow_provider_okx.testing.simulator import OkxSimulator

    sim = OkxSimulator()
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def okx_simulator_connection(okx_simulator: OkxSimulator, monkeypatch: pytest.MonkeyPatch) -> OkxSimulator:
    """The ``okx_simulator`` with ``AIRFLOW_CONN_OKX_DEFAULT`` set to a connection to it."""
    from airflow_provider_okx.testing.simulator import UNLIMITED_CLIENT_RPS

    monkeypatch.setenv(
        "AIRFLOW_CONN_OKX_DEFAULT", okx_simulator.connection_json(rate_limit_rps=UNLIMITED_CLIENT_RPS)
    )
    return okx_simulator
