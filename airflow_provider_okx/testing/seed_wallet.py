"""The seed wallet: OKX's documented v5 example, served exactly.

The seed wallet (:data:`SEED_ADDRESS`) on chain 1 holds exactly the 31 tokens of OKX's
documented example (``seed_example.json``); those 31 prices are the prices of those tokens on
chain 1 in every wallet.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from airflow_provider_okx.testing.assets import Asset, token_key

SEED_ADDRESS = "0xEd0C6079229E2d407672a117c22b62064f4a4312"
"""The wallet of OKX's documented example: on chain 1 it returns the example's 31 tokens."""

SEED_CHAIN = "1"

_SEED_FILE = Path(__file__).with_name("seed_example.json")


@functools.lru_cache(maxsize=1)
def seed_example() -> dict[str, Any]:
    """The documented example request and response (``seed_example.json``), parsed."""
    with _SEED_FILE.open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


@functools.lru_cache(maxsize=1)
def seed_assets() -> tuple[Asset, ...]:
    """The seed wallet's 31 tokens on chain 1, exactly as the example documents them."""
    assets = []
    for item in seed_example()["response"]["data"][0]["tokenAssets"]:
        assets.append(
            Asset(
                chain_index=item["chainIndex"],
                token_address=item["tokenAddress"],
                symbol=item["symbol"],
                balance=item["balance"],
                token_price=item["tokenPrice"],
                address=item["address"],
                is_risk_token=item["isRiskToken"],
                token_type=item["tokenType"],
                transfer_amount=item["transferAmount"],
                available_amount=item["availableAmount"],
                raw_balance=item["rawBalance"],
            )
        )
    return tuple(assets)


@functools.lru_cache(maxsize=1)
def seed_prices() -> dict[str, str]:
    """Token key -> price on chain 1, from the seed example (these define those tokens' prices)."""
    return {token_key(a.token_address): a.token_price for a in seed_assets()}
