"""Event-driven (Airflow 3): run when a deposit makes a wallet cross a threshold.

An ``AssetWatcher`` runs :class:`OkxBalanceEventTrigger` in the triggerer: it polls OKX and
fires once each time the wallet's USDT balance rises to the threshold or above (not on every
poll while it stays there). Each event updates the ``okx_usdt_deposit`` asset, which schedules
this DAG; the event's ``extra["payload"]`` holds the observed value (an exact decimal string),
when it was observed and the previous observation, so the run knows what it reacts to.

The wallet, threshold and poll interval come from the environment when set
(``OKX_DEPOSIT_ADDRESS``, ``OKX_DEPOSIT_THRESHOLD``, ``OKX_DEPOSIT_POLL_INTERVAL``): a watcher
starts with the DAG file, before any run exists, so it cannot be templated from params.

Airflow 2 has no AssetWatcher: there this file defines no DAG (use ``okx_balance_threshold``,
the deferrable sensor). Parsing it makes no network call and needs no connection.
"""

from __future__ import annotations

import os
from decimal import Decimal

import pendulum

try:  # Airflow 3
    from airflow.sdk import DAG, Asset, AssetWatcher, get_current_context, task
except ImportError:  # Airflow 2.10 / 2.11: no AssetWatcher, no DAG in this file
    AssetWatcher = None  # type: ignore[assignment,misc]

USDT_ETHEREUM = "0xdac17f958d2ee523a2206206994597c13d831ec7"

if AssetWatcher is not None:
    from airflow_provider_okx.triggers.balance_event import OkxBalanceEventTrigger

    deposit_watcher = OkxBalanceEventTrigger(
        address=os.environ.get("OKX_DEPOSIT_ADDRESS", "0x28c6c06298d514db089934071355e5743bf21d60"),
        chain="ethereum",
        token_address=USDT_ETHEREUM,
        metric="balance",
        condition=">=",
        threshold=os.environ.get("OKX_DEPOSIT_THRESHOLD", "250000"),
        poll_interval=float(os.environ.get("OKX_DEPOSIT_POLL_INTERVAL", "60")),
    )
    usdt_deposit = Asset(
        "okx_usdt_deposit",
        watchers=[AssetWatcher(name="okx_usdt_deposit_watcher", trigger=deposit_watcher)],
    )

    with DAG(
        dag_id="okx_deposit_event",
        description="Run once per USDT deposit crossing a threshold (AssetWatcher)",
        schedule=[usdt_deposit],
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["okx", "event"],
    ) as dag:

        @task
        def on_deposit() -> list[dict]:
            """One run per crossing; each event carries what the trigger observed."""
            events = get_current_context()["triggering_asset_events"]
            seen = []
            for event in events.get(usdt_deposit, []):
                payload = event.extra["payload"]
                value = Decimal(payload["value"])
                print(
                    f"Deposit crossing ({payload['crossing']}): {value} USDT >= {payload['threshold']} "
                    f"at {payload['observed_at']} in {payload['address']}"
                )
                seen.append(payload)
            return seen

        on_deposit()
