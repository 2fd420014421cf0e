"""``OkxHook``: exact token balances from OKX's Web3 balance API.

The protocol (signing, retries, rate limit, clock) lives in :mod:`airflow_provider_okx.api`;
this module reads the connection and runs that protocol over ``requests`` (sync, one pooled
session per hook) or ``aiohttp`` (async, :mod:`.async_transport`: one client per event loop
shared by every trigger).
Neither library is imported until a request is made, so DAG parsing never pays for them.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Callable, Iterable
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_okx import CONN_FIELDS, CONN_TYPE, DEFAULT_CONN_ID, HOOK_NAME, UI_FIELD_BEHAVIOUR
from airflow_provider_okx.api import routes
from airflow_provider_okx.api.calls import Call
from airflow_provider_okx.api.errors import OkxError, OkxInvalidInputError, OkxTransportError
from airflow_provider_okx.api.protocol import OkxProtocol, Outcome, Received, Step, Wait
from airflow_provider_okx.api.responses import first
from airflow_provider_okx.chains import (
    check_family,
    chunked,
    compatible_chains,
    normalize_chains,
    validate_address,
)
from airflow_provider_okx.compat import BaseHook, amask_secret, mask_secret
from airflow_provider_okx.hooks.connection import OkxConfig, config_from_connection, shared_state
from airflow_provider_okx.models import Chain, TokenBalance, exact_sum, parse_decimal

if TYPE_CHECKING:
    from collections.abc import Generator

    import requests

    from airflow_provider_okx.api.routes import ApiRequest
    from airflow_provider_okx.hooks.async_transport import RequestOptions

T = TypeVar("T")


class OkxHook(BaseHook):
    """Interact with OKX's Web3 wallet balance API.

    :param okx_conn_id: an ``okx`` connection: login = API key, password = secret key, extra
        ``passphrase`` (required), ``project_id``, ``api_version`` (``v6``/``v5``),
        ``rate_limit_rps``, ``timeout``, ``max_retries``.
    """

    conn_name_attr = "okx_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    # How the transports wait (rate limit slots, retry backoff); tests swap in recorders.
    _sleep = staticmethod(time.sleep)
    _asleep = staticmethod(asyncio.sleep)

    def __init__(self, okx_conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.okx_conn_id = okx_conn_id

    def __repr__(self) -> str:
        return f"{type(self).__name__}(okx_conn_id={self.okx_conn_id!r})"

    # --- connection form (Airflow 2 reads these; Airflow 3 reads get_provider_info) -------

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import IntegerField, PasswordField, StringField
        from wtforms.validators import NumberRange, Optional

        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            schema = spec["schema"]
            label = lazy_gettext(spec["label"])
            kwargs = {"description": spec.get("description", "")}
            if schema.get("format") == "password":
                widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget(), **kwargs)
            elif "integer" in schema["type"]:
                widgets[name] = IntegerField(
                    label, validators=[Optional(), NumberRange(min=0)], widget=BS3TextFieldWidget(), **kwargs
                )
            else:
                widgets[name] = StringField(label, widget=BS3TextFieldWidget(), **kwargs)
        return widgets

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        return {
            "hidden_fields": list(UI_FIELD_BEHAVIOUR["hidden_fields"]),
            "relabeling": dict(UI_FIELD_BEHAVIOUR["relabeling"]),
            "placeholders": dict(UI_FIELD_BEHAVIOUR["placeholders"]),
        }

    # --- configuration ---------------------------------------------------------------------

    @cached_property
    def config(self) -> OkxConfig:
        """The client configuration, read from the connection on first use."""
        return self._configure(self.get_connection(self.okx_conn_id))

    def _configure(self, conn: Any) -> OkxConfig:
        config = config_from_connection(conn)
        # Static secrets go to the masker once. Signatures are not registered: each is
        # single-use and expires within seconds, we never log headers, and registering one
        # per request would recompile the masker's regex on every call, without bound.
        mask_secret(config.credentials.secret_key)
        mask_secret(config.credentials.passphrase)
        self.__dict__["config"] = config
        return config

    async def _aconfig(self) -> OkxConfig:
        if "config" in self.__dict__:
            return self.__dict__["config"]
        aget = getattr(BaseHook, "aget_connection", None)
        if aget is not None:  # Airflow 3.1+: no thread, no blocking the event loop
            conn = await aget(self.okx_conn_id)
        else:
            from asgiref.sync import sync_to_async

            conn = await sync_to_async(self.get_connection)(self.okx_conn_id)
        config = config_from_connection(conn)
        await amask_secret(config.credentials.secret_key)
        await amask_secret(config.credentials.passphrase)
        self.__dict__["config"] = config
        return config

    @cached_property
    def protocol(self) -> OkxProtocol:
        state = shared_state(self.config)
        return OkxProtocol(
            self.config.credentials,
            self.config.base_url,
            retry=self.config.retry,
            limiter=state.limiter,
            clock=state.clock,
        )

    # --- sync transport ----------------------------------------------------------------------

    @cached_property
    def session(self) -> requests.Session:
        """One pooled keep-alive session per hook; safe to share across threads.

        Proxy and CA-bundle settings are read from the environment once, here, instead of
        on every request (``trust_env`` rescans ``os.environ`` and ``~/.netrc`` per call:
        a fifth of a balance call's CPU when measured).
        """
        import requests
        from requests.adapters import HTTPAdapter
        from requests.utils import get_environ_proxies

        session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=64, max_retries=0)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.proxies.update(get_environ_proxies(self.config.base_url))
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle:
            session.verify = bundle
        session.trust_env = False
        return session

    def _run(self, request: ApiRequest, interpret: Callable[[list[Any]], Any]) -> Any:
        import requests

        steps: Generator[Step, Outcome, Any] = self.protocol.exchange(request, interpret)
        session = self.session
        timeout = self.config.timeout
        outcome: Outcome = None
        try:
            while True:
                step = steps.send(outcome)
                if isinstance(step, Wait):
                    self._sleep(step.seconds)
                    outcome = None
                    continue
                # Prepared by hand: the URL goes out exactly as it was signed (requests'
                # own preparation would re-quote it) and no per-call settings merge runs.
                prepared = requests.PreparedRequest()
                prepared.method = step.method
                prepared.url = step.url
                prepared.headers = requests.structures.CaseInsensitiveDict(step.headers)
                prepared.body = step.body
                if step.body is not None:
                    prepared.headers["Content-Length"] = str(len(step.body))
                try:
                    response = session.send(prepared, timeout=timeout, allow_redirects=False)
                    outcome = Received(response.status_code, response.headers, response.content)
                except requests.RequestException as exc:
                    outcome = OkxTransportError(request.route, _describe(exc))
        except StopIteration as stop:
            return stop.value

    def _execute(self, call: Call[T]) -> T:
        return call.combine([self._run(request, call.interpret) for request in call.requests])

    def _execute_many(self, calls: list[Call[T]], max_workers: int | None) -> list[T]:
        """Run every request of every plan on a thread pool; results in plan order.

        The threads share this hook's session and the process's rate limiter, so the pool
        only keeps enough requests in flight to use the rate the key allows. The first
        failure cancels what has not started and is raised: nothing partial comes back.
        """
        flat = [(request, call.interpret) for call in calls for request in call.requests]
        workers = max_workers or self.default_concurrency
        if workers <= 1 or len(flat) <= 1:
            results = [self._run(request, interpret) for request, interpret in flat]
        else:
            from concurrent.futures import ThreadPoolExecutor

            _ = self.session, self.protocol  # build them once, before threads race to
            pool = ThreadPoolExecutor(max_workers=min(workers, len(flat)), thread_name_prefix="okx")
            try:
                results = list(pool.map(lambda item: self._run(*item), flat))
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        combined, start = [], 0
        for call in calls:
            combined.append(call.combine(results[start : start + len(call.requests)]))
            start += len(call.requests)
        return combined

    @property
    def default_concurrency(self) -> int:
        """Requests kept in flight by the bulk methods: enough to fill ``rate_limit_rps``
        at up to two seconds of latency, at most 32 (unlimited keys: 8)."""
        rate = self.config.rate_limit_rps
        return 8 if not rate else max(1, min(32, math.ceil(rate * 2)))

    # --- async transport (hooks/async_transport.py) -------------------------------------------

    @cached_property
    def _request_options(self) -> RequestOptions:
        from airflow_provider_okx.hooks.async_transport import RequestOptions

        return RequestOptions.from_config(self.config)

    async def _arun(self, request: ApiRequest, interpret: Callable[[list[Any]], Any]) -> Any:
        from airflow_provider_okx.hooks import async_transport

        return await async_transport.run(
            self.protocol, request, interpret, self._request_options, user=self, sleep=self._asleep
        )

    async def _aexecute(self, plan: Callable[[], Call[T]]) -> T:
        await self._aconfig()
        call = plan()
        return call.combine([await self._arun(request, call.interpret) for request in call.requests])

    async def aclose(self) -> None:
        """Release this hook's share of the event loop's HTTP client (closed by its last user,
        or when the loop ends)."""
        from airflow_provider_okx.hooks import async_transport

        await async_transport.release(self)

    def close(self) -> None:
        """Close the sync session's pooled connections."""
        if "session" in self.__dict__:
            self.__dict__.pop("session").close()

    # --- plans: one per API call, shared by the sync and async methods -----------------------

    def _address_and_chains(self, address: object, chains: object) -> tuple[str, list[str]]:
        address = validate_address(address)
        chain_list = normalize_chains(chains)
        check_family(address, chain_list)
        return address, chain_list

    def _plan_all_token_balances(
        self, address: object, chains: object, exclude_risk_tokens: bool
    ) -> Call[list[TokenBalance]]:
        addr, chain_list = self._address_and_chains(address, chains)
        version = self.config.version
        requests_ = [
            routes.all_token_balances(version, addr, chunk, exclude_risk_tokens=exclude_risk_tokens)
            for chunk in chunked(chain_list)
        ]
        return Call(requests_, lambda results: _token_balances(results, addr))

    def _plan_total_value(
        self, address: object, chains: object, asset_type: str, exclude_risk_tokens: bool
    ) -> Call[Decimal]:
        addr, chain_list = self._address_and_chains(address, chains)
        version = self.config.version
        requests_ = [
            routes.total_value(
                version, addr, chunk, asset_type=asset_type, exclude_risk_tokens=exclude_risk_tokens
            )
            for chunk in chunked(chain_list)
        ]
        endpoint = requests_[0].route

        def combine(results: list[list[Any]]) -> Decimal:
            return exact_sum(
                parse_decimal(first(data, endpoint).get("totalValue"), "totalValue") for data in results
            )

        return Call(requests_, combine)

    def _plan_token_balances(
        self, address: object, tokens: Iterable[tuple[Any, str]], exclude_risk_tokens: bool
    ) -> Call[list[TokenBalance]]:
        addr = validate_address(address)
        pairs: list[tuple[str, str]] = []
        for item in tokens:
            try:
                chain, token = item
            except (TypeError, ValueError):
                raise OkxInvalidInputError(
                    "tokens", item, "each token is a (chain, token_address) pair"
                ) from None
            pairs.append((normalize_chains([chain])[0], str(token or "").strip()))
        check_family(addr, list(dict.fromkeys(chain for chain, _ in pairs)))
        request = routes.token_balances(
            self.config.version, addr, pairs, exclude_risk_tokens=exclude_risk_tokens
        )
        return Call([request], lambda results: _token_balances(results, addr))

    def _plan_supported_chains(self) -> Call[list[Chain]]:
        return Call(
            [routes.supported_chains(self.config.version)],
            lambda results: [Chain.from_okx(item) for item in results[0]],
        )

    # --- public API ----------------------------------------------------------------------------

    def get_all_token_balances(
        self, address: str, chains: Any, *, exclude_risk_tokens: bool = True
    ) -> list[TokenBalance]:
        """Every token ``address`` holds on ``chains`` (ints, strings, ``"1,56"`` or names).

        More than 50 chains are fetched in several requests and merged; if any fails after
        retries, the whole call fails.
        """
        return self._execute(self._plan_all_token_balances(address, chains, exclude_risk_tokens))

    def get_total_value(
        self, address: str, chains: Any, *, asset_type: str = "all", exclude_risk_tokens: bool = True
    ) -> Decimal:
        """OKX's own USD valuation of ``address`` over ``chains``: ``all``, ``token`` or ``defi``."""
        return self._execute(self._plan_total_value(address, chains, asset_type, exclude_risk_tokens))

    def get_token_balances(
        self, address: str, tokens: Iterable[tuple[Any, str]], *, exclude_risk_tokens: bool = True
    ) -> list[TokenBalance]:
        """Balances of specific tokens: ``(chain, token_address)`` pairs, ``""`` for native, max 20."""
        return self._execute(self._plan_token_balances(address, tokens, exclude_risk_tokens))

    def get_supported_chains(self) -> list[Chain]:
        """The chains OKX's balance API serves."""
        return self._execute(self._plan_supported_chains())

    async def aget_all_token_balances(
        self, address: str, chains: Any, *, exclude_risk_tokens: bool = True
    ) -> list[TokenBalance]:
        return await self._aexecute(
            lambda: self._plan_all_token_balances(address, chains, exclude_risk_tokens)
        )

    async def aget_total_value(
        self, address: str, chains: Any, *, asset_type: str = "all", exclude_risk_tokens: bool = True
    ) -> Decimal:
        return await self._aexecute(
            lambda: self._plan_total_value(address, chains, asset_type, exclude_risk_tokens)
        )

    async def aget_token_balances(
        self, address: str, tokens: Iterable[tuple[Any, str]], *, exclude_risk_tokens: bool = True
    ) -> list[TokenBalance]:
        return await self._aexecute(lambda: self._plan_token_balances(address, tokens, exclude_risk_tokens))

    async def aget_supported_chains(self) -> list[Chain]:
        return await self._aexecute(self._plan_supported_chains)

    def get_wallets_token_balances(
        self,
        addresses: Iterable[str],
        chains: Any,
        *,
        exclude_risk_tokens: bool = True,
        max_workers: int | None = None,
    ) -> dict[str, list[TokenBalance]]:
        """:meth:`get_all_token_balances` for many wallets at once, concurrently.

        Each address is asked only for the chains of its own family (an EVM address is not
        sent Solana); an address that no chain fits fails before any request. All or nothing:
        if any request fails after retries, this raises and returns nothing.
        """
        plans = {
            address: self._plan_all_token_balances(address, chains, exclude_risk_tokens)
            for address, chains in self._per_family(addresses, chains).items()
        }
        return dict(zip(plans, self._execute_many(list(plans.values()), max_workers), strict=True))

    def get_wallets_total_value(
        self,
        addresses: Iterable[str],
        chains: Any,
        *,
        asset_type: str = "all",
        exclude_risk_tokens: bool = True,
        max_workers: int | None = None,
    ) -> dict[str, Decimal]:
        """:meth:`get_total_value` for many wallets at once, concurrently (all or nothing)."""
        plans = {
            address: self._plan_total_value(address, chains, asset_type, exclude_risk_tokens)
            for address, chains in self._per_family(addresses, chains).items()
        }
        return dict(zip(plans, self._execute_many(list(plans.values()), max_workers), strict=True))

    @staticmethod
    def _per_family(addresses: Iterable[str], chains: Any) -> dict[str, list[str]]:
        chain_list = normalize_chains(chains)
        selection: dict[str, list[str]] = {}
        for raw in addresses:
            address = validate_address(raw)
            own = compatible_chains(address, chain_list)
            if not own:
                raise OkxInvalidInputError(
                    "chains", ",".join(chain_list), f"none of these chains can hold address {address}"
                )
            selection[address] = own
        return selection

    def test_connection(self) -> tuple[bool, str]:
        """One cheap signed call (supported chains); OKX's own message on failure."""
        try:
            chains = self.get_supported_chains()
        except OkxError as error:
            return False, str(error)
        except Exception as error:  # the UI shows the message; never a traceback with secrets
            return False, f"{type(error).__name__}: {error}"
        config = self.config
        return True, (
            f"Connected to OKX Web3 API {config.version.name} at {config.base_url}: "
            f"{len(chains)} chains supported"
        )


def _token_balances(results: list[list[Any]], address: str) -> list[TokenBalance]:
    balances: list[TokenBalance] = []
    for data in results:
        for entry in data:
            assets = entry.get("tokenAssets") if isinstance(entry, dict) else None
            for item in assets or ():
                balances.append(TokenBalance.from_okx(item, address=address))
    return balances


def _describe(exc: BaseException) -> str:
    """A transport error's kind and message (they carry the URL, never our headers)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
