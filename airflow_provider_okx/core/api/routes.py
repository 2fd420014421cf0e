"""Request building for every balance endpoint of both API generations.

v5 (the original Wallet API) and v6 (the DEX balance API) serve the same data under other
paths and parameter names; :data:`V5` and :data:`V6` hold the differences as data, so a wrong
guess about OKX costs an edit here, not new code. Each builder returns an :class:`ApiRequest`
whose ``path`` (with its query) and ``body`` are exactly what is signed and sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from airflow_provider_okx.core.api.errors import OkxInvalidInputError

MAX_TOKENS_PER_REQUEST = 20
MAX_PRICE_TOKENS = 100
"""Tokens per current-price request (OKX's documented maximum)."""
MAX_PRICE_POINTS = 200
"""Points per historical-price page (OKX's documented maximum; its default is 50)."""
PRICE_PERIODS = ("1m", "5m", "30m", "1h", "1d")
ASSET_TYPES = {"all": "0", "token": "1", "defi": "2"}


@dataclass(frozen=True)
class ApiVersion:
    """Paths and parameter names of one API generation."""

    name: str
    all_token_balances: str
    total_value: str
    token_balances: str
    supported_chains: str
    risk_param: str
    """Query/body key of the risk filter on balance endpoints: ``"0"`` filters, ``"1"`` does not."""
    token_field: str
    """Key of a token's contract address in requests and responses."""
    token_list_field: str
    """Key of the POST body's token list."""
    filter_param: str | None = None
    """Query key of the all-token-balances token filter (``"0"`` hides risk, custom and
    passive tokens, ``"1"`` returns all), when it is a parameter of its own (v6). In v5 the
    risk parameter is that filter."""
    transactions: str = ""
    """Transaction history by address (GET, cursor-paged)."""
    transactions_field: str = "transactions"
    """Key of the records list in ``data[0]`` of a history answer."""
    transactions_limit_one_chain: int = 20
    """Records per history page when one chain is asked (OKX's maximum)."""
    transactions_limit_many_chains: int = 100
    """Records per history page when several chains are asked (OKX's maximum)."""
    historical_price: str = ""
    """Historical index price of one token (GET, cursor-paged)."""
    current_price: str = ""
    """Current index prices of up to :data:`MAX_PRICE_TOKENS` tokens (POST, a JSON array)."""
    price_token_field: str = "tokenContractAddress"
    """Key of a token's contract in the index-price routes."""


V6 = ApiVersion(
    name="v6",
    all_token_balances="/api/v6/dex/balance/all-token-balances-by-address",
    total_value="/api/v6/dex/balance/total-value-by-address",
    token_balances="/api/v6/dex/balance/token-balances-by-address",
    supported_chains="/api/v6/dex/balance/supported/chain",
    risk_param="excludeRiskToken",
    token_field="tokenContractAddress",
    token_list_field="tokenContractAddresses",
    filter_param="filter",
    transactions="/api/v6/dex/post-transaction/transactions-by-address",
    historical_price="/api/v6/dex/index/historical-price",
    current_price="/api/v6/dex/index/current-price",
)
V5 = ApiVersion(
    name="v5",
    all_token_balances="/api/v5/wallet/asset/all-token-balances-by-address",
    total_value="/api/v5/wallet/asset/total-value-by-address",
    token_balances="/api/v5/wallet/asset/token-balances-by-address",
    supported_chains="/api/v5/wallet/chain/supported-chains",
    risk_param="filter",
    token_field="tokenAddress",
    token_list_field="tokenAddresses",
    transactions="/api/v5/wallet/post-transaction/transactions-by-address",
    transactions_field="transactionList",
    # OKX's Chinese v5 page: at most 20 per page, whatever the chains.
    transactions_limit_many_chains=20,
    historical_price="/api/v5/dex/index/historical-price",
    current_price="/api/v5/dex/index/current-price",
    # The v5 DEX index copies name the token tokenContractAddress like v6 (the Chinese
    # historical page says tokenAddress: UNVERIFIED, a one-word change here).
)
VERSIONS = {"v6": V6, "v5": V5}


def api_version(name: object) -> ApiVersion:
    """The route table for ``"v6"`` or ``"v5"``."""
    key = str(name or "v6").strip().lower()
    if key not in VERSIONS:
        raise OkxInvalidInputError("api_version", name, "expected 'v6' or 'v5'")
    return VERSIONS[key]


@dataclass(frozen=True)
class ApiRequest:
    """One request as it is signed and sent: ``path`` includes ``?query`` for GET."""

    endpoint: str
    """Name of the endpoint (``all_token_balances``...), for logs and errors."""
    method: str
    path: str
    body: str = ""

    @property
    def route(self) -> str:
        """``METHOD /path`` without the query: short enough for error messages."""
        return f"{self.method} {self.path.partition('?')[0]}"


_PLAIN = re.compile(r"[A-Za-z0-9_.~,:-]*")
"""Text that ``quote(text, safe=",:")`` leaves as it is."""


def _query(params: Sequence[tuple[str, str]]) -> str:
    """``urlencode(params, safe=",:", quote_via=quote)``, without quoting what needs none
    (addresses, chain lists, flags: a third of planning a balance call when all was quoted)."""
    return "&".join(
        [
            f"{key}={value}"
            if type(key) is str and type(value) is str and _PLAIN.fullmatch(key) and _PLAIN.fullmatch(value)
            else urlencode([(key, value)], safe=",:", quote_via=quote)
            for key, value in params
        ]
    )


def _get(endpoint: str, path: str, params: Sequence[tuple[str, str]]) -> ApiRequest:
    # Encode once, here: this exact string is signed and sent (commas stay literal).
    query = _query(params)
    return ApiRequest(endpoint, "GET", f"{path}?{query}" if query else path)


def _risk_flag(exclude_risk_tokens: bool) -> str:
    return "0" if exclude_risk_tokens else "1"


TOKEN_FILTERS = {"0": "hide risk, custom and passive tokens (OKX's default)", "1": "return every token"}


def token_filter_value(token_filter: object) -> str | None:
    """``token_filter`` as OKX's ``filter`` value (``"0"``/``"1"``), ``None`` when not given."""
    if token_filter is None:
        return None
    if isinstance(token_filter, bool) or not isinstance(token_filter, (int, str)):
        raise OkxInvalidInputError("token_filter", token_filter, "expected 0, 1 or None")
    text = str(token_filter).strip()
    if text not in TOKEN_FILTERS:
        raise OkxInvalidInputError("token_filter", token_filter, "expected 0, 1 or None")
    return text


def all_token_balances(
    version: ApiVersion,
    address: str,
    chains: Sequence[str],
    *,
    exclude_risk_tokens: bool = True,
    token_filter: object = None,
) -> ApiRequest:
    """All token balances of ``address`` on ``chains``.

    :param exclude_risk_tokens: ask OKX to drop risk (honeypot) tokens.
    :param token_filter: OKX's ``filter``: ``0`` hides risk, custom and passive tokens, ``1``
        returns every token. ``None`` (default) follows ``exclude_risk_tokens``: nothing is sent
        when excluding (OKX's default, ``0``), ``1`` when risk tokens are wanted, or a request
        that asks for risk tokens would still miss them. In v5 the risk parameter is this
        filter, so an explicit ``token_filter`` sets it.
    """
    chosen = token_filter_value(token_filter)
    params = [("address", address), ("chains", ",".join(chains))]
    if version.filter_param is None:
        params.append((version.risk_param, chosen or _risk_flag(exclude_risk_tokens)))
    else:
        params.append((version.risk_param, _risk_flag(exclude_risk_tokens)))
        if chosen is None and not exclude_risk_tokens:
            chosen = "1"
        if chosen is not None:
            params.append((version.filter_param, chosen))
    return _get("all_token_balances", version.all_token_balances, params)


def total_value(
    version: ApiVersion,
    address: str,
    chains: Sequence[str],
    *,
    asset_type: str = "all",
    exclude_risk_tokens: bool = True,
) -> ApiRequest:
    if not isinstance(asset_type, str) or asset_type not in ASSET_TYPES:  # a list is not hashable
        raise OkxInvalidInputError("asset_type", asset_type, f"expected one of {', '.join(ASSET_TYPES)}")
    return _get(
        "total_value",
        version.total_value,
        [
            ("address", address),
            ("chains", ",".join(chains)),
            ("assetType", ASSET_TYPES[asset_type]),
            ("excludeRiskToken", "true" if exclude_risk_tokens else "false"),
        ],
    )


def token_balances(
    version: ApiVersion,
    address: str,
    tokens: Sequence[tuple[str, str]],
    *,
    exclude_risk_tokens: bool = True,
) -> ApiRequest:
    if not tokens:
        raise OkxInvalidInputError(
            "tokens", list(tokens), "at least one (chain, token_address) pair is required"
        )
    if len(tokens) > MAX_TOKENS_PER_REQUEST:
        raise OkxInvalidInputError(
            "tokens", f"{len(tokens)} tokens", f"OKX accepts at most {MAX_TOKENS_PER_REQUEST} tokens per call"
        )
    body = {
        "address": address,
        version.token_list_field: [
            {"chainIndex": chain, version.token_field: token} for chain, token in tokens
        ],
        version.risk_param: _risk_flag(exclude_risk_tokens),
    }
    return ApiRequest(
        "token_balances", "POST", version.token_balances, json.dumps(body, separators=(",", ":"))
    )


def supported_chains(version: ApiVersion) -> ApiRequest:
    return ApiRequest("supported_chains", "GET", version.supported_chains)


def _ms(value: int | None) -> str | None:
    return None if value is None else str(value)


def transactions_by_address(
    version: ApiVersion,
    address: str,
    chains: Sequence[str],
    *,
    begin_ms: int | None = None,
    end_ms: int | None = None,
    token_address: str | None = None,
    cursor: str | None = None,
    limit: int | None = None,
) -> ApiRequest:
    """One page of the transaction history of ``address`` on ``chains`` (at most 50).

    :param token_address: ``None`` asks for every asset (no parameter); ``""`` for the native
        coin only (sent as an empty parameter); an address for that token only.
    :param begin_ms: ``end_ms``: the window in ms since the epoch, sent as given (the caller
        widens it and filters: OKX's inclusiveness is not documented).
    :param limit: records per page; default the version's maximum for that many chains.
    """
    if not chains:
        raise OkxInvalidInputError("chains", list(chains), "at least one chain is required")
    if limit is None:
        limit = (
            version.transactions_limit_one_chain
            if len(chains) == 1
            else version.transactions_limit_many_chains
        )
    params: list[tuple[str, str]] = [("address", address), ("chains", ",".join(chains))]
    if token_address is not None:
        params.append((version.token_field, token_address))
    for key, value in (("begin", _ms(begin_ms)), ("end", _ms(end_ms)), ("cursor", cursor or None)):
        if value is not None:
            params.append((key, value))
    params.append(("limit", str(limit)))
    return _get("transactions", version.transactions, params)


def historical_price(
    version: ApiVersion,
    chain_index: str,
    token_address: str,
    *,
    begin_ms: int,
    end_ms: int,
    period: str = "1d",
    cursor: str | None = None,
    limit: int = MAX_PRICE_POINTS,
) -> ApiRequest:
    """One page of the historical index price of a token (``""`` = native coin)."""
    if period not in PRICE_PERIODS:
        raise OkxInvalidInputError("period", period, f"expected one of {', '.join(PRICE_PERIODS)}")
    params = [
        ("chainIndex", chain_index),
        (version.price_token_field, token_address),
        ("period", period),
        ("limit", str(limit)),
        ("begin", str(begin_ms)),
        ("end", str(end_ms)),
    ]
    if cursor:
        params.append(("cursor", cursor))
    return _get("historical_price", version.historical_price, params)


def current_price(version: ApiVersion, tokens: Sequence[tuple[str, str]]) -> ApiRequest:
    """The current index prices of ``(chain_index, token_address)`` pairs (at most 100)."""
    if not tokens:
        raise OkxInvalidInputError(
            "tokens", list(tokens), "at least one (chain, token_address) pair is required"
        )
    if len(tokens) > MAX_PRICE_TOKENS:
        raise OkxInvalidInputError(
            "tokens", f"{len(tokens)} tokens", f"OKX accepts at most {MAX_PRICE_TOKENS} tokens per call"
        )
    body = [{"chainIndex": chain, version.price_token_field: token} for chain, token in tokens]
    return ApiRequest("current_price", "POST", version.current_price, json.dumps(body, separators=(",", ":")))
