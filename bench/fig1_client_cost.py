"""Figure 1: client CPU per balance call, ours vs three floors vs ``python-okx``.

The simulator runs as ``python -m airflow_provider_okx.testing`` in another process, so
``time.process_time()`` here is the client's alone. Every contender fetches the seed wallet on
chain 1 with risk tokens included (OKX's documented 31-token example) over one keep-alive
connection; each round runs ``N`` calls of each contender, the order rotating between rounds,
and the figure is the median over rounds of CPU per call.

Four floors: the *bare* floor (``http.client`` + ``json.loads``) does none of our job; the
*exact* floor also turns the 31 rows into exact ``Decimal`` balances, prices and USD values,
the least a client that users can act on must do; the *requests* floor is the exact floor over
a bare ``requests.Session`` GET of the same signed request, i.e. what the design allows (the
sync transport stays ``requests``: users test with requests-mock); the *lean* requests floor
does the same without ``requests``' per-call environment lookups and preparation, as our
transport does (a detail: what is left above it is our own work). The goals are against the
requests floor and ``python-okx`` (which returns the JSON as floats-in-strings, untyped).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import http.client
import json
import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from bench.common import (
    FigureResult,
    cli_simulator,
    figure_main,
    median,
    profile_top,
    rotations,
    size,
    spread,
)

TITLE = "1. Client CPU per balance call"
CALLS = 300
ROUNDS = 9
WARMUP = 30
TOKENS = 31
REQUESTS_FLOOR_GOAL = 1.2  # x the requests floor
OKX_SDK_GOAL = 1.0


def _okx_timestamp() -> str:
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"


class Floor:
    """The least a client can do: one keep-alive ``http.client`` connection, the request
    signed once per round (not per call), ``json.loads`` of the body. No typed rows."""

    def __init__(self, base_url: str, path: str, conn: dict[str, Any]) -> None:
        url = urlsplit(base_url)
        self.connection = http.client.HTTPConnection(url.hostname or "", url.port, timeout=10)
        self.path = path
        self.secret = conn["password"].encode()
        self.static = {
            "OK-ACCESS-KEY": conn["login"],
            "OK-ACCESS-PASSPHRASE": conn["extra"]["passphrase"],
            "OK-ACCESS-PROJECT": conn["extra"].get("project_id") or "",
            "Content-Type": "application/json",
        }
        self.headers: dict[str, str] = {}

    def sign(self) -> None:
        timestamp = _okx_timestamp()
        digest = hmac.new(self.secret, f"{timestamp}GET{self.path}".encode(), hashlib.sha256).digest()
        self.headers = {
            **self.static,
            "OK-ACCESS-TIMESTAMP": timestamp,
            "OK-ACCESS-SIGN": base64.b64encode(digest).decode(),
        }

    def call(self) -> Any:
        self.connection.request("GET", self.path, headers=self.headers)
        response = self.connection.getresponse()
        return json.loads(response.read())

    def tokens(self, answer: Any) -> int:
        if answer.get("code") != "0":
            raise RuntimeError(f"floor: OKX code {answer.get('code')}: {answer.get('msg')}")
        return len(answer["data"][0]["tokenAssets"])

    def close(self) -> None:
        self.connection.close()


class ExactFloor(Floor):
    """The bare floor plus exact numbers: each row's ``balance`` and ``tokenPrice`` parsed into
    a ``Decimal`` and its USD value multiplied in an exact context. No validation, no objects
    beyond one tuple per row: the least any exact client does."""

    def __init__(self, base_url: str, path: str, conn: dict[str, Any]) -> None:
        from airflow_provider_okx.core.models import EXACT

        super().__init__(base_url, path, conn)
        self.multiply = EXACT.multiply

    def call(self) -> Any:
        answer = super().call()
        multiply = self.multiply
        rows = []
        for item in answer["data"][0]["tokenAssets"]:
            balance, price = Decimal(item["balance"]), Decimal(item["tokenPrice"])
            rows.append((balance, price, multiply(balance, price)))
        return rows

    def tokens(self, answer: Any) -> int:
        return len(answer)


class RequestsFloor(ExactFloor):
    """The exact floor over ``requests``: one ``requests.Session`` (keep-alive), the same
    signed GET, ``json.loads`` of the body, the same exact ``Decimal`` rows. No validation, no
    deadline, no retry: what any ``requests``-based exact client pays at least."""

    def __init__(self, base_url: str, path: str, conn: dict[str, Any]) -> None:
        import requests

        super().__init__(base_url, path, conn)
        self.connection.close()
        self.session = requests.Session()
        self.url = base_url.rstrip("/") + path

    def call(self) -> Any:
        response = self.session.get(self.url, headers=self.headers, timeout=10)
        answer = json.loads(response.content)
        multiply = self.multiply
        rows = []
        for item in answer["data"][0]["tokenAssets"]:
            balance, price = Decimal(item["balance"]), Decimal(item["tokenPrice"])
            rows.append((balance, price, multiply(balance, price)))
        return rows

    def close(self) -> None:
        self.session.close()


class LeanRequestsFloor(RequestsFloor):
    """The requests floor used the way our transport uses ``requests``: no environment lookups
    per call (``trust_env = False``) and the request prepared by hand and given to
    ``Session.send``. Not a goal: what is left between it and ours is our own work (typed,
    bounded rows, the protocol, the deadline and the body cap)."""

    def __init__(self, base_url: str, path: str, conn: dict[str, Any]) -> None:
        import requests

        super().__init__(base_url, path, conn)
        self.session.trust_env = False
        self.prepared_class = requests.PreparedRequest
        self.headers_class = requests.structures.CaseInsensitiveDict

    def call(self) -> Any:
        prepared = self.prepared_class()
        prepared.method = "GET"
        prepared.url = self.url
        prepared.headers = self.headers_class(self.headers)
        prepared.body = None
        response = self.session.send(prepared, timeout=(10, 10))
        answer = json.loads(response.content)
        multiply = self.multiply
        rows = []
        for item in answer["data"][0]["tokenAssets"]:
            balance, price = Decimal(item["balance"]), Decimal(item["tokenPrice"])
            rows.append((balance, price, multiply(balance, price)))
        return rows


class PythonOkx:
    """OKX's official SDK (``python-okx``): ``okx.okxclient.OkxClient`` is an ``httpx.Client``
    whose ``base_api`` argument is its base URL; ``_request_with_params`` signs (the same
    ``base64(hmac_sha256(secret, ts + METHOD + path?query))`` scheme) and sends a GET."""

    def __init__(self, base_url: str, params: dict[str, str], path: str, conn: dict[str, Any]) -> None:
        from okx.okxclient import OkxClient

        self.client = OkxClient(
            api_key=conn["login"],
            api_secret_key=conn["password"],
            passphrase=conn["extra"]["passphrase"],
            flag="0",
            base_api=base_url,
            debug=False,
        )
        self.path = path
        self.params = params

    def call(self) -> Any:
        return self.client._request_with_params("GET", self.path, self.params)

    def tokens(self, answer: Any) -> int:
        if answer.get("code") != "0":
            raise RuntimeError(f"python-okx: OKX code {answer.get('code')}: {answer.get('msg')}")
        return len(answer["data"][0]["tokenAssets"])

    def close(self) -> None:
        self.client.close()


class Ours:
    """``OkxHook().get_all_token_balances``: typed, exact ``TokenBalance`` rows."""

    def __init__(self, address: str) -> None:
        from airflow_provider_okx.hooks.okx import OkxHook

        self.hook = OkxHook()
        self.address = address

    def call(self) -> Any:
        return self.hook.get_all_token_balances(self.address, 1, exclude_risk_tokens=False)

    def tokens(self, answer: Any) -> int:
        return len(answer)

    def close(self) -> None:
        self.hook.close()


def _cpu_per_call(call: Callable[[], Any], n: int) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per call over ``n`` calls."""
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        call()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return cpu / n, wall / n


def measure(args: argparse.Namespace) -> FigureResult:
    from airflow_provider_okx.core.api import routes
    from airflow_provider_okx.testing import SEED_ADDRESS

    result = FigureResult(TITLE)
    calls, rounds, warmup = size(args, full=(CALLS, ROUNDS, WARMUP), quick=(60, 3, WARMUP), smoke=(5, 1, 2))
    request = routes.all_token_balances(routes.V6, SEED_ADDRESS, ["1"], exclude_risk_tokens=False)
    path, _, query = request.path.partition("?")
    params = dict(part.split("=", 1) for part in query.split("&"))

    with cli_simulator() as sim:
        os.environ["AIRFLOW_CONN_OKX_DEFAULT"] = sim.connection_json(rate_limit_rps=0)
        floor = Floor(sim.base_url, request.path, sim.connection)
        exact = ExactFloor(sim.base_url, request.path, sim.connection)
        via_requests = RequestsFloor(sim.base_url, request.path, sim.connection)
        lean = LeanRequestsFloor(sim.base_url, request.path, sim.connection)
        floors = (floor, exact, via_requests, lean)
        contenders: dict[str, Any] = {
            "floor": floor,
            "exact": exact,
            "requests": via_requests,
            "lean": lean,
            "ours": Ours(SEED_ADDRESS),
        }
        sdk_error = None
        try:
            contenders["python-okx"] = PythonOkx(sim.base_url, params, path, sim.connection)
        except Exception as error:  # reported honestly, not hidden
            sdk_error = f"{type(error).__name__}: {error}"

        for each in floors:
            each.sign()
        for name, contender in list(contenders.items()):
            try:
                count = contender.tokens(contender.call())
                if count != TOKENS:
                    raise RuntimeError(f"{name}: {count} tokens, expected {TOKENS}")
                for _ in range(warmup):
                    contender.call()
            except Exception as error:
                if name != "python-okx":
                    raise
                sdk_error = f"{type(error).__name__}: {error}"
                del contenders[name]

        cpu: dict[str, list[float]] = {name: [] for name in contenders}
        wall: dict[str, list[float]] = {name: [] for name in contenders}
        for order in rotations(list(contenders), rounds):
            for each in floors:  # a fresh timestamp each round, outside the timed loops
                each.sign()
            for name in order:
                c, w = _cpu_per_call(contenders[name].call, calls)
                cpu[name].append(c)
                wall[name].append(w)

        profile = None
        if args.profile:
            ours = contenders["ours"]
            profile = profile_top(lambda: [ours.call() for _ in range(calls)])
        for contender in contenders.values():
            contender.close()

    # Ratios are taken round by round (contenders measured seconds apart share the machine's
    # mood), then the median over rounds.
    us = {name: median(values) * 1e6 for name, values in cpu.items()}
    floor_ratio = median([o / f for o, f in zip(cpu["ours"], cpu["floor"], strict=True)])
    exact_ratio = median([o / f for o, f in zip(cpu["ours"], cpu["exact"], strict=True)])
    requests_ratio = median([o / f for o, f in zip(cpu["ours"], cpu["requests"], strict=True)])
    result.goal(
        f"{us['ours']:.0f} us CPU/call = {requests_ratio:.2f}x requests floor ({us['requests']:.0f} us)",
        f"<= {REQUESTS_FLOOR_GOAL}x requests floor",
        requests_ratio <= REQUESTS_FLOOR_GOAL,
    )
    if "python-okx" in us:
        sdk_ratio = median([o / p for o, p in zip(cpu["ours"], cpu["python-okx"], strict=True)])
        result.goal(
            f"{sdk_ratio:.2f}x python-okx ({us['python-okx']:.0f} us)",
            f"<= {OKX_SDK_GOAL}x python-okx",
            sdk_ratio <= OKX_SDK_GOAL,
        )
    else:
        result.goal(f"python-okx failed: {sdk_error}", f"<= {OKX_SDK_GOAL}x python-okx", None)

    result.detail(
        f"{rounds} interleaved rounds x {calls} calls each, seed wallet, chain 1, {TOKENS} tokens; "
        "median CPU per call (range over rounds); ratios are medians of per-round ratios:"
    )
    lean_ratio = median([o / f for o, f in zip(cpu["ours"], cpu["lean"], strict=True)])
    result.detail(
        f"  ours = {floor_ratio:.2f}x the bare floor (http.client + json.loads only), "
        f"{exact_ratio:.2f}x the exact floor (http.client + json.loads + exact Decimal rows), "
        f"{lean_ratio:.2f}x the lean requests floor (trust_env off, prepared by hand: how our "
        "transport uses requests)"
    )
    for name in cpu:
        result.detail(
            f"  {name:<10} CPU {us[name]:7.0f} us ({spread([v * 1e6 for v in cpu[name]], '.0f')})   "
            f"wall {median(wall[name]) * 1e6:7.0f} us"
        )
    result.detail(
        "python-okx pointed at the simulator with OkxClient(base_api=<url>, flag='0'); its "
        "signature verifies (code 0)."
        if sdk_error is None
        else f"python-okx could not be measured: {sdk_error}"
    )
    result.data = {"cpu_us": us, "cpu_rounds": cpu, "wall_rounds": wall, "profile": profile}
    if profile:
        result.detail("cProfile of ours (top by cumulative time):")
        for line in profile.splitlines():
            result.detail("    " + line)
    return result


if __name__ == "__main__":
    figure_main(measure, __doc__ or TITLE)
