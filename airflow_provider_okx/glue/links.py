"""Extra links: a wallet on its chain's block explorer, a watched token, the published report.

Airflow shows these as buttons on a task instance. How each version asks for them:

- Airflow 3 calls :meth:`get_link` in the worker when the task ends (or defers), with the
  operator that ran, and stores the URL in XCom under :attr:`xcom_key`; the UI reads it back.
  The operator's rendered fields (and what ``execute`` remembered) are therefore at hand.
- Airflow 2.10/2.11's webserver calls :meth:`get_link` with the *serialized* operator (its
  template fields unrendered), so a link falls back on the task's ``return_value`` XCom:
  there the link appears once the task has succeeded.

An empty string means "no link" (Airflow 3 hides it; Airflow 2 shows it greyed out). A chain
without a known explorer gets no link rather than a guessed one.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import attrs

from airflow_provider_okx.core.chains import compatible_chains, normalize_chains
from airflow_provider_okx.core.inputs import literal
from airflow_provider_okx.glue.compat import AIRFLOW_V3
from airflow_provider_okx.glue.templating import unresolved

try:  # Airflow 3
    from airflow.sdk import BaseOperatorLink
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.models.baseoperatorlink import (  # type: ignore[no-redef,attr-defined,unused-ignore]
        BaseOperatorLink,
    )

if TYPE_CHECKING:
    from collections.abc import Iterable

    from airflow_provider_okx.glue.explorers import Explorer

    EXPLORERS: dict[str, Explorer]


def _etherscan_family(name: str, host: str) -> tuple[str, str, str]:
    return name, f"https://{host}/address/{{address}}", f"https://{host}/token/{{token}}?a={{address}}"


# OKX chainIndex -> (explorer name, wallet page, token page or None). Only explorers whose URL
# scheme we are sure of; a chain missing here gets no link. Plain data: the operators need only
# its chains when their classes are defined; the Explorer objects are built on first use.
_PAGES: dict[str, tuple[str, str, str | None]] = {
    "0": ("mempool.space", "https://mempool.space/address/{address}", None),
    "1": _etherscan_family("Etherscan", "etherscan.io"),
    "2": ("Litecoin Space", "https://litecoinspace.org/address/{address}", None),
    "3": ("Blockchair Dogecoin", "https://blockchair.com/dogecoin/address/{address}", None),
    "10": _etherscan_family("Optimistic Etherscan", "optimistic.etherscan.io"),
    "56": _etherscan_family("BscScan", "bscscan.com"),
    "100": _etherscan_family("Gnosisscan", "gnosisscan.io"),
    "130": _etherscan_family("Uniscan", "uniscan.xyz"),
    "137": _etherscan_family("Polygonscan", "polygonscan.com"),
    "146": _etherscan_family("Sonicscan", "sonicscan.org"),
    "195": ("Tronscan", "https://tronscan.org/#/address/{address}", "https://tronscan.org/#/token20/{token}"),
    "204": _etherscan_family("opBNBScan", "opbnb.bscscan.com"),
    "324": ("zkSync Era Explorer", "https://explorer.zksync.io/address/{address}", None),
    "501": ("Solscan", "https://solscan.io/account/{address}", "https://solscan.io/token/{token}"),
    "607": ("Tonviewer", "https://tonviewer.com/{address}", None),
    "637": ("Aptos Explorer", "https://explorer.aptoslabs.com/account/{address}?network=mainnet", None),
    "784": ("Suiscan", "https://suiscan.xyz/mainnet/account/{address}", None),
    "1101": _etherscan_family("Polygon zkEVM Polygonscan", "zkevm.polygonscan.com"),
    "5000": _etherscan_family("Mantlescan", "mantlescan.xyz"),
    "8453": _etherscan_family("Basescan", "basescan.org"),
    "42161": _etherscan_family("Arbiscan", "arbiscan.io"),
    "42170": _etherscan_family("Arbiscan Nova", "nova.arbiscan.io"),
    "43114": _etherscan_family("Snowtrace", "snowtrace.io"),
    "59144": _etherscan_family("Lineascan", "lineascan.build"),
    "81457": _etherscan_family("Blastscan", "blastscan.io"),
    "534352": _etherscan_family("Scrollscan", "scrollscan.com"),
}


@cache
def _explorers() -> dict[str, Explorer]:
    """``EXPLORERS``: OKX chainIndex -> :class:`Explorer`, built once, on first use."""
    from airflow_provider_okx.glue.explorers import Explorer

    return {chain: Explorer(*page) for chain, page in _PAGES.items()}


def __getattr__(name: str) -> Any:
    """``EXPLORERS`` and ``Explorer``, importable from here as before, built on first use."""
    if name == "EXPLORERS":
        return _explorers()
    if name == "Explorer":
        from airflow_provider_okx.glue.explorers import Explorer

        return Explorer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def explorer_for(chain: str) -> Explorer | None:
    """The explorer of an OKX chain index, or ``None`` when we know none."""
    return _explorers().get(str(chain))


def wallet_url(address: str, chain: str) -> str | None:
    """``address`` on ``chain``'s explorer (``None``: no known explorer, or not that family)."""
    explorer = explorer_for(chain)
    if explorer is None or not compatible_chains(address, [str(chain)]):
        return None
    return explorer.wallet(address)


def token_url(address: str, chain: str, token: str) -> str | None:
    """The token's page on ``chain``'s explorer, filtered to ``address`` where it can be."""
    explorer = explorer_for(chain)
    if explorer is None or not compatible_chains(address, [str(chain)]):
        return None
    return explorer.token(token, address)


def report_url(uri: str) -> str | None:
    """A browser URL for a published report file, where the store has one.

    ``s3://bucket/key`` opens the object in the AWS console; ``gs://bucket/key`` the
    authenticated Cloud Storage URL. Local files (``file://``) get none: browsers refuse to open
    ``file://`` links from an ``http(s)`` page, and the file lives on the worker's disk anyway.
    """
    parts = urlsplit(uri)
    key = parts.path.lstrip("/")
    if not parts.netloc or not key:
        return None
    if parts.scheme in ("s3", "s3a"):
        return f"https://s3.console.aws.amazon.com/s3/object/{quote(parts.netloc)}?prefix={quote(key)}"
    if parts.scheme in ("gs", "gcs"):
        return f"https://storage.cloud.google.com/{quote(parts.netloc)}/{quote(key)}"
    return None


# --- where a link finds its values ---------------------------------------------------------------


def _return_value(ti_key: Any) -> Any:
    """The task's ``return_value`` XCom on Airflow 2's webserver; ``None`` if there is none.

    Airflow 3 asks in the worker, where the operator that ran already holds everything.
    """
    if AIRFLOW_V3:
        return None
    from airflow.models.xcom import XCom

    try:
        return XCom.get_value(ti_key=ti_key, key="return_value")
    except Exception:  # a link must never break the task view; no link then
        return None


def _resolved(value: Any) -> Any:
    """A rendered field value, or ``None`` while it is still a template or an XComArg."""
    if value is None or value == "" or unresolved(value):
        return None
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            return literal(value.strip())
        except ValueError:
            return None
    return value


def _addresses(value: Any) -> list[str]:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, dict):
        return [str(v).strip() for v in value.values()]
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value]
    return []


def _chains(value: Any) -> list[str]:
    try:
        return normalize_chains(value)
    except (ValueError, TypeError):
        return []


def _first_wallet_on(chain: str, addresses: Iterable[str]) -> str | None:
    for address in addresses:
        if compatible_chains(address, [chain]):
            return address
    return None


# --- the links -----------------------------------------------------------------------------------


@attrs.define(frozen=True)
class OkxWalletExplorerLink(BaseOperatorLink):
    """A wallet the :class:`OkxTokenBalancesOperator` read, on one chain's explorer.

    One link per chain with a known explorer, named after the explorer ("Etherscan",
    "Solscan"...). A task that read several wallets links the first one of that chain's family;
    map the operator per wallet (``.expand(address=...)``) for one link per wallet.
    """

    chain: str

    @property
    def name(self) -> str:
        explorer = explorer_for(self.chain)
        return explorer.name if explorer else f"Explorer (chain {self.chain})"

    @property
    def xcom_key(self) -> str:
        return f"_link_okx_wallet_{self.chain}"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        addresses = _addresses(_resolved(getattr(operator, "address", None)))
        chains = _chains(_resolved(getattr(operator, "chains", None)))
        if not addresses or not chains:
            result = _return_value(ti_key)
            if not isinstance(result, dict):
                return ""
            addresses, chains = _addresses(result.get("addresses")), _chains(result.get("chains") or [])
        if self.chain not in chains:
            return ""
        address = _first_wallet_on(self.chain, addresses)
        return (wallet_url(address, self.chain) or "") if address else ""


def wallet_explorer_links() -> tuple[OkxWalletExplorerLink, ...]:
    """One :class:`OkxWalletExplorerLink` per chain with a known explorer."""
    return tuple(OkxWalletExplorerLink(chain=chain) for chain in _PAGES)


def _watched(operator: Any, ti_key: Any) -> tuple[str, list[str], str] | None:
    """(address, chains, token) the :class:`OkxBalanceSensor` watches."""
    address = _resolved(getattr(operator, "address", None))
    chains = _chains(_resolved(getattr(operator, "chain", None)))
    token = getattr(operator, "token_address", "")
    if isinstance(address, str) and chains and not unresolved(token):
        return address.strip(), chains, str(token or "").strip()
    result = _return_value(ti_key)
    if not isinstance(result, dict) or not result.get("address"):
        return None
    return str(result["address"]), _chains(result.get("chain") or []), str(result.get("token_address") or "")


@attrs.define(frozen=True)
class _FixedLink(BaseOperatorLink):
    """The base of the links without fields: an attrs class its subclasses share.

    attrs builds a class's methods when it decorates it (about 0.3 ms each, paid when a DAG
    file imports the operator); a subclass without fields inherits them unchanged (frozen,
    hashable, equal only to an instance of its own class), so it is built once here."""


class OkxSensorWalletLink(_FixedLink):
    """The wallet an :class:`OkxBalanceSensor` watches, on its chain's explorer (for a
    ``total_usd`` wait over several chains: the first chain that has a known explorer)."""

    name = "Wallet on block explorer"

    @property
    def xcom_key(self) -> str:
        return "_link_okx_sensor_wallet"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        watched = _watched(operator, ti_key)
        if watched is None:
            return ""
        address, chains, _ = watched
        return next((url for chain in chains if (url := wallet_url(address, chain))), "")


class OkxSensorTokenLink(_FixedLink):
    """The token an :class:`OkxBalanceSensor` watches, filtered to the wallet where the explorer
    can (Etherscan family); none for the native coin."""

    name = "Token on block explorer"

    @property
    def xcom_key(self) -> str:
        return "_link_okx_sensor_token"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        watched = _watched(operator, ti_key)
        if watched is None or not watched[2] or len(watched[1]) != 1:
            return ""
        address, [chain], token = watched
        return token_url(address, chain, token) or ""


class OkxReportLink(_FixedLink):
    """The published ``report.html`` of an :class:`OkxTreasuryReportOperator`, where the
    store gives a browser URL (see :func:`report_url`)."""

    name = "Treasury report"

    @property
    def xcom_key(self) -> str:
        return "_link_okx_report"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        published = getattr(operator, "okx_report", None)
        if not isinstance(published, dict):
            published = _return_value(ti_key)
        files = published.get("files") if isinstance(published, dict) else None
        uri = files.get("report.html") if isinstance(files, dict) else None
        return (report_url(str(uri)) or "") if uri else ""
