"""Triggers in one event loop share their requests (``triggers/shared_reads.py``), counted at
the simulator: one request per wallet per poll round, errors to every waiter, cancellation of
one waiter never cancelling the others' request, nothing left once the loop is gone."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from urllib.parse import parse_qs

import pytest

from airflow_provider_okx.core.api.errors import OkxInvalidRequestError
from airflow_provider_okx.core.thresholds import BalanceCondition
from airflow_provider_okx.hooks import async_transport
from airflow_provider_okx.hooks.okx import OkxHook
from airflow_provider_okx.testing import Fault
from airflow_provider_okx.triggers import shared_reads
from airflow_provider_okx.triggers.balance import OkxBalanceTrigger
from airflow_provider_okx.triggers.shared_reads import read_token_balances, read_total_value

WALLET = "0x" + "5a" * 20
OTHER = "0x" + "6b" * 20
USDT = "0xdac17f958d2ee523a2206206994597c13d831ec7"
USDC = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"


def _requests_for(sim, address: str, endpoint: str = "all_token_balances") -> list[dict[str, list[str]]]:
    """The query of every request the simulator received for ``address`` (case folded)."""
    queries = [parse_qs(r.query) for r in list(sim.requests) if r.endpoint == endpoint]
    return [q for q in queries if q.get("address", [""])[0].lower() == address.lower()]


def _trigger(
    address: str = WALLET, threshold: str = "1000000", interval: float = 0.2, **cond
) -> OkxBalanceTrigger:
    condition = BalanceCondition.build(
        address=address, chain=cond.pop("chain", 1), threshold=threshold, **cond
    )
    return OkxBalanceTrigger(condition=condition.to_kwargs(), poke_interval=interval)


async def _run_for(
    triggers: list[OkxBalanceTrigger], until: Callable[[list[dict]], bool] | None = None, limit: float = 60.0
) -> list[dict]:
    """Run triggers as a triggerer does until ``until(events)`` holds or each fired, then clean
    up. The test waits for a state, not for a guessed duration (a loaded machine polls less in
    a second); ``limit`` seconds is only a backstop against a hang."""
    events: list[dict] = []

    async def drive(trigger: OkxBalanceTrigger) -> None:
        async for event in trigger.run():
            events.append(event.payload)
            return

    tasks = [asyncio.ensure_future(drive(t)) for t in triggers]
    backstop = time.monotonic() + limit
    while not all(task.done() for task in tasks) and not (until is not None and until(events)):
        assert time.monotonic() < backstop, "the awaited state never came"
        await asyncio.wait(tasks, timeout=0.01)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    for trigger in triggers:
        await trigger.cleanup()
    return events


@pytest.fixture
def poll_counter(monkeypatch):
    """Polls per trigger (by its hook), counted around the trigger's one read."""
    from airflow_provider_okx.triggers import balance as balance_trigger

    polls: Counter[int] = Counter()
    original = balance_trigger.read_watched_value

    async def observe(hook, wait, *, max_age):
        polls[id(hook)] += 1
        return await original(hook, wait, max_age=max_age)

    monkeypatch.setattr(balance_trigger, "read_watched_value", observe)
    return polls


def test_ten_triggers_on_one_wallet_send_one_request_per_round(okx_simulator_connection, poll_counter):
    sim = okx_simulator_connection
    sim.latency = 0.2  # every trigger's first poll finds the first request still in flight
    tokens = ["", USDT, USDC, *(f"0x{k:040x}" for k in range(1, 8))]
    triggers = [
        _trigger(token_address=token, threshold=str(10**9 + k), metric="usd_value" if k % 2 else "balance")
        for k, token in enumerate(tokens)
    ]
    triggers.append(_trigger(address=OTHER))  # another wallet: its own requests

    # Until every trigger has polled three times (three rounds), however long that takes.
    events = asyncio.run(
        _run_for(triggers, lambda _: len(poll_counter) == 11 and min(poll_counter.values()) >= 3)
    )

    assert events == []
    rounds = max(poll_counter.values())
    assert rounds >= 3
    assert min(poll_counter.values()) >= 3  # everyone kept polling
    # One request per round for the ten, however many triggers polled in it.
    assert len(_requests_for(sim, WALLET)) <= rounds
    assert len(_requests_for(sim, OTHER)) <= rounds
    assert sim.count(endpoint="token_balances") == 0


def test_each_trigger_keeps_its_own_condition_and_log_line(okx_simulator_connection, caplog, poll_counter):
    sim = okx_simulator_connection
    sim.latency = 0.2
    sim.set_balance(WALLET, "1", USDT, "7", price="1", symbol="USDT")
    caplog.set_level("INFO", logger="airflow_provider_okx.triggers.balance")
    met = _trigger(token_address=USDT, threshold="5")
    unmet = _trigger(token_address=USDT, threshold="8")
    absent = _trigger(token_address=USDC, threshold="0", condition=">")  # not held: 0

    # Until ``met`` fired and the two others finished a poll (and logged it): they poll again.
    events = asyncio.run(
        _run_for(
            [met, unmet, absent],
            lambda ev: len(ev) == 1 and len(poll_counter) == 3 and sorted(poll_counter.values())[1] >= 2,
        )
    )

    assert [e["status"] for e in events] == ["success"]
    assert events[0]["result"]["value"] == "7"
    assert events[0]["result"]["threshold"] == "5"
    lines = [r.getMessage() for r in caplog.records]
    assert any("is 7 (waiting for >= 5)" in line for line in lines)
    assert any("is 7 (waiting for >= 8)" in line for line in lines)
    assert any("is 0 (waiting for > 0)" in line for line in lines)
    assert len(_requests_for(sim, WALLET)) >= 1


def test_a_failing_shared_request_fails_every_waiter_with_the_same_error(okx_simulator_connection):
    sim = okx_simulator_connection
    sim.inject(Fault(status=400, code="50014", msg="param address is invalid", latency=0.3))

    async def go() -> list[BaseException | list]:
        hooks = [OkxHook() for _ in range(5)]
        try:
            return await asyncio.gather(
                *(read_token_balances(h, WALLET, 1) for h in hooks), return_exceptions=True
            )
        finally:
            for hook in hooks:
                await hook.aclose()

    outcomes = asyncio.run(go())
    assert all(isinstance(o, OkxInvalidRequestError) for o in outcomes)
    assert all(o is outcomes[0] for o in outcomes)  # one request, one error, five waiters
    assert outcomes[0].code == "50014"
    assert len(_requests_for(sim, WALLET)) == 1


def test_triggers_sharing_a_failed_request_each_fire_the_error_event(okx_simulator_connection):
    sim = okx_simulator_connection
    sim.inject(Fault(status=401, code="50113", latency=0.3))
    triggers = [_trigger(token_address=token) for token in ("", USDT, USDC)]

    events = asyncio.run(_run_for(triggers))  # until each fired

    assert len(events) == 3
    assert {(e["status"], e["code"], e["permanent"]) for e in events} == {("error", "50113", True)}
    assert len(_requests_for(sim, WALLET)) == 1


def _waiters() -> int:
    """Triggers of this event loop waiting on a shared request now."""
    reads = shared_reads.loop_reads()
    if reads is None:
        return 0
    return sum(flight.waiters for question in reads._questions.values() for flight in question.flights)


async def _until(condition, steps: int = 20_000) -> None:
    """Yield to the event loop until ``condition()`` holds: a state the test waits for, never a
    guessed duration (on a loaded machine 0.1 s may not be enough for a request to start)."""
    for _ in range(steps):
        if condition():
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the awaited state never came")


def test_cancelling_one_waiter_leaves_the_request_to_the_others(okx_simulator_connection):
    sim = okx_simulator_connection
    sim.latency = 0.5
    sim.set_balance(WALLET, "1", USDT, "3", price="2", symbol="USDT")

    async def go() -> tuple[list, list, bool]:
        hooks = [OkxHook() for _ in range(3)]
        leader = asyncio.ensure_future(read_token_balances(hooks[0], WALLET, 1))
        await _until(lambda: _waiters() == 1)  # the leader's request is on its way
        others = [asyncio.ensure_future(read_token_balances(h, WALLET, 1)) for h in hooks[1:]]
        await _until(lambda: _waiters() == 3)  # and the others wait for it
        leader.cancel()
        await hooks[0].aclose()  # what a cancelled trigger's cleanup does
        first, second = await asyncio.gather(*others)
        for hook in hooks[1:]:
            await hook.aclose()
        return first, second, leader.cancelled()

    first, second, cancelled = asyncio.run(go())
    assert cancelled
    assert first == second
    assert [(r.token_address, str(r.balance)) for r in first if r.token_address == USDT] == [(USDT, "3")]
    assert len(_requests_for(sim, WALLET)) == 1


def test_a_request_nobody_waits_for_any_more_is_cancelled(okx_simulator_connection):
    import threading

    sim = okx_simulator_connection
    arrived = threading.Event()

    class Latency(float):
        """0.3 s of latency that also says when the simulator started serving a request."""

        def __gt__(self, other: object) -> bool:
            arrived.set()
            return float(self) > other  # type: ignore[operator]

    sim.latency = Latency(0.3)

    async def go() -> tuple[int, int]:
        hook = OkxHook()
        waiter = asyncio.ensure_future(read_token_balances(hook, WALLET, 1))
        await _until(arrived.is_set)  # its request reached the simulator, which is answering
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
        reads = shared_reads.loop_reads()
        assert reads is not None
        in_flight = sum(len(q.flights) for q in reads._questions.values())
        rows = await read_token_balances(hook, WALLET, 1, max_age=60)  # nothing to reuse: asks again
        await hook.aclose()
        return in_flight, len(rows)

    in_flight, rows = asyncio.run(go())
    assert in_flight == 0
    assert rows > 0
    assert len(_requests_for(sim, WALLET)) == 2


def test_an_answer_is_reused_only_while_younger_than_max_age(okx_simulator_connection):
    sim = okx_simulator_connection

    async def go() -> None:
        hook = OkxHook()
        await read_token_balances(hook, WALLET, 1)
        await read_token_balances(hook, WALLET.upper().replace("0X", "0x"), 1, max_age=30)  # reused
        await read_token_balances(hook, WALLET, 1)  # max_age 0: never an old answer
        await read_token_balances(hook, WALLET, 1, exclude_risk_tokens=False, max_age=30)  # other question
        await hook.aclose()

    asyncio.run(go())
    queries = _requests_for(sim, WALLET)
    assert [q["excludeRiskToken"][0] for q in queries] == ["0", "0", "1"]


def test_chains_of_one_wallet_merge_into_one_request_once_each_was_answered(okx_simulator_connection):
    sim = okx_simulator_connection

    async def go() -> tuple[list, list]:
        hook = OkxHook()
        await read_token_balances(hook, WALLET, 1, max_age=5)
        await read_token_balances(hook, WALLET, 56, max_age=5)  # 56 is new: its own request (+1)
        ethereum = await read_token_balances(hook, WALLET, 1)  # both proven: asks for both
        bnb = await read_token_balances(hook, WALLET, 56, max_age=5)  # answered by that one
        await hook.aclose()
        return ethereum, bnb

    ethereum, bnb = asyncio.run(go())
    assert [q["chains"][0] for q in _requests_for(sim, WALLET)] == ["1", "1,56", "1,56"]
    assert ethereum and {r.chain_index for r in ethereum} == {"1"}
    assert bnb and {r.chain_index for r in bnb} == {"56"}


def test_a_chain_okx_refuses_fails_only_who_asked_for_it(okx_simulator_connection):
    sim = okx_simulator_connection
    sim.unsupported_chains = {"56"}

    async def go() -> tuple[BaseException | None, list]:
        hook = OkxHook()
        await read_token_balances(hook, WALLET, 1, max_age=5)
        refused = None
        try:
            await read_token_balances(hook, WALLET, 56, max_age=5)
        except OkxInvalidRequestError as error:
            refused = error
        rows = await read_token_balances(hook, WALLET, 1)  # 56 was never answered: not merged in
        await hook.aclose()
        return refused, rows

    refused, rows = asyncio.run(go())
    assert refused is not None and refused.code == "81104"
    assert rows
    # 56 rode with the proven 1 and failed only its own asker; then 1 goes alone again.
    assert [q["chains"][0] for q in _requests_for(sim, WALLET)] == ["1", "1,56", "1"]


def test_total_usd_triggers_share_total_value_requests(okx_simulator_connection):
    sim = okx_simulator_connection
    sim.latency = 0.2

    async def go() -> list:
        hooks = [OkxHook() for _ in range(4)]
        totals = await asyncio.gather(
            read_total_value(hooks[0], WALLET, "1,56"),
            read_total_value(hooks[1], WALLET, [56, 1]),  # the same chains, another order
            read_total_value(hooks[2], WALLET, "1,56"),
            read_total_value(hooks[3], WALLET, 1),  # another question
        )
        for hook in hooks:
            await hook.aclose()
        return totals

    totals = asyncio.run(go())
    assert totals[0] == totals[1] == totals[2]
    assert sorted(q["chains"][0] for q in _requests_for(sim, WALLET, "total_value")) == ["1", "1,56"]


def test_nothing_shared_survives_its_event_loop(okx_simulator_connection):
    async def go() -> tuple[int, int]:
        hook = OkxHook()  # never closed: the end of the loop must release what it holds
        await read_token_balances(hook, WALLET, 1)
        return shared_reads.loops_with_reads(), async_transport.open_clients()

    for _ in range(3):
        assert asyncio.run(go()) == (1, 1)
        assert shared_reads.loops_with_reads() == 0
        assert async_transport.open_clients() == 0


@pytest.mark.parametrize("version", ["v6", "v5"])
def test_every_token_is_asked_for_and_risk_tokens_are_dropped_by_their_flag(
    okx_simulator, monkeypatch, version
):
    """v5's risk parameter is the filter itself: there only the flag drops risk tokens."""
    from airflow_provider_okx.testing.wallets import base_assets

    sim = okx_simulator
    monkeypatch.setenv("AIRFLOW_CONN_OKX_DEFAULT", sim.connection_json(rate_limit_rps=0, api_version=version))
    wallet = next(
        address
        for address in (f"0x{k:040x}" for k in range(1, 200))
        if any(a.is_risk_token for a in base_assets(address, "1"))
    )
    risky = {a.token_address for a in base_assets(wallet, "1") if a.is_risk_token}

    async def go() -> tuple[list, list]:
        hook = OkxHook()
        safe = await read_token_balances(hook, wallet, 1, exclude_risk_tokens=True)
        every = await read_token_balances(hook, wallet, 1, exclude_risk_tokens=False)
        await hook.aclose()
        return safe, every

    safe, every = asyncio.run(go())
    assert risky and risky <= {r.token_address for r in every}
    assert not risky & {r.token_address for r in safe}
    assert {r.token_address for r in safe} == {r.token_address for r in every} - risky
    # filter=1: v6's default also hides "custom" and "passive" tokens a specific-token
    # request would have returned.
    assert [q.get("filter") for q in _requests_for(sim, wallet)] == [["1"], ["1"]]
    if version == "v5":  # the same request twice: OKX answered risk tokens both times
        assert len({str(sorted(q.items())) for q in _requests_for(sim, wallet)}) == 1
