"""Deterministic wallet data, gathered under one name.

The pieces live in modules named for what they hold: :mod:`.assets` (a holding and how
addresses are compared), :mod:`.seed_wallet` (OKX's documented example), :mod:`.portfolios`
(every other wallet's generated tokens and the token prices) and :mod:`.wallet_book` (the
overrides tests set). This module re-exports their public names.
"""

from __future__ import annotations

from airflow_provider_okx.testing.assets import (
    EXACT,
    Asset,
    chain_family,
    display_address,
    plain,
    token_key,
    wallet_key,
)
from airflow_provider_okx.testing.portfolios import (
    RISK_FILTER_CHAINS,
    base_assets,
    defi_value,
    generated_assets,
    token_price,
)
from airflow_provider_okx.testing.seed_wallet import (
    SEED_ADDRESS,
    SEED_CHAIN,
    seed_assets,
    seed_example,
    seed_prices,
)
from airflow_provider_okx.testing.wallet_book import WalletBook, chain_text, decimal_text

__all__ = [
    "EXACT",
    "RISK_FILTER_CHAINS",
    "SEED_ADDRESS",
    "SEED_CHAIN",
    "Asset",
    "WalletBook",
    "base_assets",
    "chain_family",
    "chain_text",
    "decimal_text",
    "defi_value",
    "display_address",
    "generated_assets",
    "plain",
    "seed_assets",
    "seed_example",
    "seed_prices",
    "token_key",
    "token_price",
    "wallet_key",
]
