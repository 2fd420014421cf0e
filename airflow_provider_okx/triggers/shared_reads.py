"""Balance reads shared by the triggers of one event loop: one request per question.

A triggerer runs every trigger in one event loop. Triggers that ask OKX the same question
(same connection, API version, wallet, risk filter, and chains) share one request:

- a request in flight is awaited by every trigger that needs it;
- an answer younger than a trigger's ``max_age`` (the pause it just slept) is reused, so
  each trigger still sees data fresher than its previous poll, never older;
- the chains asked about one wallet by different triggers are merged into one
  all-token-balances request (at most 50 chains), once each chain has been answered once
  without error: a chain OKX refuses fails only the triggers that asked for it.

Each trigger gets the rows of its own chains and evaluates its own condition. A failed request
raises the same typed error in every trigger that awaited it, and is not remembered (the next
poll asks again). A trigger cancelled while waiting leaves the request running for the others
(``asyncio.shield``); the request is cancelled only when nobody waits for it any more. All of
this is kept per event loop (:class:`~airflow_provider_okx.hooks.loop_local.LoopLocal`) and goes
when the loop shuts down.

Use: ``await read_token_balances(hook, address, chains, exclude_risk_tokens=..., max_age=...)``
or :func:`read_total_value`, from any trigger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from airflow_provider_okx.core.chains import (
    MAX_CHAINS_PER_REQUEST,
    address_key,
    normalize_chains,
    validate_address,
)
from airflow_provider_okx.hooks.loop_local import LoopLocal

if TYPE_CHECKING:
    from airflow_provider_okx.core.models import TokenBalance
    from airflow_provider_okx.core.thresholds import BalanceCondition
    from airflow_provider_okx.hooks.okx import OkxHook

ALL_TOKENS = "1"
"""OKX's ``filter`` value that hides no token (risk tokens are then dropped by their flag)."""
SWEEP_EVERY = 60.0
"""Seconds between passes that forget questions nobody asked for a while."""
MIN_MEMORY = 60.0
"""A question's answer and chain interests are kept at least this long after it was asked."""


async def read_token_balances(
    hook: OkxHook,
    address: str,
    chains: Any,
    *,
    exclude_risk_tokens: bool = True,
    max_age: float = 0.0,
) -> list[TokenBalance]:
    """Every token ``address`` holds on ``chains``, from a request shared with the loop's other
    triggers: OKX's all-token-balances, which answers for every token of the wallet at once
    (a token it does not list is held at 0).

    It asks with OKX's ``filter=1`` (every token: v6's default ``0`` also hides "custom" and
    "passive" tokens, which a specific-token request would return), and drops the rows OKX
    flags ``isRiskToken`` when ``exclude_risk_tokens``: the rows a specific-token request with
    the same risk filter gives, for every token at once.

    :param hook: sends the request if a new one is needed.
    :param max_age: seconds an answer may have aged and still be used; ``0`` takes only a
        request still in flight (or a new one).
    """
    addr = validate_address(address)
    wanted = normalize_chains(chains)
    config = await hook._aconfig()
    key = ("balances", hook.okx_conn_id, config.version.name, address_key(addr), bool(exclude_risk_tokens))

    def fetch(ask: list[str]) -> Awaitable[list[TokenBalance]]:
        return hook.aget_all_token_balances(
            addr, ask, exclude_risk_tokens=exclude_risk_tokens, token_filter=ALL_TOKENS
        )

    reads = await _READS.get()
    rows: list[TokenBalance] = await reads.read(key, wanted, max_age, fetch, merge_chains=True)
    own = set(wanted)
    return [row for row in rows if row.chain_index in own and not (exclude_risk_tokens and row.is_risk_token)]


async def read_total_value(
    hook: OkxHook,
    address: str,
    chains: Any,
    *,
    asset_type: str = "all",
    exclude_risk_tokens: bool = True,
    max_age: float = 0.0,
) -> Decimal:
    """OKX's USD valuation of ``address`` over exactly ``chains``, shared like
    :func:`read_token_balances` (a total over other chains is another question)."""
    addr = validate_address(address)
    wanted = normalize_chains(chains)
    config = await hook._aconfig()
    key = (
        "total",
        hook.okx_conn_id,
        config.version.name,
        address_key(addr),
        frozenset(wanted),
        asset_type,
        bool(exclude_risk_tokens),
    )

    def fetch(ask: list[str]) -> Awaitable[Decimal]:
        return hook.aget_total_value(
            addr, ask, asset_type=asset_type, exclude_risk_tokens=exclude_risk_tokens
        )

    reads = await _READS.get()
    total: Decimal = await reads.read(key, wanted, max_age, fetch, merge_chains=False)
    return total


@dataclass
class _Answer:
    value: Any
    chains: frozenset[str]
    at: float
    """``loop.time()`` when it arrived: the data is at least this fresh."""


@dataclass(eq=False)
class _Flight:
    chains: frozenset[str]
    task: asyncio.Future[Any] | None = None
    waiters: int = 0


@dataclass
class _Question:
    flights: list[_Flight] = field(default_factory=list)
    answer: _Answer | None = None
    interests: dict[str, float] = field(default_factory=dict)
    """Chain -> until when (loop time) some trigger is expected to ask for it again."""
    proven: set[str] = field(default_factory=set)
    """Chains OKX answered without error: only these are merged into others' requests."""
    asked_at: float = 0.0
    memory: float = MIN_MEMORY


class SharedReads:
    """The requests in flight and recent answers of one event loop, by question."""

    def __init__(self) -> None:
        self._questions: dict[Hashable, _Question] = {}
        self._swept_at = 0.0
        self.requests = 0
        """Requests started (for the benchmark and tests)."""

    def __len__(self) -> int:
        return len(self._questions)

    async def read(
        self,
        key: Hashable,
        chains: Iterable[str],
        max_age: float,
        fetch: Callable[[list[str]], Awaitable[Any]],
        *,
        merge_chains: bool,
    ) -> Any:
        """The answer to ``key`` over (at least) ``chains``: reused, joined or fetched."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        self._sweep(now)
        wanted = frozenset(chains)
        question = self._questions.get(key)
        if question is None:
            question = self._questions[key] = _Question()
        question.asked_at = now
        question.memory = max(MIN_MEMORY, 3 * max_age)
        if merge_chains:
            until = now + 2 * max_age + 1.0
            for chain in wanted:
                question.interests[chain] = max(question.interests.get(chain, 0.0), until)

        answer = question.answer
        if answer is not None and wanted <= answer.chains and now - answer.at < max_age:
            return answer.value
        for flight in question.flights:
            # Join a request that covers our chains, unless it also carries a chain not yet
            # proven that is not ours (its failure would not be ours to share).
            if wanted <= flight.chains and flight.chains - question.proven <= wanted:
                return await self._await(question, flight)
        flight = _Flight(self._chains_to_ask(question, wanted, now) if merge_chains else wanted)
        flight.task = asyncio.ensure_future(self._fly(question, flight, fetch))
        question.flights.append(flight)
        self.requests += 1
        return await self._await(question, flight)

    @staticmethod
    def _chains_to_ask(question: _Question, wanted: frozenset[str], now: float) -> frozenset[str]:
        """Our chains, plus the proven chains others still watch on this wallet (<= 50)."""
        room = MAX_CHAINS_PER_REQUEST - len(wanted)
        if room <= 0:
            return wanted
        others = sorted(
            chain
            for chain, until in question.interests.items()
            if until >= now and chain in question.proven and chain not in wanted
        )
        return wanted | frozenset(others[:room])

    async def _fly(
        self, question: _Question, flight: _Flight, fetch: Callable[[list[str]], Awaitable[Any]]
    ) -> Any:
        try:
            value = await fetch(sorted(flight.chains, key=_chain_order))
        finally:
            _forget(question, flight)
        now = asyncio.get_running_loop().time()
        question.proven |= flight.chains
        if question.answer is None or question.answer.at <= now:
            question.answer = _Answer(value, flight.chains, now)
        return value

    @staticmethod
    async def _await(question: _Question, flight: _Flight) -> Any:
        assert flight.task is not None
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                # Nobody needs it any more; nobody can join it from now on either.
                _forget(question, flight)
                flight.task.cancel()

    def _sweep(self, now: float) -> None:
        if now - self._swept_at < SWEEP_EVERY:
            return
        self._swept_at = now
        for key, question in list(self._questions.items()):
            question.interests = {c: until for c, until in question.interests.items() if until >= now}
            if not question.flights and now - question.asked_at > question.memory:
                del self._questions[key]


def _forget(question: _Question, flight: _Flight) -> None:
    if flight in question.flights:
        question.flights.remove(flight)


def _chain_order(chain: str) -> tuple[int, str]:
    return (int(chain), chain) if chain.isdigit() else (0, chain)


async def _close(reads: SharedReads) -> None:
    for question in reads._questions.values():
        for flight in question.flights:
            if flight.task is not None:
                flight.task.cancel()
    reads._questions.clear()


_READS: LoopLocal[SharedReads] = LoopLocal(SharedReads, _close)


def loop_reads() -> SharedReads | None:
    """The running loop's shared reads, if any trigger used them (tests and the benchmark)."""
    return _READS.peek()


def loops_with_reads() -> int:
    """How many event loops hold shared reads (0 once every loop that used them is gone)."""
    return len(_READS)


async def read_watched_value(hook: OkxHook, wait: BalanceCondition, *, max_age: float = 0.0) -> Decimal:
    """The value a :class:`~airflow_provider_okx.core.thresholds.BalanceCondition` watches, read
    through the loop's shared requests: the wallet's total over its chains for ``total_usd``,
    else the watched token's balance or USD value (a token OKX does not list is held at 0)."""
    if wait.metric == "total_usd":
        return await read_total_value(
            hook,
            wait.address,
            list(wait.chains),
            exclude_risk_tokens=wait.exclude_risk_tokens,
            max_age=max_age,
        )
    rows = await read_token_balances(
        hook, wait.address, list(wait.chains), exclude_risk_tokens=wait.exclude_risk_tokens, max_age=max_age
    )
    return wait.value_from_tokens(rows)
