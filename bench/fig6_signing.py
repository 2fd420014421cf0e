"""Figure 6: one request signature, ``Credentials.sign`` vs a bare ``hmac`` + ``base64``.

Both sign the same typical prehash (timestamp + ``GET`` + the all-token-balances path with its
query). The bare call is given bytes already (the least any signer can do):
``base64.b64encode(hmac.new(key, msg, hashlib.sha256).digest())``. Ours takes the text as the
protocol builds it and returns text. ``timeit`` rounds, interleaved, median.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import time
import timeit

from bench.common import FigureResult, figure_main, median, rotations, size, spread

TITLE = "6. Signing"
ROUNDS = 15
NUMBER = 20_000
GOAL = 2.0


def measure(args: argparse.Namespace) -> FigureResult:
    from airflow_provider_okx.core.api import routes
    from airflow_provider_okx.core.api.signing import Credentials, format_timestamp, prehash
    from airflow_provider_okx.testing import SEED_ADDRESS

    result = FigureResult(TITLE)
    rounds, number = size(args, full=(ROUNDS, NUMBER), quick=(5, 5_000), smoke=(1, 200))
    secret = "sim-secret-key-0123456789abcdef"
    credentials = Credentials("sim-api-key", secret, "sim-passphrase")
    path = routes.all_token_balances(routes.V6, SEED_ADDRESS, ["1", "56", "8453"]).path
    message = prehash(format_timestamp(time.time()), "GET", path)
    key, msg = secret.encode(), message.encode()
    sha256 = hashlib.sha256

    def bare() -> bytes:
        return base64.b64encode(hmac.new(key, msg, sha256).digest())

    sign = credentials.sign
    if sign(message).encode() != bare():
        raise RuntimeError("Credentials.sign disagrees with hmac + base64")
    contenders = {"ours": lambda: sign(message), "bare": bare}

    per_call: dict[str, list[float]] = {name: [] for name in contenders}
    for order in rotations(list(contenders), rounds):
        for name in order:
            per_call[name].append(timeit.timeit(contenders[name], number=number) / number * 1e6)
    ours, base = median(per_call["ours"]), median(per_call["bare"])
    ratio = ours / base
    result.goal(f"{ours:.2f} us = {ratio:.2f}x bare ({base:.2f} us)", f"<= {GOAL:g}x bare", ratio <= GOAL)
    result.detail(
        f"{rounds} interleaved rounds of {number:,} signatures of a {len(message)}-character prehash; "
        f"ours {spread(per_call['ours'])} us, bare {spread(per_call['bare'])} us"
    )
    result.data = {"us": {"ours": ours, "bare": base}, "rounds": per_call}
    return result


if __name__ == "__main__":
    figure_main(measure, __doc__ or TITLE)
