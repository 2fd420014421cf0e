"""OpenLineage datasets for what the provider's tasks read from OKX and the files they publish.

The openlineage provider is optional: it is imported inside the builders, never at module
level, and every builder returns ``None`` when it is not installed.

Naming scheme (stable; docs/lineage-links-events.md documents it):

- **OKX balance data of one wallet**: namespace ``okx://<host[:port]>`` of the connection's
  base URL (``okx://web3.okx.com`` in production), name the wallet's address as
  :func:`~airflow_provider_okx.core.addresses.address_key` writes it (EVM hex and bech32 lower-cased,
  base58 as written). One dataset per wallet whichever chains were read, so the balances
  operator, the sensor and the report meet on the same node of the lineage graph; the chains
  (and a sensor's token) are in the dataset's ``documentation`` facet, the columns of a balance
  row in its ``schema`` facet.
- **Published files**: as ``ObjectStoragePath`` and OpenLineage's naming spec have it:
  ``s3://bucket`` + key, ``gs://bucket`` + key; a local file is namespace ``file`` + its
  absolute path (``file://<host>`` + path when the URI names a host).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_okx import DEFAULT_HOST
from airflow_provider_okx.core.chains import address_key, chain_name, compatible_chains, normalize_chains

BALANCE_COLUMNS = (
    ("address", "string"),
    ("chain_index", "string"),
    ("token_address", "string"),
    ("symbol", "string"),
    ("balance", "decimal"),
    ("token_price", "decimal"),
    ("usd_value", "decimal"),
    ("is_risk_token", "boolean"),
)
"""The columns of one balance row (``TokenBalance.to_dict()``), for the ``schema`` facet."""


def okx_namespace(base_url: str | None) -> str:
    """``okx://<host[:port]>`` of an OKX base URL; ``okx://web3.okx.com`` when unknown."""
    netloc = urlsplit(base_url or DEFAULT_HOST).netloc or urlsplit(DEFAULT_HOST).netloc
    return f"okx://{netloc.lower()}"


@dataclass(frozen=True)
class OkxRead:
    """What a task read from OKX: the API it asked and, per wallet, the chains asked."""

    base_url: str
    wallets: Mapping[str, tuple[str, ...]]
    token_address: str = ""
    """The one token a sensor watches (``""``: every token, or the native coin)."""

    @classmethod
    def of(cls, hook: Any, addresses: Iterable[str], chains: object, token_address: str = "") -> OkxRead:
        """Each address with the chains of its own family (as the hook asks them)."""
        chain_list = normalize_chains(chains)
        return cls(
            base_url=base_url_of(hook),
            wallets={address: tuple(compatible_chains(address, chain_list)) for address in addresses},
            token_address=token_address or "",
        )


def base_url_of(hook: Any) -> str:
    """The connection's base URL; the public one when the connection cannot be read."""
    try:
        return str(hook.config.base_url)
    except Exception:  # lineage must never fail a task that succeeded
        return DEFAULT_HOST


def _facets() -> Any:
    """The openlineage classes, or ``None`` when the provider is not installed."""
    try:
        from airflow.providers.common.compat.openlineage import facet
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    return facet, OperatorLineage


def wallet_dataset(facet: Any, read: OkxRead, address: str) -> Any:
    chains = read.wallets.get(address, ())
    described = ", ".join(f"{chain_name(c)} ({c})" for c in chains) or "no chain"
    token = f", token {read.token_address}" if read.token_address else ""
    return facet.Dataset(
        namespace=okx_namespace(read.base_url),
        name=address_key(address),
        facets={
            "documentation": facet.DocumentationDatasetFacet(
                description=f"OKX Web3 balances of wallet {address} on {described}{token}"
            ),
            "schema": facet.SchemaDatasetFacet(
                fields=[facet.SchemaDatasetFacetFields(name=n, type=t) for n, t in BALANCE_COLUMNS]
            ),
        },
    )


def storage_dataset(facet: Any, uri: str) -> Any:
    """A published file as OpenLineage names it (see the module docstring)."""
    parts = urlsplit(uri)
    scheme = parts.scheme or "file"
    if scheme in ("file", "local"):
        path = parts.path if parts.scheme else uri
        return facet.Dataset(namespace=f"file://{parts.netloc}" if parts.netloc else "file", name=path)
    return facet.Dataset(namespace=f"{scheme}://{parts.netloc}", name=parts.path.lstrip("/"))


def operator_lineage(read: OkxRead | None, outputs: Iterable[str] = ()) -> Any:
    """``OperatorLineage`` with one input per wallet read and one output per published file;
    ``None`` when the openlineage provider is not installed or nothing was read."""
    found = _facets()
    if found is None or read is None:
        return None
    facet, OperatorLineage = found
    return OperatorLineage(
        inputs=[wallet_dataset(facet, read, address) for address in read.wallets],
        outputs=[storage_dataset(facet, uri) for uri in outputs],
    )


# --- per operator ------------------------------------------------------------------------------


def balances_lineage(operator: Any) -> Any:
    """Inputs of an ``OkxTokenBalancesOperator``: what its ``execute`` recorded in ``okx_read``."""
    return operator_lineage(getattr(operator, "okx_read", None))


def sensor_lineage(sensor: Any) -> Any:
    """Inputs of an ``OkxBalanceSensor``: its (rendered) wallet, chains and token.

    Read from the rendered fields rather than from ``execute``: in deferrable mode the task
    resumes in a new process whose ``execute`` never ran.
    """
    if _facets() is None:
        return None
    address = str(sensor.address).strip()
    read = OkxRead.of(sensor.hook, [address], sensor.chain, str(sensor.token_address or "").strip())
    return operator_lineage(read)


def report_lineage(operator: Any) -> Any:
    """Inputs (every wallet, from the rendered ``wallets`` and ``chains``) and outputs (the
    published files ``execute`` recorded in ``okx_report``) of an ``OkxTreasuryReportOperator``.

    The outputs are the final keys the report was published to, never a staging key.
    """
    if _facets() is None:
        return None
    from airflow_provider_okx.core.inputs import parse_wallets

    published = getattr(operator, "okx_report", None) or {}
    files = published.get("files") or {}
    read = OkxRead.of(operator.hook, parse_wallets(operator.wallets).values(), operator.chains)
    return operator_lineage(read, [str(uri) for uri in files.values()])
