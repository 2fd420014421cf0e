"""Generated portfolios: what every well-formed address other than the seed wallet holds.

Each wallet's tokens derive from SHA-256 of ``(address lower-cased, chain)``: the same inputs
give the same tokens in every process and on every run. Prices are a property of the token, not
of the wallet: one ``(chain, token address)`` has one price in every wallet
(:func:`token_price`). A generated wallet holding ETH, WBTC or DAI on Ethereum holds the seed
example's contract at the example's price; every other token's price derives from SHA-256 of
``(chain, token address)``.
"""

from __future__ import annotations

import base64
import decimal
import functools
import hashlib
from decimal import Decimal

from airflow_provider_okx.core.chains import APTOS, BITCOIN, DOGECOIN, EVM, LITECOIN, SOLANA, SUI, TON, TRON
from airflow_provider_okx.testing.assets import (
    EXACT,
    Asset,
    chain_family,
    display_address,
    plain,
    token_key,
    wallet_key,
)
from airflow_provider_okx.testing.seed_wallet import SEED_ADDRESS, SEED_CHAIN, seed_assets, seed_prices

RISK_FILTER_CHAINS = frozenset({"1", "56", "501", "8453"})
"""The chains where OKX flags risk (honeypot) tokens; generated risk tokens live only here."""


@functools.lru_cache(maxsize=1)
def _seed_contracts() -> dict[str, str]:
    """Symbol -> contract on chain 1 for the example's tokens (generated wallets hold the same ones)."""
    return {a.symbol: a.token_address for a in seed_assets() if not a.is_risk_token}


class _Stream:
    """Deterministic integers from SHA-256 in counter mode (independent of :mod:`random`)."""

    def __init__(self, *parts: str) -> None:
        self._seed = "\x1f".join(("okx-sim-v1", *parts)).encode("utf-8")
        self._counter = 0

    def below(self, n: int) -> int:
        """An integer in ``[0, n)``."""
        if n <= 1:
            return 0
        need = (n.bit_length() + 64 + 7) // 8
        data = b""
        while len(data) < need:
            data += hashlib.sha256(self._seed + self._counter.to_bytes(8, "big")).digest()
            self._counter += 1
        return int.from_bytes(data[:need], "big") % n


_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _base58(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = ""
    while number:
        number, rest = divmod(number, 58)
        out = _B58[rest] + out
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + out


def _digest(*parts: str) -> bytes:
    return hashlib.sha256("\x1f".join(("okx-sim-token", *parts)).encode("utf-8")).digest()


def _token_address(family: str, chain: str, symbol: str) -> str:
    digest = _digest(chain, symbol)
    if family == SOLANA:
        return _base58(digest)
    if family == TRON:
        return "T" + _base58(digest + _digest(chain, symbol, "2"))[:33]
    if family == TON:
        return "EQ" + base64.urlsafe_b64encode(digest + _digest(chain, symbol, "2")).decode()[:46]
    if family in (SUI, APTOS):
        return f"0x{digest.hex()}::coin::{symbol.upper()}"
    return "0x" + digest.hex()[:40]


# chain -> native symbol, USD price, decimals. Chains not listed: EVM with ETH.
_NATIVE: dict[str, tuple[str, str, int]] = {
    "0": ("BTC", "98847.8", 8),
    "2": ("LTC", "102.37", 8),
    "3": ("DOGE", "0.3214", 8),
    "25": ("CRO", "0.1417", 18),
    "56": ("BNB", "612.41", 18),
    "66": ("OKT", "12.31", 18),
    "100": ("XDAI", "1.0001", 18),
    "137": ("POL", "0.4213", 18),
    "146": ("S", "0.6231", 18),
    "195": ("TRX", "0.2441", 6),
    "196": ("OKB", "48.92", 18),
    "204": ("BNB", "612.41", 18),
    "250": ("FTM", "0.7112", 18),
    "501": ("SOL", "187.21", 9),
    "607": ("TON", "5.412", 9),
    "637": ("APT", "9.121", 8),
    "784": ("SUI", "3.713", 9),
    "1088": ("METIS", "41.27", 18),
    "5000": ("MNT", "1.1204", 18),
    "43114": ("AVAX", "38.51", 18),
}
_DEFAULT_NATIVE = ("ETH", "3638.63", 18)

# symbol, USD price ("0": OKX has no price), decimals.
_TOKENS: dict[str, tuple[tuple[str, str, int], ...]] = {
    EVM: (
        ("USDC", "0.99991", 6),
        ("USDT", "1.0002", 6),
        ("DAI", "0.99987", 18),
        ("WETH", "3634.32", 18),
        ("WBTC", "98847.8", 8),
        ("LINK", "14.372", 18),
        ("UNI", "9.813", 18),
        ("AAVE", "187.41", 18),
        ("PEPE", "0.00001873", 18),
        ("SHIB", "0.00002131", 18),
        ("ARB", "0.7412", 18),
        ("LDO", "1.7231", 18),
        ("ENA", "0.9617", 18),
        ("MKR", "1543.2", 18),
        ("UNI-V2", "0", 18),
        ("veNFT-RWD", "0", 18),
    ),
    SOLANA: (
        ("USDC", "0.99991", 6),
        ("USDT", "1.0002", 6),
        ("JUP", "1.0412", 6),
        ("BONK", "0.00002613", 5),
        ("WIF", "2.4117", 6),
        ("RAY", "4.812", 6),
        ("mSOL", "215.4", 9),
        ("MEMEX", "0", 9),
    ),
    TRON: (
        ("USDT", "1.0002", 6),
        ("USDD", "0.9991", 18),
        ("BTT", "0.00000112", 18),
        ("JST", "0.0381", 18),
        ("WIN", "0", 6),
    ),
    TON: (("USDT", "1.0002", 6), ("NOT", "0.0071", 9), ("DOGS", "0.00071", 9), ("JETTON-X", "0", 9)),
    SUI: (("USDC", "0.99991", 6), ("CETUS", "0.2412", 9), ("DEEP", "0.2114", 6), ("SUIX", "0", 9)),
    APTOS: (("USDC", "0.99991", 6), ("THL", "0.4312", 8), ("CELL", "0", 8)),
}

# Bitcoin inscriptions (tokenType "2"): token address, symbol, price, decimals.
_INSCRIPTIONS: tuple[tuple[str, str, str, int], ...] = (
    ("btc-brc20-ordi", "ordi", "38.12", 18),
    ("btc-brc20-sats", "sats", "0.0000003121", 18),
    ("btc-runesMain-840000:3", "DOG•GO•TO•THE•MOON", "0.0062113", 5),
    ("btc-runesMain-840000:28", "RSIC•GENESIS•RUNE", "0.00091", 0),
    ("btc-src20-stamp", "STAMP", "0", 0),
    ("btc-brc20-rats", "rats", "0.000000112", 18),
)

# Risk (honeypot) tokens: symbol, a price a scammer would like you to believe.
_RISK_TOKENS: tuple[tuple[str, str], ...] = (
    ("USDT-CLAIM", "0.9999"),
    ("ETH-AIRDROP", "0"),
    ("visit-rewards-claim.com", "0"),
    ("SAFEMOON2", "0.0000000421"),
    ("FREE-GAS", "12.4"),
)


def _amount(raw: int, decimals: int) -> str:
    return plain(Decimal(raw).scaleb(-decimals, EXACT))


def _raw_amount(stream: _Stream, decimals: int) -> int:
    """A balance in the token's smallest unit: mostly ordinary, sometimes dust or a whale's."""
    mode = stream.below(12)
    if mode == 0:  # dust: 1 to 999 base units (1 wei = 0.000000000000000001)
        return 1 + stream.below(999)
    if mode == 11:  # a whale: ten thousand to a hundred thousand tokens
        return 10 ** (decimals + 4) + stream.below(10 ** (decimals + 5))
    return 1 + stream.below(10 ** (decimals + stream.below(6)))


def _price(stream: _Stream, base: str) -> str:
    """``base`` moved by up to 1%, with 4 to 18 significant digits (``"0"`` stays unpriced)."""
    value = Decimal(base)
    if not value:
        return "0"
    factor = Decimal(1_000_000 + stream.below(20_001) - 10_000).scaleb(-6)
    moved = EXACT.multiply(value, factor)
    digits = 4 + stream.below(15)
    quantum = Decimal(1).scaleb(moved.adjusted() - digits + 1)
    return plain(moved.quantize(quantum, rounding=decimal.ROUND_DOWN, context=decimal.Context(prec=200)))


@functools.lru_cache(maxsize=65536)
def token_price(chain: str, token_address: str, base: str) -> str:
    """The generated price of a token: a function of ``(chain, token address)`` only.

    The seed example's tokens on chain 1 keep the example's price; any other token gets
    ``base`` moved by up to 1% by a stream seeded with the chain and the token's key, so every
    wallet holding it sees the same price.
    """
    key = token_key(token_address)
    if chain == SEED_CHAIN:
        documented = seed_prices().get(key)
        if documented is not None:
            return documented
    return _price(_Stream("price", chain, key), base)


def _has_raw_balance(chain: str) -> bool:
    """Whether OKX reports ``rawBalance`` on this chain (deterministic: index not divisible by 3)."""
    return int(chain) % 3 != 0 if chain.isdigit() else False


@functools.lru_cache(maxsize=16384)
def generated_assets(key: str, chain: str, address: str) -> tuple[Asset, ...]:
    """The deterministic portfolio of wallet ``key`` (lower-cased address) on ``chain``.

    ``address`` is what goes into each asset's ``address`` field. Sorted by USD value,
    largest first, as OKX lists them.
    """
    stream = _Stream(key, chain)
    family = chain_family(chain)
    with_raw = _has_raw_balance(chain)
    assets: list[Asset] = []

    symbol, base_price, decimals = _NATIVE.get(chain, _DEFAULT_NATIVE)
    raw = _raw_amount(stream, decimals)
    assets.append(
        Asset(
            chain_index=chain,
            token_address="",
            symbol=symbol,
            balance=_amount(raw, decimals),
            token_price=token_price(chain, "", base_price),
            address=address,
            raw_balance=str(raw) if with_raw else "",
            decimals=decimals,
        )
    )

    if family == BITCOIN:
        pool = list(_INSCRIPTIONS)
        for _ in range(stream.below(5)):
            token, symbol, base_price, decimals = pool.pop(stream.below(len(pool)))
            raw = _raw_amount(stream, decimals)
            transferable = stream.below(raw + 1) if stream.below(2) else 0
            assets.append(
                Asset(
                    chain_index=chain,
                    token_address=token,
                    symbol=symbol,
                    balance=_amount(raw, decimals),
                    token_price=token_price(chain, token, base_price),
                    address=address,
                    token_type="2",
                    transfer_amount=_amount(transferable, decimals),
                    available_amount=_amount(raw - transferable, decimals),
                    decimals=decimals,
                )
            )
    elif family not in (LITECOIN, DOGECOIN):
        tokens = list(_TOKENS.get(family, _TOKENS[EVM]))
        for _ in range(min(stream.below(7), len(tokens))):
            symbol, base_price, decimals = tokens.pop(stream.below(len(tokens)))
            raw = _raw_amount(stream, decimals)
            contract = _token_address(family, chain, symbol)
            if chain == SEED_CHAIN:
                contract = _seed_contracts().get(symbol, contract)
            assets.append(
                Asset(
                    chain_index=chain,
                    token_address=contract,
                    symbol=symbol,
                    balance=_amount(raw, decimals),
                    token_price=token_price(chain, contract, base_price),
                    address=address,
                    raw_balance=str(raw) if with_raw else "",
                    decimals=decimals,
                )
            )

    if chain in RISK_FILTER_CHAINS:
        risky = list(_RISK_TOKENS)
        decimals = 9 if family == SOLANA else 18
        for _ in range(1 + stream.below(2)):
            symbol, base_price = risky.pop(stream.below(len(risky)))
            raw = _raw_amount(stream, decimals)
            contract = _token_address(family, chain, symbol)
            assets.append(
                Asset(
                    chain_index=chain,
                    token_address=contract,
                    symbol=symbol,
                    balance=_amount(raw, decimals),
                    token_price=token_price(chain, contract, base_price),
                    address=address,
                    is_risk_token=True,
                    raw_balance=str(raw) if with_raw else "",
                    decimals=decimals,
                )
            )

    assets.sort(key=Asset.usd_value, reverse=True)
    return tuple(assets)


@functools.lru_cache(maxsize=16384)
def defi_value(key: str, chain: str) -> Decimal:
    """The wallet's deterministic DeFi position value on ``chain`` in USD (0 for the seed wallet)."""
    if key == wallet_key(SEED_ADDRESS):
        return Decimal(0)
    stream = _Stream("defi", key, chain)
    if stream.below(3) == 0:
        return Decimal(0)
    return Decimal(1 + stream.below(10**10)).scaleb(-(2 + stream.below(7)))


def base_assets(address: str, chain: str) -> tuple[Asset, ...]:
    """What the wallet holds on ``chain`` before any test override."""
    key = wallet_key(address)
    if key == wallet_key(SEED_ADDRESS) and chain == SEED_CHAIN:
        return seed_assets()
    return generated_assets(key, chain, display_address(address))


@functools.lru_cache(maxsize=1024)
def _catalogue(chain: str) -> dict[str, tuple[str, str]]:
    """Token key -> (symbol, price) of every token a generated wallet may hold on ``chain``."""
    family = chain_family(chain)
    out: dict[str, tuple[str, str]] = {}
    symbol, base_price, _ = _NATIVE.get(chain, _DEFAULT_NATIVE)
    out[""] = (symbol, token_price(chain, "", base_price))
    if family == BITCOIN:
        for token, symbol, base_price, _ in _INSCRIPTIONS:
            out[token_key(token)] = (symbol, token_price(chain, token, base_price))
    elif family not in (LITECOIN, DOGECOIN):
        for symbol, base_price, _ in _TOKENS.get(family, _TOKENS[EVM]):
            contract = _token_address(family, chain, symbol)
            if chain == SEED_CHAIN:
                contract = _seed_contracts().get(symbol, contract)
            out[token_key(contract)] = (symbol, token_price(chain, contract, base_price))
    if chain in RISK_FILTER_CHAINS:
        for symbol, base_price in _RISK_TOKENS:
            contract = _token_address(family, chain, symbol)
            out[token_key(contract)] = (symbol, token_price(chain, contract, base_price))
    if chain == SEED_CHAIN:
        for asset in seed_assets():
            out.setdefault(token_key(asset.token_address), (asset.symbol, asset.token_price))
    return out


def known_token(chain: str, token_address: str) -> tuple[str, str] | None:
    """``(symbol, price)`` of a token the generated wallets know on ``chain`` (the price every
    wallet holding it shows; ``"0"``: unpriced), ``None`` for any other token."""
    return _catalogue(chain).get(token_key(token_address))


# --- large portfolios (benchmarks): thousands of tokens per wallet ----------------------------

LARGE_PORTFOLIO_LIMIT = 100_000
"""The most tokens one wallet may be given by :meth:`WalletBook.set_portfolio`."""


def _decimal_text(raw: int, decimals: int) -> str:
    """``plain(raw x 10^-decimals)`` by string arithmetic (the same text, faster)."""
    if not decimals:
        return str(raw)
    digits = str(raw).rjust(decimals + 1, "0")
    whole, fraction = digits[:-decimals], digits[-decimals:].rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


@functools.lru_cache(maxsize=256)
def large_catalogue(chain: str, count: int) -> tuple[tuple[str, str, str, int], ...]:
    """The first ``count`` tokens of ``chain``'s large-portfolio universe: ``(token address,
    symbol, price, decimals)``; token 0 is the native coin. Shared by every wallet (so one
    token has one price everywhere); each token's address and price derive from SHA-256."""
    family = chain_family(chain)
    symbol, base_price, decimals = _NATIVE.get(chain, _DEFAULT_NATIVE)
    out = [("", symbol, token_price(chain, "", base_price), decimals)]
    for i in range(1, count):
        symbol = f"TK{i}"
        contract = _token_address(family, chain, symbol)
        stream = _Stream("large", chain, symbol)
        decimals = (6, 8, 9, 18, 18, 18)[stream.below(6)]
        base = (
            "0" if stream.below(20) == 0 else plain(Decimal(1 + stream.below(10**6)).scaleb(-stream.below(9)))
        )
        out.append((contract, symbol, _price(_Stream("price", chain, token_key(contract)), base), decimals))
    return tuple(out)


def large_assets(key: str, chain: str, address: str, count: int) -> list[Asset]:
    """A deterministic portfolio of ``count`` tokens of wallet ``key`` on ``chain`` (the native
    coin first, then tokens ``TK1``, ``TK2``...), for benchmarks: a function of ``(key, chain,
    count)`` only. About 3 us a token; not cached (a caller caches what it serves)."""
    import random

    seed = int.from_bytes(hashlib.sha256(f"okx-sim-large\x1f{key}\x1f{chain}".encode()).digest()[:16], "big")
    bits = random.Random(seed).getrandbits
    with_raw = _has_raw_balance(chain)
    assets = []
    for token, symbol, price, decimals in large_catalogue(chain, count):
        raw = 1 + bits(72) % 10 ** (decimals + bits(3) % 6)
        assets.append(
            Asset(
                chain_index=chain,
                token_address=token,
                symbol=symbol,
                balance=_decimal_text(raw, decimals),
                token_price=price,
                address=address,
                raw_balance=str(raw) if with_raw else "",
                decimals=decimals,
            )
        )
    return assets
