"""``OkxHook``: exact token balances from OKX's Web3 balance API.

The public hook: the connection form, the configuration read from the connection, the
planned calls and the public methods. The protocol (signing, retries, rate limit, clock) and
the reading of answers live in :mod:`airflow_provider_okx.core.api`; the sync driver (``requests``,
one pooled session per hook, a total deadline and a body cap) in
:mod:`airflow_provider_okx.hooks.sync_transport`; the async one (``aiohttp``, one client per
event loop shared by every trigger) in :mod:`airflow_provider_okx.hooks.async_transport`.
Neither HTTP library is imported until a request is made, so DAG parsing never pays for them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from decimal import Decimal
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from airflow_provider_okx import CONN_FIELDS, CONN_TYPE, DEFAULT_CONN_ID, HOOK_NAME, UI_FIELD_BEHAVIOUR
from airflow_provider_okx.core.api import results, routes
from airflow_provider_okx.core.api.calls import Call
from airflow_provider_okx.core.api.errors import (
    OkxConnectionConfigError,
    OkxError,
    OkxInvalidInputError,
)
from airflow_provider_okx.core.api.paging import Pager
from airflow_provider_okx.core.api.protocol import OkxProtocol
from airflow_provider_okx.core.api.windows import TimeWindow
from airflow_provider_okx.core.chains import (
    address_key,
    check_family,
    chunked,
    compatible_chains,
    normalize_chains,
    validate_address,
)
from airflow_provider_okx.core.inputs import (
    MAX_WORKERS,
    parse_flag,
    parse_optional_count,
    parse_token_address,
)
from airflow_provider_okx.core.models import Chain, PricePoint, Shared, TokenBalance, Transaction
from airflow_provider_okx.core.progress import Progress
from airflow_provider_okx.glue.compat import BaseHook, amask_secret, mask_secret
from airflow_provider_okx.hooks.connection import OkxConfig, config_from_connection, shared_state

if TYPE_CHECKING:
    from datetime import datetime

    import requests

    from airflow_provider_okx.core.api.routes import ApiRequest
    from airflow_provider_okx.hooks.async_transport import RequestOptions
    from airflow_provider_okx.hooks.rate_store import RateStore
    from airflow_provider_okx.hooks.sync_transport import SyncTransport

T = TypeVar("T")
log = logging.getLogger(__name__)
"""Progress of the bulk methods (the protocol logs retries under ``airflow_provider_okx``)."""

V5_WARNING = (
    "this connection uses api_version 'v5', which OKX is retiring (its v5 routes may answer "
    "50050 'V5 API is being deprecated'): set the connection's extra api_version to 'v6'"
)


class OkxHook(BaseHook):
    """Interact with OKX's Web3 wallet balance API.

    :param okx_conn_id: an ``okx`` connection: login = API key, password = secret key, extra
        ``passphrase`` (required), ``project_id``, ``api_version`` (``v6``/``v5``),
        ``rate_limit_rps``, ``rate_limit_store`` (a Redis URL: ``rate_limit_rps`` is then the
        whole key's budget across every process), ``timeout`` (total seconds per attempt),
        ``max_retries``,
        ``max_response_bytes``, ``max_in_flight_bytes`` (the answers' bytes the many-wallet
        methods hold at once), and ``proxies``, ``verify``, ``cert``/``cert_key`` as
        ``HttpHook`` takes them.
    """

    conn_name_attr = "okx_conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = CONN_TYPE
    hook_name = HOOK_NAME

    # How the transports wait (rate limit slots, retry backoff); tests swap in recorders.
    _sleep = staticmethod(time.sleep)
    _asleep = staticmethod(asyncio.sleep)
    # The clock progress lines are timed by; tests swap in a controlled one.
    _monotonic = staticmethod(time.monotonic)

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
        from wtforms.validators import AnyOf, NumberRange, Optional

        widgets: dict[str, Any] = {}
        for name, spec in CONN_FIELDS.items():
            schema = spec["schema"]
            label = lazy_gettext(spec["label"])
            kwargs = {"description": spec.get("description", "")}
            if schema.get("enum"):
                # A select, but a StringField: Airflow 2 registers no hook whose form uses any
                # other field class than String/Integer/Password/Boolean (SelectField included).
                choices = list(schema["enum"])
                widgets[name] = StringField(
                    label,
                    default=schema.get("default"),
                    validators=[Optional(), AnyOf(choices)],
                    widget=_ChoicesWidget(choices),
                    **kwargs,
                )
            elif schema.get("format") == "password":
                widgets[name] = PasswordField(label, widget=BS3PasswordFieldWidget(), **kwargs)
            elif "integer" in schema["type"]:
                bounds = NumberRange(min=schema["minimum"], max=schema["maximum"])
                widgets[name] = IntegerField(
                    label, validators=[Optional(), bounds], widget=BS3TextFieldWidget(), **kwargs
                )
            elif "number" in schema["type"]:
                # A StringField (see above) holding a decimal number within the schema's bounds.
                bounds = _NumberInRange(schema["minimum"], schema["maximum"])
                widgets[name] = StringField(
                    label, validators=[Optional(), bounds], widget=BS3TextFieldWidget(), **kwargs
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
        for secret in config.secrets():
            mask_secret(secret)
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
        for secret in config.secrets():
            await amask_secret(secret)
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
            user_agent=self.config.user_agent,
        )

    # --- sync transport (hooks/sync_transport.py) ----------------------------------------------

    @cached_property
    def transport(self) -> SyncTransport:
        from airflow_provider_okx.hooks.sync_transport import SyncTransport

        return SyncTransport(
            self.config, self.protocol, lambda seconds: self._sleep(seconds), store=self._store
        )

    @property
    def _store(self) -> RateStore | None:
        """The shared rate budget's store, with ``rate_limit_store`` (else ``None``)."""
        return shared_state(self.config).store

    @property
    def session(self) -> requests.Session:
        """The sync transport's pooled keep-alive session (built on first use)."""
        return self.transport.session

    def _run(self, request: ApiRequest, interpret: Callable[[list[Any]], Any]) -> Any:
        return self.transport.run(request, interpret)

    def _execute(self, call: Call[T]) -> T:
        return call.combine([self._run(request, call.interpret) for request in call.requests])

    def _execute_many(self, calls: list[Call[T]], max_workers: int | None, what: str) -> list[T]:
        """Every request of every call, concurrently (see ``SyncTransport.run_many``).

        Logs progress at INFO at least every :data:`~airflow_provider_okx.core.progress.EVERY`
        seconds while it runs (wallets and requests done, retries, rate-limit waits, ETA), and
        one summary line at the end; nothing per request.
        """
        workers = parse_optional_count(max_workers, "max_workers", 1, MAX_WORKERS)
        progress = Progress(
            "wallets", len(calls), self._monotonic, requests=sum(len(call.requests) for call in calls)
        )
        results = self.transport.run_many(
            calls,
            workers or self.default_concurrency,
            progress,
            lambda line: log.info("Fetching %s: %s", what, line),
        )
        log.info("Fetched %s: %s", what, progress.summary())
        return results

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
            self.protocol,
            request,
            interpret,
            self._request_options,
            user=self,
            sleep=self._asleep,
            store=self._store,
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
        if "transport" in self.__dict__:
            self.__dict__.pop("transport").close()

    # --- plans: one per API call, shared by the sync and async methods -----------------------

    def _address_and_chains(self, address: object, chains: object) -> tuple[str, list[str]]:
        address = validate_address(address)
        chain_list = normalize_chains(chains)
        check_family(address, chain_list)
        return address, chain_list

    def _plan_all_token_balances(
        self,
        address: object,
        chains: object,
        exclude_risk_tokens: bool,
        token_filter: object = None,
        shared: Shared | None = None,
    ) -> Call[list[TokenBalance]]:
        exclude_risk_tokens = parse_flag(exclude_risk_tokens, "exclude_risk_tokens")
        addr, chain_list = self._address_and_chains(address, chains)
        version = self.config.version
        requests_ = [
            routes.all_token_balances(
                version, addr, chunk, exclude_risk_tokens=exclude_risk_tokens, token_filter=token_filter
            )
            for chunk in chunked(chain_list)
        ]
        read = results.token_balances(requests_[0].route, addr, shared=shared)
        return Call(requests_, results.concat, read)

    def _plan_total_value(
        self, address: object, chains: object, asset_type: str, exclude_risk_tokens: bool
    ) -> Call[Decimal]:
        exclude_risk_tokens = parse_flag(exclude_risk_tokens, "exclude_risk_tokens")
        addr, chain_list = self._address_and_chains(address, chains)
        version = self.config.version
        requests_ = [
            routes.total_value(
                version, addr, chunk, asset_type=asset_type, exclude_risk_tokens=exclude_risk_tokens
            )
            for chunk in chunked(chain_list)
        ]
        return Call(requests_, results.sum_values, results.total_value(requests_[0].route))

    def _plan_token_balances(
        self, address: object, tokens: Iterable[tuple[Any, str]], exclude_risk_tokens: bool
    ) -> Call[list[TokenBalance]]:
        exclude_risk_tokens = parse_flag(exclude_risk_tokens, "exclude_risk_tokens")
        addr = validate_address(address)
        pairs = self._token_pairs(tokens, lambda token: parse_token_address(token, "tokens"))
        check_family(addr, list(dict.fromkeys(chain for chain, _ in pairs)))
        version = self.config.version
        request = routes.token_balances(version, addr, pairs, exclude_risk_tokens=exclude_risk_tokens)
        # The older v5 docs answer this POST with a flat list of rows: accepted as well.
        read = results.token_balances(request.route, addr, flat=version is routes.V5)
        return Call([request], results.concat, read)

    @staticmethod
    def _token_pairs(
        tokens: Iterable[tuple[Any, str]],
        read_token: Callable[[object], str] = lambda token: _token_text(token),
    ) -> list[tuple[str, str]]:
        """``(chain, token_address)`` pairs, each checked: the chain normalised, the token read by
        ``read_token`` (balance calls check token contracts like wallets; price calls take text)."""
        pairs: list[tuple[str, str]] = []
        for item in tokens:
            try:
                chain, token = item
            except (TypeError, ValueError):
                raise OkxInvalidInputError(
                    "tokens", item, "each token is a (chain, token_address) pair"
                ) from None
            pairs.append((normalize_chains([chain])[0], read_token(token)))
        return pairs

    def _plan_current_prices(self, tokens: Iterable[tuple[Any, str]]) -> Call[list[PricePoint]]:
        pairs = list(dict.fromkeys(self._token_pairs(tokens)))
        if not pairs:
            raise OkxInvalidInputError("tokens", [], "at least one (chain, token_address) pair is required")
        version = self.config.version
        size = routes.MAX_PRICE_TOKENS
        requests_ = [routes.current_price(version, pairs[i : i + size]) for i in range(0, len(pairs), size)]
        return Call(requests_, _concat_prices, results.current_prices(requests_[0].route))

    def _transaction_pages(
        self, address: object, chains: object, begin: object, end: object, token_address: object
    ) -> Iterator[tuple[ApiRequest, Callable[[list[Any]], Any], Pager[Transaction]]]:
        """The sans-IO loop of a history read: yields (request, reader, pager) until every page
        of every chunk of chains is read; the caller runs the request and feeds the pager."""
        addr, chain_list = self._address_and_chains(address, chains)
        window = TimeWindow.of(begin, end)
        token = None if token_address is None else _token_text(token_address)
        version = self.config.version

        def in_window(record: Transaction) -> bool:
            return window.contains(record.tx_time)

        for chunk in chunked(chain_list):
            pager: Pager[Transaction] = Pager(lambda record: record.movement_key, in_window)
            while not pager.done:
                request = routes.transactions_by_address(
                    version,
                    addr,
                    chunk,
                    begin_ms=window.query_begin_ms,
                    end_ms=window.query_end_ms,
                    token_address=token,
                    cursor=pager.cursor,
                )
                yield (
                    request,
                    results.transaction_page(request.route, addr, version.transactions_field),
                    pager,
                )

    def _price_pages(
        self, chain_index: object, token_address: object, begin: object, end: object, period: str
    ) -> Iterator[tuple[ApiRequest, Callable[[list[Any]], Any], Pager[PricePoint]]]:
        chain = normalize_chains([chain_index])[0]
        token = _token_text(token_address)
        if begin is None or end is None:
            raise OkxInvalidInputError("begin" if begin is None else "end", None, "is required")
        window = TimeWindow.of(begin, end, end_inclusive=True)
        version = self.config.version
        pager: Pager[PricePoint] = Pager(lambda point: point.time, lambda point: window.contains(point.time))
        while not pager.done:
            request = routes.historical_price(
                version,
                chain,
                token,
                begin_ms=window.query_begin_ms or 0,
                end_ms=window.query_end_ms or 0,
                period=period,
                cursor=pager.cursor,
            )
            yield request, results.historical_price_page(request.route, chain, token), pager

    def _plan_supported_chains(self) -> Call[list[Chain]]:
        request = routes.supported_chains(self.config.version)
        return Call([request], results.first_result, results.supported_chains(request.route))

    # --- public API ----------------------------------------------------------------------------

    def get_all_token_balances(
        self, address: str, chains: Any, *, exclude_risk_tokens: bool = True, token_filter: Any = None
    ) -> list[TokenBalance]:
        """Every token ``address`` holds on ``chains`` (ints, strings, ``"1,56"`` or names).

        More than 50 chains are fetched in several requests and merged; if any fails after
        retries, the whole call fails.

        :param exclude_risk_tokens: drop risk (honeypot) tokens.
        :param token_filter: OKX's ``filter``: ``0`` hides risk, custom and passive tokens, ``1``
            returns every token; ``None`` (default) sends ``1`` when ``exclude_risk_tokens`` is
            false, so asking for risk tokens really returns them.
        """
        return self._execute(
            self._plan_all_token_balances(address, chains, exclude_risk_tokens, token_filter)
        )

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

    def iter_transaction_pages(
        self,
        address: str,
        chains: Any,
        *,
        begin: datetime | None = None,
        end: datetime | None = None,
        token_address: str | None = None,
    ) -> Iterator[list[Transaction]]:
        """The history of ``address`` on ``chains``, page by page, as OKX serves it (newest
        first): memory holds one page, whatever the history's length.

        Every record of the window once: the cursor is followed to the last page, and a
        record OKX repeats across a page boundary is yielded once (see
        :attr:`Transaction.movement_key`). Pages with no new record are not yielded.

        :param begin: aware datetime, inclusive (``None``: as far back as OKX keeps, about
            six months).
        :param end: aware datetime, exclusive (``None``: up to now). Naive datetimes are
            refused. ``[begin, end)`` windows tile: consecutive windows never share a record.
        :param token_address: ``None`` (default) every asset; ``""`` the native coin only;
            a contract address that token only.
        """
        for request, read, pager in self._transaction_pages(address, chains, begin, end, token_address):
            fresh = pager.accept(self._run(request, read))
            if fresh:
                yield fresh

    def get_transactions(
        self,
        address: str,
        chains: Any,
        *,
        begin: datetime | None = None,
        end: datetime | None = None,
        token_address: str | None = None,
    ) -> list[Transaction]:
        """Every record of the history of ``address`` on ``chains`` in ``[begin, end)``: all
        pages of :meth:`iter_transaction_pages`, in OKX's order (newest first)."""
        return [
            record
            for page in self.iter_transaction_pages(
                address, chains, begin=begin, end=end, token_address=token_address
            )
            for record in page
        ]

    def get_historical_prices(
        self,
        chain_index: Any,
        token_address: str,
        *,
        begin: datetime,
        end: datetime,
        period: str = "1d",
    ) -> list[PricePoint]:
        """OKX's index price of one token (``""`` = native coin) in ``[begin, end]`` (both
        inclusive), every page, oldest first, exact.

        :param period: ``1m``, ``5m``, ``30m``, ``1h`` or ``1d`` between points.
        """
        points: list[PricePoint] = []
        for request, read, pager in self._price_pages(chain_index, token_address, begin, end, period):
            points.extend(pager.accept(self._run(request, read)))
        return sorted(points, key=_point_time)

    def get_current_prices(self, tokens: Iterable[tuple[Any, str]]) -> list[PricePoint]:
        """OKX's current index price of each ``(chain_index, token_address)`` pair (``""`` =
        native), in batches of OKX's maximum (100). A token OKX did not price is left out."""
        return self._execute(self._plan_current_prices(tokens))

    async def aiter_transaction_pages(
        self,
        address: str,
        chains: Any,
        *,
        begin: datetime | None = None,
        end: datetime | None = None,
        token_address: str | None = None,
    ) -> AsyncIterator[list[Transaction]]:
        """:meth:`iter_transaction_pages` on the event loop."""
        await self._aconfig()
        for request, read, pager in self._transaction_pages(address, chains, begin, end, token_address):
            fresh = pager.accept(await self._arun(request, read))
            if fresh:
                yield fresh

    async def aget_transactions(
        self,
        address: str,
        chains: Any,
        *,
        begin: datetime | None = None,
        end: datetime | None = None,
        token_address: str | None = None,
    ) -> list[Transaction]:
        """:meth:`get_transactions` on the event loop."""
        records: list[Transaction] = []
        async for page in self.aiter_transaction_pages(
            address, chains, begin=begin, end=end, token_address=token_address
        ):
            records.extend(page)
        return records

    async def aget_historical_prices(
        self,
        chain_index: Any,
        token_address: str,
        *,
        begin: datetime,
        end: datetime,
        period: str = "1d",
    ) -> list[PricePoint]:
        """:meth:`get_historical_prices` on the event loop."""
        await self._aconfig()
        points: list[PricePoint] = []
        for request, read, pager in self._price_pages(chain_index, token_address, begin, end, period):
            points.extend(pager.accept(await self._arun(request, read)))
        return sorted(points, key=_point_time)

    async def aget_current_prices(self, tokens: Iterable[tuple[Any, str]]) -> list[PricePoint]:
        """:meth:`get_current_prices` on the event loop."""
        pairs = list(tokens)
        return await self._aexecute(lambda: self._plan_current_prices(pairs))

    async def aget_all_token_balances(
        self, address: str, chains: Any, *, exclude_risk_tokens: bool = True, token_filter: Any = None
    ) -> list[TokenBalance]:
        return await self._aexecute(
            lambda: self._plan_all_token_balances(address, chains, exclude_risk_tokens, token_filter)
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
        token_filter: Any = None,
        max_workers: int | None = None,
    ) -> dict[str, list[TokenBalance]]:
        """:meth:`get_all_token_balances` for many wallets at once, concurrently.

        Each address is asked only for the chains of its own family (an EVM address is not
        sent Solana); an address that no chain fits fails before any request. All or nothing:
        if any request fails after retries, this raises and returns nothing.

        Memory: each answer is parsed into rows as soon as it is read and dropped (the
        transport bounds the bytes of answers held at once, see
        :class:`~airflow_provider_okx.hooks.sync_transport.ByteBudget`), and the rows of all
        wallets share one copy of each repeated chain index, token address, symbol and price
        (:class:`~airflow_provider_okx.core.models.Shared`).
        """
        shared = Shared()
        plans = {
            address: self._plan_all_token_balances(
                address, chains, exclude_risk_tokens, token_filter, shared=shared
            )
            for address, chains in self._per_family(addresses, chains).items()
        }
        fetched = self._execute_many(list(plans.values()), max_workers, "token balances")
        return dict(zip(plans, fetched, strict=True))

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
        fetched = self._execute_many(list(plans.values()), max_workers, "total values")
        return dict(zip(plans, fetched, strict=True))

    @staticmethod
    def _per_family(addresses: Iterable[str], chains: Any) -> dict[str, list[str]]:
        """Each distinct wallet (by :func:`address_key`, first spelling kept) with its chains."""
        chain_list = normalize_chains(chains)
        selection: dict[str, list[str]] = {}
        seen: set[str] = set()
        for raw in addresses:
            address = validate_address(raw)
            if address_key(address) in seen:
                continue  # the same wallet written again: fetched and counted once
            seen.add(address_key(address))
            own = compatible_chains(address, chain_list)
            if not own:
                raise OkxInvalidInputError(
                    "chains", ",".join(chain_list), f"none of these chains can hold address {address}"
                )
            selection[address] = own
        return selection

    def test_connection(self) -> tuple[bool, str]:
        """One cheap signed call (supported chains), then the rate-limit store if one is set;
        OKX's (or the store's) own message on failure."""
        try:
            chains = self.get_supported_chains()
        except OkxConnectionConfigError as error:
            # Airflow 3 tests a connection under a random temporary id: name the field only.
            return False, f"The connection is not usable: {error.problem}"
        except OkxError as error:
            return False, str(error)
        except Exception as error:  # the UI shows the message; never a traceback with secrets
            return False, f"{type(error).__name__}: {error}"
        config = self.config
        message = (
            f"Connected to OKX Web3 API {config.version.name} at {config.base_url}: "
            f"{len(chains)} chains supported"
        )
        if config.version is routes.V5:
            message += f". Warning: {V5_WARNING}"
        store = self._store
        if store is None:
            return True, message
        reachable, answer = store.ping()
        if not reachable:
            return False, (
                f"{message}; but {answer} (requests fall back to pacing each process alone at a "
                "quarter of rate_limit_rps)"
            )
        return True, f"{message}; {answer}: rate_limit_rps={config.rate_limit_rps:g} shared by every process"


def _token_text(token: object) -> str:
    if not isinstance(token, str):
        raise OkxInvalidInputError("token_address", token, "expected text ('' for the native coin)")
    return token.strip()


def _point_time(point: PricePoint) -> datetime:
    return point.time


def _concat_prices(batches: list[list[PricePoint]]) -> list[PricePoint]:
    return [point for batch in batches for point in batch]


class _NumberInRange:
    """WTForms validator of a text field: a finite number within ``[minimum, maximum]``, the
    bounds the hook enforces when it reads the connection (Airflow 2's connection form)."""

    def __init__(self, minimum: float, maximum: float) -> None:
        self.min = minimum
        self.max = maximum

    def __call__(self, form: Any, field: Any) -> None:
        from wtforms.validators import ValidationError

        try:
            value = float(str(field.data).strip())
        except ValueError:
            raise ValidationError("Expected a number.") from None
        if not math.isfinite(value) or not self.min <= value <= self.max:
            raise ValidationError(f"Must be between {self.min:g} and {self.max:g}.")


class _ChoicesWidget:
    """Renders a text field as a ``<select>`` of fixed choices (Airflow 2's connection form)."""

    def __init__(self, choices: list[str]) -> None:
        self.choices = choices

    def __call__(self, field: Any, **kwargs: Any) -> Any:
        from markupsafe import Markup, escape
        from wtforms.widgets import html_params

        kwargs.setdefault("id", field.id)
        kwargs["class"] = "form-control"
        current = field.data or field.default or self.choices[0]
        options = "".join(
            f'<option value="{escape(value)}"{" selected" if value == current else ""}>'
            f"{escape(value)}</option>"
            for value in self.choices
        )
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")
