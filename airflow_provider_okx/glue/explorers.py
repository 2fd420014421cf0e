"""A chain's block explorer, as the extra links use it.

The table of explorers per chain is plain data in :mod:`airflow_provider_okx.glue.links`, which
builds these objects (and re-exports :class:`Explorer`) the first time a link asks for one: a
DAG file that imports an operator builds none.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Explorer:
    """A chain's block explorer: its name and how it spells a wallet's (and a token's) page."""

    name: str
    address_url: str
    """``{address}`` is replaced by the wallet address."""
    token_url: str | None = None
    """``{token}`` and ``{address}``: the token's page, filtered to the wallet where supported."""

    def wallet(self, address: str) -> str:
        return self.address_url.format(address=quote(address, safe=""))

    def token(self, token: str, address: str) -> str | None:
        if not token or self.token_url is None:
            return None
        return self.token_url.format(token=quote(token, safe=""), address=quote(address, safe=""))
