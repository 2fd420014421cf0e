"""A token holding as the simulator keeps it, and how addresses and amounts are compared.

:class:`Asset` is one token a wallet holds, in OKX's words, with the v5 and v6 objects the
balance routes return. The key functions say how wallets (lower-cased address) and token
addresses (hex case-insensitively) are matched; :data:`EXACT` is the arithmetic on money.
"""

from __future__ import annotations

import decimal
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from airflow_provider_okx.core.chains import EVM, address_families, chain_info

EXACT = decimal.Context(prec=200, traps=[decimal.Inexact, decimal.InvalidOperation, decimal.Overflow])
"""Arithmetic on money: wide enough never to round, and it raises rather than round."""


def plain(value: Decimal) -> str:
    """An exact decimal as a plain string: no exponent, no trailing fractional zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("", "-0"):
        return "0"
    return text


def chain_family(chain: str) -> str:
    """The address family of a chain; chains missing from the registry are treated as EVM."""
    info = chain_info(chain)
    return info.family if info is not None else EVM


def wallet_key(address: str) -> str:
    """How wallets are matched: the address lower-cased."""
    return address.lower()


def display_address(address: str) -> str:
    """The ``address`` field OKX returns: lower case for EVM addresses, as given otherwise."""
    return address.lower() if EVM in address_families(address) else address


def token_key(token_address: str) -> str:
    """How token addresses are matched: hex addresses case-insensitively, others exactly."""
    return token_address.lower() if token_address.startswith("0x") else token_address


@dataclass(frozen=True)
class Asset:
    """One token holding, in OKX's words. Amounts and prices are exact decimal strings."""

    chain_index: str
    token_address: str
    symbol: str
    balance: str
    token_price: str
    address: str
    is_risk_token: bool = False
    token_type: str = "1"
    transfer_amount: str = "0"
    available_amount: str = "0"
    raw_balance: str = ""
    decimals: int | None = None

    def usd_value(self) -> Decimal:
        """``balance x tokenPrice``, exact."""
        return EXACT.multiply(Decimal(self.balance), Decimal(self.token_price))

    def v5(self) -> dict[str, Any]:
        """The v5 wallet API's token object (field order as OKX documents it)."""
        return {
            "chainIndex": self.chain_index,
            "tokenAddress": self.token_address,
            "symbol": self.symbol,
            "balance": self.balance,
            "tokenPrice": self.token_price,
            "tokenType": self.token_type,
            "isRiskToken": self.is_risk_token,
            "transferAmount": self.transfer_amount,
            "availableAmount": self.available_amount,
            "rawBalance": self.raw_balance,
            "address": self.address,
        }

    def v6(self) -> dict[str, Any]:
        """The v6 DEX balance API's token object (no inscription fields)."""
        return {
            "chainIndex": self.chain_index,
            "tokenContractAddress": self.token_address,
            "address": self.address,
            "symbol": self.symbol,
            "balance": self.balance,
            "rawBalance": self.raw_balance,
            "tokenPrice": self.token_price,
            "isRiskToken": self.is_risk_token,
        }

    def with_balance(self, balance: str, price: str | None = None, symbol: str | None = None) -> Asset:
        """This asset with another balance (and optionally price and symbol)."""
        raw = ""
        if self.raw_balance and self.decimals is not None:
            scaled = Decimal(balance).scaleb(self.decimals, EXACT)
            if scaled == scaled.to_integral_value():
                raw = str(int(scaled))
        return replace(
            self,
            balance=balance,
            token_price=self.token_price if price is None else price,
            symbol=self.symbol if symbol is None else symbol,
            raw_balance=raw,
            # An inscription's balance becomes all available; other tokens keep OKX's "0"s.
            transfer_amount="0" if self.token_type == "2" else self.transfer_amount,
            available_amount=balance if self.token_type == "2" else self.available_amount,
        )
