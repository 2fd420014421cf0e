"""Progress of long work: the pure accounting (core/progress.py) and its thin use in the hook's
fan-out and the SQL loader, all on a controlled clock (no test sleeps)."""

from __future__ import annotations

import logging
import threading

import pytest

from airflow_provider_okx.core.progress import EVERY, Progress, format_duration
from airflow_provider_okx.hooks.okx import OkxHook
from tests.conftest import BASE_URL

V6_ALL = f"{BASE_URL}/api/v6/dex/balance/all-token-balances-by-address"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0, "0 s"), (59.4, "59 s"), (60, "1 min 00 s"), (185, "3 min 05 s"), (7620, "2 h 07 min")],
)
def test_durations_in_words(seconds, words):
    assert format_duration(seconds) == words


def test_a_line_is_due_every_interval_not_before():
    clock = Clock()
    progress = Progress("wallets", 10, clock, requests=30)
    assert not progress.due()
    clock.now += EVERY - 0.1
    assert not progress.due()
    assert progress.seconds_to_next() == pytest.approx(0.1)
    clock.now += 0.1
    assert progress.due()
    assert not progress.due()  # the next one is counted from this one
    assert progress.seconds_to_next() == pytest.approx(EVERY)
    clock.now += EVERY
    assert progress.due()


def test_nothing_is_due_once_everything_is_done():
    clock = Clock()
    progress = Progress("rows", 2, clock)
    progress.advance(2)
    clock.now += 60
    assert not progress.due()


def test_line_counts_rate_and_eta():
    clock = Clock()
    progress = Progress("wallets", 100, clock, requests=300)
    for _ in range(36):
        progress.request_done()
    progress.advance(12)
    progress.retried()
    for _ in range(4):
        progress.rate_limited(0.5)
    clock.now += 10
    # 12 wallets in 10 s: 1.2 wallets/s, 88 left: 73.3 s.
    assert progress.eta() == pytest.approx(88 * 10 / 12)
    assert progress.line() == (
        "12/100 wallets (12%), 36/300 requests, 1 retry, 4 rate-limited waits (2.0 s); "
        "1.2 wallets/s, ETA 1 min 13 s"
    )


def test_no_eta_before_the_first_unit():
    clock = Clock()
    progress = Progress("wallets", 5, clock, requests=5)
    clock.now += 30
    assert progress.eta() is None
    assert progress.line().endswith("ETA unknown (none done yet)")


def test_summary_and_work_without_requests():
    clock = Clock()
    progress = Progress("rows", 5000, clock)
    progress.advance(5000)
    clock.now += 125
    assert progress.summary() == "5000/5000 rows in 2 min 05 s"
    assert progress.took() == "2 min 05 s"
    assert "requests" not in progress.line()


def test_counts_from_many_threads_add_up():
    progress = Progress("wallets", 8000, Clock(), requests=8000)

    def work() -> None:
        for _ in range(1000):
            progress.request_done()
            progress.retried()
            progress.advance()

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (progress.done, progress.requests, progress.retries) == (8000, 8000, 8000)


@pytest.mark.parametrize("bad", [{"total": -1}, {"requests": -1}, {"every": 0}])
def test_refuses_nonsense(bad):
    kwargs = {"total": 1, **bad}
    total = kwargs.pop("total")
    with pytest.raises(ValueError):
        Progress("wallets", total, Clock(), **kwargs)


# --- the hook's fan-out -------------------------------------------------------------------


def _answer(chain: str = "1") -> dict:
    return {
        "code": "0",
        "msg": "",
        "data": [
            {
                "tokenAssets": [
                    {
                        "chainIndex": chain,
                        "tokenContractAddress": "",
                        "symbol": "ETH",
                        "balance": "1.5",
                        "tokenPrice": "2",
                        "rawBalance": "",
                        "isRiskToken": False,
                        "address": "",
                    }
                ]
            }
        ],
    }


def _wallets(n: int) -> list[str]:
    return [f"0x{i + 1:040x}" for i in range(n)]


class StepClock(Clock):
    """Moves ``step`` seconds each time it is read: work that takes time, without sleeping."""

    def __init__(self, step: float) -> None:
        super().__init__()
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class Lines:
    def __init__(self, caplog) -> None:
        self.caplog = caplog

    def info(self) -> list[str]:
        """Every INFO line the provider logged (the protocol's retries are WARNING)."""
        return [
            r.getMessage()
            for r in self.caplog.records
            if r.levelno == logging.INFO and r.name.startswith("airflow_provider_okx")
        ]


@pytest.fixture
def hook_log(caplog):
    caplog.set_level(logging.INFO, logger="airflow_provider_okx")
    return Lines(caplog)


def test_fan_out_logs_progress_and_one_summary_nothing_per_request(
    okx_conn, requests_mock, no_sleep, monkeypatch, hook_log
):
    limited = {"status_code": 429, "json": {"code": "50011", "msg": "Too Many Requests", "data": []}}
    requests_mock.get(V6_ALL, [limited] + [{"json": _answer()}] * 40)
    monkeypatch.setattr(OkxHook, "_monotonic", staticmethod(StepClock(3.0)))
    fetched = OkxHook().get_wallets_token_balances(_wallets(30), ["1"], max_workers=1)
    assert len(fetched) == 30

    lines = hook_log.info()
    progress = [line for line in lines if line.startswith("Fetching token balances: ")]
    summary = [line for line in lines if line.startswith("Fetched token balances: ")]
    assert len(summary) == 1
    assert summary[0].startswith("Fetched token balances: 30/30 wallets in ")
    assert "30/30 requests, 1 retry, 0 rate-limited waits" in summary[0]
    # The clock moves 3 s a read: a line is due every few requests, never per request.
    assert 2 <= len(progress) < 30
    assert all("/30 wallets" in line and "ETA" in line for line in progress)
    assert len(lines) == len(progress) + len(summary)  # nothing else at INFO


def test_fan_out_counts_rate_limit_waits(okx_conn, requests_mock, no_sleep, monkeypatch, hook_log):
    okx_conn(rate_limit_rps=1)
    requests_mock.get(V6_ALL, json=_answer())
    monkeypatch.setattr(OkxHook, "_monotonic", staticmethod(Clock()))
    OkxHook().get_wallets_token_balances(_wallets(3), ["1"], max_workers=1)
    (summary,) = [line for line in hook_log.info() if line.startswith("Fetched token balances")]
    # Three requests at one a second: the second and third wait for the key's limit.
    waits = int(summary.split(" rate-limited waits")[0].rsplit(" ", 1)[1])
    assert waits == len([w for w in no_sleep.waits if w > 0]) >= 2


def test_a_failed_fan_out_logs_no_summary_and_raises(okx_conn, requests_mock, no_sleep, hook_log):
    from airflow_provider_okx.core.api.errors import OkxAuthError

    requests_mock.get(V6_ALL, status_code=401, json={"code": "50113", "msg": "Invalid Sign", "data": []})
    with pytest.raises(OkxAuthError):
        OkxHook().get_wallets_token_balances(_wallets(5), ["1"], max_workers=4)
    assert not [line for line in hook_log.info() if line.startswith("Fetched")]


def test_threaded_fan_out_logs_while_no_request_finishes(okx_conn, requests_mock, no_sleep, monkeypatch):
    """Every request hangs until a progress line is out: the line comes from the waiting
    thread, not from a finished request."""
    clock = Clock()
    gate = threading.Event()
    lines: list[str] = []

    class Released(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())
            if record.getMessage().startswith("Fetching"):
                gate.set()

    def slow(request, context):
        clock.now += EVERY + 1  # the work takes longer than a progress interval...
        assert gate.wait(timeout=60)  # ...and does not finish before a line is out
        return _answer()

    requests_mock.get(V6_ALL, json=slow)
    monkeypatch.setattr(OkxHook, "_monotonic", staticmethod(clock))
    logger = logging.getLogger("airflow_provider_okx.hooks.okx")
    handler = Released(logging.INFO)
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        OkxHook().get_wallets_token_balances(_wallets(4), ["1"], max_workers=4)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert lines[0].startswith("Fetching token balances: 0/4 wallets (0%), 0/4 requests")
    assert lines[0].endswith("ETA unknown (none done yet)")
    assert lines[-1].startswith("Fetched token balances: 4/4 wallets")
