"""Test overrides: balances and prices that tests set on top of the deterministic wallets."""

from __future__ import annotations

import decimal
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal

from airflow_provider_okx.testing.assets import EXACT, Asset, display_address, plain, token_key, wallet_key
from airflow_provider_okx.testing.ledger import Ledger, LedgerEntry
from airflow_provider_okx.testing.portfolios import (
    LARGE_PORTFOLIO_LIMIT,
    base_assets,
    known_token,
    large_assets,
    large_catalogue,
)


@dataclass
class _Override:
    token_address: str
    balances: Sequence[str]
    symbol: str | None
    sequence: bool


def decimal_text(value: object, what: str) -> str:
    """``value`` as an exact decimal string; floats, bools and non-finite numbers are refused."""
    if isinstance(value, bool) or not isinstance(value, (str, int, Decimal)):
        raise TypeError(f"{what} must be a decimal string, an int or a Decimal, not {type(value).__name__}")
    try:
        parsed = Decimal(str(value).strip())
    except decimal.InvalidOperation:
        raise ValueError(f"{what} {value!r} is not a decimal number") from None
    if not parsed.is_finite():
        raise ValueError(f"{what} {value!r} is not a finite number")
    return str(value).strip()


def chain_text(chain_index: object) -> str:
    """A chain index as OKX writes it (``"1"``); anything else is refused."""
    chain = str(chain_index).strip()
    if isinstance(chain_index, bool) or not (chain.isascii() and chain.isdigit()):
        raise ValueError(f"chain_index {chain_index!r} is not a chain index")
    return str(int(chain))


class WalletBook:
    """Balances and prices set by tests on top of the deterministic portfolios. Thread-safe.

    A balance override belongs to one wallet; a price override to a token (``(chain, token
    address)``) and so to every wallet holding it. A balance sequence advances once per balance
    request that reads its wallet and chain: the k-th such request (counting from when the
    sequence was set) sees ``balances[min(k, n-1)]``.

    The :attr:`ledger`'s movements up to its "now" are added to these holdings (which are
    then the opening balances of the tokens the ledger moves): see :mod:`.ledger`.
    """

    def __init__(self) -> None:
        self.ledger = Ledger()
        self._lock = threading.Lock()
        self._adding = threading.Lock()  # a ledger check and its addition, as one step
        self._overrides: dict[tuple[str, str], dict[str, _Override]] = {}
        self._reads: dict[tuple[str, str], int] = {}
        self._prices: dict[tuple[str, str], str] = {}
        self._price_chains: set[str] = set()
        self._portfolios: dict[str, dict[str, int]] = {}

    def set_portfolio(self, address: str, chains: Iterable[str | int], tokens: int) -> dict[str, int]:
        """Give the wallet a generated portfolio of ``tokens`` tokens spread evenly over ``chains``
        (the native coin and tokens ``TK1``, ``TK2``... of each chain), in place of its usual
        handful (benchmarks: 10,000 tokens a wallet). Deterministic; overrides and the ledger
        apply on top as usual. ``tokens=0`` gives the usual portfolio back. Returns the count
        per chain."""
        chain_list = list(dict.fromkeys(chain_text(chain) for chain in chains))
        if (
            isinstance(tokens, bool)
            or not isinstance(tokens, int)
            or not 0 <= tokens <= LARGE_PORTFOLIO_LIMIT
        ):
            raise ValueError(f"tokens must be an integer from 0 to {LARGE_PORTFOLIO_LIMIT}")
        if tokens and not chain_list:
            raise ValueError("chains: at least one chain")
        share, extra = divmod(tokens, max(len(chain_list), 1))
        counts = {chain: share + (k < extra) for k, chain in enumerate(chain_list)} if tokens else {}
        counts = {chain: n for chain, n in counts.items() if n}
        for chain in counts:
            large_catalogue(chain, counts[chain])  # the token universe, built once, before serving
        with self._lock:
            if counts:
                self._portfolios[wallet_key(address)] = counts
            else:
                self._portfolios.pop(wallet_key(address), None)
        return counts

    def portfolio(self, address: str, chain: str) -> int:
        """Tokens of the wallet's generated large portfolio on ``chain`` (0: none set)."""
        with self._lock:
            return self._portfolios.get(wallet_key(address), {}).get(chain, 0)

    def set_price(self, chain_index: str | int, token_address: str, price: str | int | Decimal) -> None:
        """The price of one token for every wallet (``"0"``: OKX has no price for it)."""
        chain = chain_text(chain_index)
        text = decimal_text(price, "price")
        with self._lock:
            self._prices[(chain, token_key(token_address))] = text
            self._price_chains.add(chain)

    def set_balance(
        self,
        address: str,
        chain_index: str | int,
        token_address: str,
        balance: str | int | Decimal,
        *,
        price: str | int | Decimal | None = None,
        symbol: str | None = None,
    ) -> None:
        text = decimal_text(balance, "balance")
        if price is not None:
            decimal_text(price, "price")  # refuse a bad price before changing anything
        self._put(address, chain_index, _Override(token_address, (text,), symbol, False))
        if price is not None:
            self.set_price(chain_index, token_address, price)

    def set_sequence(
        self,
        address: str,
        chain_index: str | int,
        token_address: str,
        balances: Iterable[str | int | Decimal],
        *,
        price: str | int | Decimal | None = None,
        symbol: str = "TKN",
    ) -> None:
        texts = tuple(decimal_text(b, "balance") for b in balances)
        if not texts:
            raise ValueError("balances must hold at least one balance")
        if price is not None:
            decimal_text(price, "price")
        self._put(address, chain_index, _Override(token_address, texts, symbol, True))
        with self._lock:
            self._reads[(wallet_key(address), chain_text(chain_index))] = 0
        if price is not None:
            self.set_price(chain_index, token_address, price)

    def _put(self, address: str, chain_index: str | int, override: _Override) -> None:
        chain = chain_text(chain_index)
        with self._lock:
            slot = self._overrides.setdefault((wallet_key(address), chain), {})
            slot[token_key(override.token_address)] = override

    def clear(self) -> None:
        """Drop every balance and price override, and every large portfolio."""
        with self._lock:
            self._portfolios.clear()
            self._overrides.clear()
            self._reads.clear()
            self._prices.clear()
            self._price_chains.clear()

    def clear_portfolios(self) -> None:
        """Drop every large portfolio (balance and price overrides stay)."""
        with self._lock:
            self._portfolios.clear()

    def clear_prices(self) -> None:
        """Drop every price override (balance overrides stay)."""
        with self._lock:
            self._prices.clear()
            self._price_chains.clear()

    def touches(self, address: str, chains: Iterable[str]) -> bool:
        """Whether any override or ledger entry applies to ``address`` on one of ``chains``."""
        chains = list(chains)
        key = wallet_key(address)
        with self._lock:
            overridden = any(
                (key, chain) in self._overrides or chain in self._price_chains for chain in chains
            )
        return overridden or self.ledger.touches(address, chains)

    def price(self, chain: str, token_address: str) -> str | None:
        """A token's price as every wallet shows it: the override, else the generated one;
        ``None`` for a token neither knows."""
        with self._lock:
            override = self._prices.get((chain, token_key(token_address)))
        if override is not None:
            return override
        known = known_token(chain, token_address)
        return None if known is None else known[1]

    def assets(self, address: str, chain: str) -> list[Asset]:
        """The wallet's holdings on ``chain`` with overrides and the ledger up to its "now"
        applied; one read of any sequence."""
        opening = self._opening(address, chain, advance=True)
        entries = self.ledger.entries(address, chain)
        if entries:
            opening = self._apply(address, chain, opening, Ledger.movements(entries, self.ledger.now_ms()))
        return self._priced(chain, opening)

    def add_transaction(self, address: str, chain_index: str | int, **fields: object) -> LedgerEntry:
        """Add one record to the wallet's ledger (see :meth:`.ledger.Ledger.build` for the
        fields). Refused, naming the field, when it would take a balance below zero at any
        time, or gives one transaction two fees."""
        with self._adding:
            return self._add_transaction(address, chain_index, fields)

    def _add_transaction(
        self, address: str, chain_index: str | int, fields: dict[str, object]
    ) -> LedgerEntry:
        chain = chain_text(chain_index)
        opening = self._opening(str(address).strip(), chain, advance=False)
        if fields.get("symbol") is None and isinstance(fields.get("token_address"), str):
            token = token_key(str(fields["token_address"]).strip())
            same = [a.symbol for a in opening if token_key(a.token_address) == token]
            known = known_token(chain, token)
            fields["symbol"] = same[0] if same else known[0] if known else "TKN"
        entry = self.ledger.build(address, chain, **fields)  # type: ignore[arg-type]
        self.ledger.check_fee(entry)
        if not entry.can_lower_a_balance:  # an inflow only raises running balances
            self.ledger.add(entry)
            return entry
        held = {token_key(a.token_address): Decimal(a.balance) for a in opening}
        earlier = self.ledger.entries(entry.address, chain)
        for key, (lowest, when) in self.ledger.lowest_balances([*earlier, entry], held).items():
            if lowest < 0 and key in (token_key(entry.token_address), ""):
                feeless = self.ledger.lowest_balances([*earlier, replace(entry, fee=Decimal(0))], held)
                field = "fee" if feeless.get(key, (Decimal(0), 0))[0] >= 0 else "amount"
                what = "the native coin" if key == "" else f"token {entry.token_address}"
                raise ValueError(
                    f"{field}: the wallet's balance of {what} on chain {chain} would be "
                    f"{plain(lowest)} after the record at {when} ms (the ledger never goes below zero)"
                )
        self.ledger.add(entry)
        return entry

    def add_transactions(
        self, address: str, chain_index: str | int, records: Iterable[Mapping[str, object]]
    ) -> list[LedgerEntry]:
        """:meth:`add_transaction` for many records at once, checked together (all or none):
        one pass over the wallet's ledger instead of one per record."""
        with self._adding:
            return self._add_transactions(address, chain_index, records)

    def _add_transactions(
        self, address: str, chain_index: str | int, records: Iterable[Mapping[str, object]]
    ) -> list[LedgerEntry]:
        chain = chain_text(chain_index)
        opening = self._opening(str(address).strip(), chain, advance=False)
        symbols = {token_key(a.token_address): a.symbol for a in opening}
        entries = []
        for i, record in enumerate(records):
            fields = dict(record)
            token = fields.get("token_address")
            if fields.get("symbol") is None and isinstance(token, str):
                known = known_token(chain, token)
                fields["symbol"] = symbols.get(token_key(token.strip())) or (known[0] if known else "TKN")
            try:
                entries.append(self.ledger.build(address, chain, **fields))  # type: ignore[arg-type]
            except (TypeError, ValueError) as error:
                raise ValueError(f"records[{i}].{error}") from None
        fees: dict[str, Decimal] = {
            e.tx_hash: e.fee for e in self.ledger.entries(str(address).strip(), chain)
        }
        for i, entry in enumerate(entries):
            if fees.setdefault(entry.tx_hash, entry.fee) != entry.fee:
                raise ValueError(f"records[{i}].fee: differs from another record of {entry.tx_hash}")
        held = {token_key(a.token_address): Decimal(a.balance) for a in opening}
        every = [*self.ledger.entries(str(address).strip(), chain), *entries]
        for key, (lowest, when) in self.ledger.lowest_balances(every, held).items():
            if lowest < 0:
                raise ValueError(
                    f"records: the balance of token {key or '(native)'} on chain {chain} would be "
                    f"{plain(lowest)} at {when} ms (the ledger never goes below zero)"
                )
        for entry in entries:
            self.ledger.add(entry)
        return entries

    def opening(self, address: str, chain: str) -> list[Asset]:
        """The wallet's holdings before its ledger (overrides applied, no sequence advanced)."""
        return self._opening(address, chain, advance=False)

    def _opening(self, address: str, chain: str, *, advance: bool) -> list[Asset]:
        key = wallet_key(address)
        large = self.portfolio(address, chain)
        if large:
            base = large_assets(key, chain, display_address(address), large)
        else:
            base = list(base_assets(address, chain))
        with self._lock:
            overrides = list(self._overrides.get((key, chain), {}).values())
            step = self._reads.get((key, chain), 0)
            if advance and any(o.sequence for o in overrides):
                self._reads[(key, chain)] = step + 1
        if not overrides:
            return base
        index = {token_key(a.token_address): i for i, a in enumerate(base)}
        for override in overrides:
            balance = override.balances[min(step, len(override.balances) - 1)]
            where = index.get(token_key(override.token_address))
            if where is not None:
                base[where] = base[where].with_balance(balance, symbol=override.symbol)
            else:
                index[token_key(override.token_address)] = len(base)
                base.append(
                    Asset(
                        chain_index=chain,
                        token_address=override.token_address,
                        symbol=override.symbol or "TKN",
                        balance=balance,
                        token_price="1",
                        address=display_address(address),
                    )
                )
        return base

    def _apply(
        self, address: str, chain: str, assets: list[Asset], moved: dict[str, tuple[str, str, Decimal]]
    ) -> list[Asset]:
        index = {token_key(a.token_address): i for i, a in enumerate(assets)}
        for key, (token, symbol, delta) in moved.items():
            where = index.get(key)
            if where is not None:
                if delta:
                    held = assets[where]
                    assets[where] = held.with_balance(plain(EXACT.add(Decimal(held.balance), delta)))
                continue
            known = known_token(chain, token)
            assets.append(
                Asset(
                    chain_index=chain,
                    token_address=token,
                    symbol=symbol or (known[0] if known else "TKN"),
                    balance=plain(delta),
                    token_price=known[1] if known else "0",
                    address=display_address(address),
                )
            )
        return assets

    def _priced(self, chain: str, base: list[Asset]) -> list[Asset]:
        with self._lock:
            prices = (
                {token: price for (c, token), price in self._prices.items() if c == chain}
                if chain in self._price_chains
                else {}
            )
        if not prices:
            return base
        return [
            replace(asset, token_price=prices[token_key(asset.token_address)])
            if token_key(asset.token_address) in prices
            else asset
            for asset in base
        ]
