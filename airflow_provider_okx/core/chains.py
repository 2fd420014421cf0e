"""Chain registry: OKX ``chainIndex`` values, names, address families, and chunking.

Pure data and functions: no Airflow, no HTTP. OKX's supported-chains endpoint is the
authority; this registry only lets users write ``"ethereum,base"`` instead of ``"1,8453"``
and lets us refuse a request OKX would reject (an EVM address sent to Solana) before it is
sent. A numeric chain index that is not listed here is passed through unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from airflow_provider_okx.core.addresses import (
    APTOS,
    BITCOIN,
    DOGECOIN,
    EVM,
    LITECOIN,
    MAX_ADDRESS_LENGTH,
    SOLANA,
    SUI,
    TON,
    TRON,
    address_families,
    address_key,
    read_address,
)
from airflow_provider_okx.core.api.errors import OkxInvalidInputError

__all__ = [
    "APTOS",
    "BITCOIN",
    "DOGECOIN",
    "EVM",
    "LITECOIN",
    "MAX_ADDRESS_LENGTH",
    "MAX_CHAINS_PER_REQUEST",
    "SOLANA",
    "SUI",
    "TON",
    "TRON",
    "ChainInfo",
    "address_families",
    "address_key",
    "chain_info",
    "chain_name",
    "check_family",
    "chunked",
    "compatible_chains",
    "known_chains",
    "normalize_chains",
    "shown",
    "validate_address",
]

MAX_CHAINS_PER_REQUEST = 50
"""OKX accepts at most 50 chain indices in one ``chains`` parameter."""


@dataclass(frozen=True)
class ChainInfo:
    """A chain we know by name: its OKX index, display name, aliases and address family."""

    index: str
    name: str
    family: str
    aliases: tuple[str, ...] = ()


# Index, display name, family, aliases. EVM chains use their EIP-155 id.
_KNOWN: tuple[ChainInfo, ...] = (
    ChainInfo("0", "Bitcoin", BITCOIN, ("btc",)),
    ChainInfo("1", "Ethereum", EVM, ("eth", "mainnet")),
    ChainInfo("2", "Litecoin", LITECOIN, ("ltc",)),
    ChainInfo("3", "Dogecoin", DOGECOIN, ("doge",)),
    ChainInfo("10", "Optimism", EVM, ("op", "op-mainnet")),
    ChainInfo("25", "Cronos", EVM, ("cro",)),
    ChainInfo("56", "BNB Chain", EVM, ("bnb", "bsc", "bnb-smart-chain", "binance")),
    ChainInfo("66", "OKTC", EVM, ("okc", "oktc")),
    ChainInfo("100", "Gnosis", EVM, ("xdai",)),
    ChainInfo("130", "Unichain", EVM, ()),
    ChainInfo("137", "Polygon", EVM, ("matic", "pol")),
    ChainInfo("146", "Sonic", EVM, ()),
    ChainInfo("169", "Manta Pacific", EVM, ("manta",)),
    ChainInfo("195", "Tron", TRON, ("trx",)),
    ChainInfo("196", "X Layer", EVM, ("xlayer",)),
    ChainInfo("204", "opBNB", EVM, ()),
    ChainInfo("250", "Fantom", EVM, ("ftm",)),
    ChainInfo("324", "zkSync Era", EVM, ("zksync",)),
    ChainInfo("501", "Solana", SOLANA, ("sol",)),
    ChainInfo("607", "TON", TON, ("toncoin",)),
    ChainInfo("637", "Aptos", APTOS, ("apt",)),
    ChainInfo("784", "Sui", SUI, ()),
    ChainInfo("1088", "Metis", EVM, ("metis-andromeda",)),
    ChainInfo("1101", "Polygon zkEVM", EVM, ("polygon-zkevm",)),
    ChainInfo("5000", "Mantle", EVM, ("mnt",)),
    ChainInfo("8453", "Base", EVM, ()),
    ChainInfo("34443", "Mode", EVM, ()),
    ChainInfo("42161", "Arbitrum One", EVM, ("arbitrum", "arb")),
    ChainInfo("42170", "Arbitrum Nova", EVM, ()),
    ChainInfo("43114", "Avalanche C", EVM, ("avalanche", "avax", "avalanche-c-chain")),
    ChainInfo("59144", "Linea", EVM, ()),
    ChainInfo("81457", "Blast", EVM, ()),
    ChainInfo("534352", "Scroll", EVM, ()),
    ChainInfo("7777777", "Zora", EVM, ()),
)

_BY_INDEX: dict[str, ChainInfo] = {c.index: c for c in _KNOWN}


def _key(name: str) -> str:
    return re.sub(r"[\s_]+", "-", name.strip().lower())


_BY_NAME: dict[str, ChainInfo] = {}
for _chain in _KNOWN:
    for _alias in (_chain.name, *_chain.aliases):
        _BY_NAME[_key(_alias)] = _chain


def known_chains() -> tuple[ChainInfo, ...]:
    """Every chain this registry knows by name, in index order."""
    return _KNOWN


def chain_info(index: str) -> ChainInfo | None:
    """The registry entry for a chain index, or ``None`` for an index we do not know."""
    return _BY_INDEX.get(index)


def chain_name(index: str) -> str:
    """A display name: the registry's name, or ``chain <index>`` for an unknown index."""
    info = _BY_INDEX.get(index)
    return info.name if info else f"chain {index}"


_MAX_INDEX_DIGITS = 18
"""OKX's chain indices are small (the largest listed, Zora, is 7777777); an index is at most
this many ASCII digits (``int()`` would also take ``"\u00b2"``-like digits of other scripts)."""


def shown(value: object, limit: int = 80) -> object:
    """``value`` as an error may quote it: a long string or sequence cut short, a huge int
    described (``repr`` of an int over 4,300 digits raises)."""
    if isinstance(value, str) and len(value) > limit:
        return value[:limit] + "..."
    if isinstance(value, bytes) and len(value) > limit:
        return value[:limit] + b"..."
    if isinstance(value, int) and value.bit_length() > 256:
        return f"<an int of {value.bit_length()} bits>"
    if isinstance(value, (list, tuple)) and len(value) > 10:
        return f"<a {type(value).__name__} of {len(value)} items>"
    return value


def _items(chains: object) -> list[object]:
    if isinstance(chains, (str, int)):
        return [chains]
    if isinstance(chains, (list, tuple)):
        return list(chains)
    if isinstance(chains, (set, frozenset)):
        # No order of its own: indices in numeric order, so a set gives the same requests each run.
        indices: list[str] = normalize_chains(list(chains))
        indices.sort(key=int)
        return list(indices)
    raise OkxInvalidInputError(
        "chains",
        shown(chains),
        f"expected a chain, a list or a comma-separated string, not {type(chains).__name__}",
    )


def _split(chains: object) -> Iterator[object]:
    for item in _items(chains):
        if isinstance(item, str):
            yield from item.split(",")
        else:
            yield item


def normalize_chains(chains: object) -> list[str]:
    """Turn ints, strings, comma-separated strings and chain names into chain indices.

    Order is kept (a set is taken in numeric order) and duplicates are removed. Raises
    :class:`OkxInvalidInputError` naming the ``chains`` field for an empty selection, an unknown
    name, a negative number, digits that are not ASCII (``"\u00b2"``), bytes, or any other type.
    """
    result: dict[str, None] = {}
    for item in _split(chains):
        if isinstance(item, bool) or not isinstance(item, (int, str)):
            raise OkxInvalidInputError("chains", shown(item), "a chain is an index (int or digits) or a name")
        if isinstance(item, int) and item.bit_length() > 64:
            raise OkxInvalidInputError(
                "chains", shown(item), f"a chain index has at most {_MAX_INDEX_DIGITS} digits"
            )
        text = str(item).strip()
        if not text:
            continue
        digits = text.isascii() and text.isdigit()
        if digits and len(text) <= _MAX_INDEX_DIGITS:
            index = str(int(text))
        elif digits:
            raise OkxInvalidInputError(
                "chains", shown(item), f"a chain index has at most {_MAX_INDEX_DIGITS} digits"
            )
        elif isinstance(item, int) or (text[:1] == "-" and text[1:].isascii() and text[1:].isdigit()):
            raise OkxInvalidInputError("chains", shown(item), "a chain index cannot be negative")
        else:
            info = _BY_NAME.get(_key(text)) if text.isascii() else None
            if info is None:
                raise OkxInvalidInputError(
                    "chains", shown(item), "unknown chain name (use its OKX chainIndex, e.g. 1 for Ethereum)"
                )
            index = info.index
        result[index] = None
    if not result:
        raise OkxInvalidInputError("chains", shown(chains), "at least one chain is required")
    return list(result)


def chunked(chains: list[str], size: int = MAX_CHAINS_PER_REQUEST) -> list[list[str]]:
    """Split a chain list into request-sized chunks (OKX takes at most 50 per request)."""
    return [chains[i : i + size] for i in range(0, len(chains), size)]


# --- addresses -------------------------------------------------------------------------

# Families, checksums and the stored form live in core/addresses.py; here an address meets
# the chains it is asked on.


def validate_address(address: object, field: str = "address") -> str:
    """Strip and check an address the way wallets do (its family's checksum included); raise
    naming ``field``, the address as written and what is wrong."""
    if not isinstance(address, str):
        raise OkxInvalidInputError(
            field, shown(address), f"expected an address as text, not {type(address).__name__}"
        )
    text = address.strip()
    if not text:
        raise OkxInvalidInputError(field, address, "an address is required")
    if len(text) > MAX_ADDRESS_LENGTH:
        raise OkxInvalidInputError(
            field, shown(text), f"longer than any wallet address ({len(text)} characters)"
        )
    reading = read_address(text)
    if not reading.families:
        raise OkxInvalidInputError(field, address, reading.problem)
    return text


def compatible_chains(address: str, chains: list[str]) -> list[str]:
    """The chains of ``chains`` whose address family matches ``address``.

    Chains missing from the registry are kept: OKX, not this list, is their authority.
    """
    families = address_families(address)
    return [c for c in chains if (info := _BY_INDEX.get(c)) is None or info.family in families]


def check_family(address: str, chains: list[str]) -> None:
    """Refuse chains of another address family than ``address`` (OKX fails the whole request)."""
    families = address_families(address)
    wrong = [c for c in chains if (info := _BY_INDEX.get(c)) is not None and info.family not in families]
    if wrong:
        names = ", ".join(f"{chain_name(c)} ({c})" for c in wrong)
        kind = "/".join(sorted(families)) or "unknown"
        raise OkxInvalidInputError(
            "chains",
            ",".join(chains),
            f"address {address} is a {kind} address and cannot be queried on {names}; "
            "query each address family separately",
        )
