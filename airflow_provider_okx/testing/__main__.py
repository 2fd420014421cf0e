"""``python -m airflow_provider_okx.testing``: serve the OKX simulator, or steer a running one.

    python -m airflow_provider_okx.testing [serve] [--port 8555] [--no-admin] ...
    python -m airflow_provider_okx.testing admin [--url http://127.0.0.1:8555] <command> ...

``serve`` (the default) runs until SIGINT/SIGTERM (or ``--exit-after`` seconds). ``admin``
calls the running simulator's admin API (:mod:`.admin`) and prints its JSON answer; it exits
with 1 and a message on stderr when the simulator refuses the call or cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8555"


def _serve_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_okx.testing [serve]",
        description="Serve a simulated OKX Web3 balance API (v5 and v6) on loopback. "
        "Steer a running one with: python -m airflow_provider_okx.testing admin --help",
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
    parser.add_argument("--no-admin", action="store_true", help="do not serve the /_admin/ API")
    parser.add_argument(
        "--v5-flat-token-list",
        action="store_true",
        help="answer the v5 specific-token POST with a flat token list (older OKX docs)",
    )
    parser.add_argument(
        "--exit-after", type=float, default=None, metavar="S", help="stop by itself after S seconds"
    )
    return parser


def serve(argv: list[str]) -> int:
    from airflow_provider_okx.testing.simulator import OkxSimulator

    args = _serve_parser().parse_args(argv)
    sim = OkxSimulator(
        args.host,
        args.port,
        rate_limit_rps=args.rate_limit,
        latency=args.latency,
        clock_offset=args.clock_offset,
        timestamp_window=args.timestamp_window,
        send_retry_after=args.send_retry_after,
        admin=not args.no_admin,
        v5_flat_token_list=args.v5_flat_token_list,
    )
    done = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    deadline = None if args.exit_after is None else time.monotonic() + args.exit_after
    with sim:
        print(f"OKX simulator listening on {sim.base_url}", flush=True)
        print(f"AIRFLOW_CONN_OKX_DEFAULT='{sim.connection_json()}'", flush=True)
        if sim.admin:
            print(
                f"Admin API: {sim.base_url}/_admin/ "
                f"(python -m airflow_provider_okx.testing admin --url {sim.base_url} state)",
                flush=True,
            )
        while not done.wait(0.5):
            if deadline is not None and time.monotonic() >= deadline:
                break
    sys.stdout.flush()
    return 0


def _admin_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m airflow_provider_okx.testing admin",
        description="Steer a running OKX simulator through its admin API; prints the JSON answer. "
        "Amounts are given as text and sent as JSON strings. The native coin's token address is ''.",
    )
    parser.add_argument(
        "--url", default=DEFAULT_URL, help=f"the simulator's base URL (default {DEFAULT_URL})"
    )
    parser.add_argument("--timeout", type=float, default=10.0, metavar="S", help="seconds per call")
    commands = parser.add_subparsers(dest="command", required=True, metavar="<command>")
    commands.add_parser("state", help="request count, pending faults, rate limit, latency")
    requests = commands.add_parser("requests", help="the request log (never headers)")
    requests.add_argument("--since", type=int, default=0, metavar="N", help="from log position N on")
    commands.add_parser("clear-requests", help="empty the request log")
    balance = commands.add_parser("set-balance", help="one wallet's balance of one token")
    balance.add_argument("address")
    balance.add_argument("chain", metavar="CHAIN", help="chain index, e.g. 1")
    balance.add_argument("token", metavar="TOKEN", help="token contract address ('' for the native coin)")
    balance.add_argument("balance", metavar="BALANCE", help="exact decimal, e.g. 12.5")
    balance.add_argument("--price", metavar="P", help="the token's price, for every wallet")
    balance.add_argument("--symbol", metavar="S", help="the token's symbol")
    price = commands.add_parser("set-price", help="one token's price for every wallet")
    price.add_argument("chain", metavar="CHAIN")
    price.add_argument("token", metavar="TOKEN")
    price.add_argument("price", metavar="PRICE")
    commands.add_parser("clear-balances", help="drop every balance and price override, and portfolios")
    portfolio = commands.add_parser(
        "set-portfolio", help="give a wallet N generated tokens over some chains (0: its usual ones)"
    )
    portfolio.add_argument("address")
    portfolio.add_argument("chains", metavar="CHAINS", help="chain indexes, comma-separated, e.g. 1,10,8453")
    portfolio.add_argument("tokens", type=int, metavar="TOKENS", help="tokens in all, 0 to 100000")
    commands.add_parser("clear-portfolios", help="every wallet's usual portfolio again")
    inject = commands.add_parser("inject", help="queue a fault for the next matching request(s)")
    inject.add_argument("--status", type=int, metavar="S", help="HTTP status, e.g. 503")
    inject.add_argument("--code", metavar="C", help="OKX code, e.g. 50011")
    inject.add_argument("--msg", metavar="M", help="OKX message")
    inject.add_argument("--body", metavar="TEXT", help="raw body instead of an OKX envelope")
    inject.add_argument(
        "--times", default="1", metavar="N", help="matching requests it applies to (default 1; 'unlimited')"
    )
    inject.add_argument(
        "--endpoint", metavar="E", help="e.g. all_token_balances, total_value, or a path part"
    )
    inject.add_argument("--latency", type=float, metavar="S", help="extra seconds before answering")
    inject.add_argument("--drop", action="store_true", help="close the connection without answering")
    inject.add_argument(
        "--header", action="append", default=[], metavar="K=V", help="add a response header (repeatable)"
    )
    commands.add_parser("clear-faults", help="drop every injected fault")
    commands.add_parser("reset", help="forget requests, faults, overrides, the ledger and rate limits")
    tx = commands.add_parser("add-transaction", help="add one record to a wallet's ledger")
    tx.add_argument("address")
    tx.add_argument("chain", metavar="CHAIN", help="chain index, e.g. 1")
    tx.add_argument("token", metavar="TOKEN", help="token contract address ('' for the native coin)")
    tx.add_argument("amount", metavar="AMOUNT", help="exact decimal magnitude, e.g. 1.5")
    tx.add_argument("direction", choices=("in", "out", "self"), help="relative to the wallet")
    tx.add_argument(
        "--time", metavar="T", help="ISO 8601 with a zone, e.g. 2026-12-01T00:00:00Z (default now)"
    )
    tx.add_argument("--fee", metavar="F", help="the transaction's fee in the native coin (default 0)")
    tx.add_argument("--status", choices=("success", "fail", "pending"), help="default success")
    tx.add_argument("--tx-hash", metavar="H", help="default: derived from the record")
    tx.add_argument("--counterparty", metavar="A", help="the other side's address")
    tx.add_argument("--symbol", metavar="S", help="the token's symbol")
    hide = commands.add_parser("hide-transaction", help="fault: leave a transaction out of the history")
    hide.add_argument("address")
    hide.add_argument("chain", metavar="CHAIN")
    hide.add_argument("tx_hash", metavar="TX_HASH")
    commands.add_parser("clear-transactions", help="drop the whole ledger")
    now = commands.add_parser("set-now", help="fix the simulator's now ('clock' to follow the clock)")
    now.add_argument("now", metavar="NOW", help="ISO 8601 with a zone, or 'clock'")
    commands.add_parser("now", help="the simulator's now")
    return parser


def _fault(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    fault: dict[str, Any] = {}
    for name in ("status", "code", "msg", "body", "endpoint", "latency"):
        value = getattr(args, name)
        if value is not None:
            fault[name] = value
    if args.drop:
        fault["drop"] = True
    if args.times == "unlimited":
        fault["times"] = None
    elif args.times.isascii() and args.times.isdigit() and int(args.times) >= 1:
        fault["times"] = int(args.times)
    else:
        parser.error(f"--times must be a positive integer or 'unlimited', not {args.times!r}")
    headers: dict[str, str] = {}
    for item in args.header:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            parser.error(f"--header takes NAME=VALUE, not {item!r}")
        headers[name.strip()] = value
    if headers:
        fault["headers"] = headers
    return fault


def admin(argv: list[str]) -> int:
    from airflow_provider_okx.testing.admin_client import AdminCallError, AdminClient

    parser = _admin_parser()
    args = parser.parse_args(argv)
    client = AdminClient(args.url, timeout=args.timeout)
    try:
        if args.command == "state":
            answer = client.state()
        elif args.command == "requests":
            answer = client.requests(since=args.since)
        elif args.command == "clear-requests":
            answer = client.clear_requests()
        elif args.command == "set-balance":
            answer = client.set_balance(
                args.address, args.chain, args.token, args.balance, price=args.price, symbol=args.symbol
            )
        elif args.command == "set-price":
            answer = client.set_price(args.chain, args.token, args.price)
        elif args.command == "clear-balances":
            answer = client.clear_balances()
        elif args.command == "set-portfolio":
            answer = client.set_portfolio(args.address, args.chains, args.tokens)
        elif args.command == "clear-portfolios":
            answer = client.clear_portfolios()
        elif args.command == "inject":
            answer = client.inject(**_fault(args, parser))
        elif args.command == "clear-faults":
            answer = client.clear_faults()
        elif args.command == "add-transaction":
            answer = client.add_transaction(
                args.address,
                args.chain,
                args.token,
                args.amount,
                args.direction,
                time=args.time,
                fee=args.fee,
                status=args.status,
                tx_hash=args.tx_hash,
                counterparty=args.counterparty,
                symbol=args.symbol,
            )
        elif args.command == "hide-transaction":
            answer = client.hide_transaction(args.address, args.chain, args.tx_hash)
        elif args.command == "clear-transactions":
            answer = client.clear_transactions()
        elif args.command == "set-now":
            answer = client.set_now(None if args.now == "clock" else args.now)
        elif args.command == "now":
            answer = client.now()
        else:
            answer = client.reset()
    except AdminCallError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(json.dumps(answer, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    if args[:1] == ["admin"]:
        return admin(args[1:])
    if args[:1] == ["serve"]:
        args = args[1:]
    return serve(args)


if __name__ == "__main__":
    sys.exit(main())
