"""``python -m airflow_provider_okx.testing``: serve the OKX simulator until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from airflow_provider_okx.testing.simulator import OkxSimulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_okx.testing",
        description="Serve a simulated OKX Web3 balance API (v5 and v6) on loopback.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8555, help="port (0 picks a free one; default 8555)")
    parser.add_argument("--rate-limit", type=float, default=None, metavar="RPS", help="per-key limit")
    parser.add_argument("--latency", type=float, default=0.0, metavar="S", help="delay every answer")
    parser.add_argument("--clock-offset", type=float, default=0.0, metavar="S", help="server clock skew")
    parser.add_argument(
        "--timestamp-window", type=float, default=30.0, metavar="S", help="accepted clock difference"
    )
    parser.add_argument("--send-retry-after", action="store_true", help="send Retry-After: 1 with 429")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sim = OkxSimulator(
        args.host,
        args.port,
        rate_limit_rps=args.rate_limit,
        latency=args.latency,
        clock_offset=args.clock_offset,
        timestamp_window=args.timestamp_window,
        send_retry_after=args.send_retry_after,
    )
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    with sim:
        print(f"OKX simulator listening on {sim.base_url}", flush=True)
        print(f"AIRFLOW_CONN_OKX_DEFAULT='{sim.connection_json()}'", flush=True)
        while not done.wait(0.5):
            pass
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
