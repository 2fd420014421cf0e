"""One process of the shared-budget tests: ``python -m tests.shared_budget_worker REQUESTS``.

Reads its connection from ``AIRFLOW_CONN_OKX_DEFAULT`` (as a task would), builds an ``OkxHook``,
makes one warm-up call, prints ``worker> ready``, waits for a line on stdin, then sends ``REQUESTS``
balance requests one after another and prints a JSON line: how many succeeded and failed.
"""

from __future__ import annotations

import json
import sys

MARK = "worker>"
"""Prefix of the lines meant for the test (Airflow 2 prints log lines on stdout too)."""


def main(requests: int) -> None:
    from airflow_provider_okx.hooks.okx import OkxHook
    from airflow_provider_okx.testing import SEED_ADDRESS

    hook = OkxHook()
    hook.get_supported_chains()  # imports and connections before the start line
    print(MARK, "ready", flush=True)
    sys.stdin.readline()
    ok = failed = 0
    for _ in range(requests):
        try:
            hook.get_all_token_balances(SEED_ADDRESS, "1")
            ok += 1
        except Exception as error:
            failed += 1
            print(f"{type(error).__name__}: {error}", file=sys.stderr, flush=True)
    print(MARK, json.dumps({"ok": ok, "failed": failed}), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]))
