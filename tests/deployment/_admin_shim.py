"""TEMPORARY, delete before merging: the simulator plus the three admin routes the deployment
test uses, until the simulator's own admin API (another branch) is merged.

    python tests/deployment/_admin_shim.py --port N
"""

from __future__ import annotations

import argparse
import json
import signal
import threading
from urllib.parse import parse_qs

from airflow_provider_okx.testing.endpoints import Reply, dumps
from airflow_provider_okx.testing.simulator import OkxSimulator


class _AdminSim(OkxSimulator):
    def _handle(self, request, received):  # type: ignore[no-untyped-def]
        if not request.path.startswith("/_admin/"):
            return super()._handle(request, received)
        if request.method == "PUT" and request.path == "/_admin/balances":
            body = json.loads(request.body)
            self.set_balance(
                body["address"],
                body["chain_index"],
                body["token_address"],
                body["balance"],
                price=body.get("price"),
                symbol=body.get("symbol"),
            )
            return Reply(status=200, body=dumps({"ok": True}))
        if request.method == "GET" and request.path == "/_admin/requests":
            since = int(parse_qs(request.query).get("since", ["0"])[0])
            with self._log_lock:
                rows = [r for r in self.requests if not r.path.startswith("/_admin/")]
            out = [
                {"index": i, "method": r.method, "path": r.path, "status": r.status, "endpoint": r.endpoint}
                for i, r in enumerate(rows)
                if i >= since
            ]
            return Reply(status=200, body=dumps({"requests": out, "next": len(rows)}))
        return Reply(status=404, body=dumps({"error": "shim"}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    sim = _AdminSim("127.0.0.1", args.port)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    with sim:
        print(f"OKX simulator listening on {sim.base_url}", flush=True)
        print(f"AIRFLOW_CONN_OKX_DEFAULT='{sim.connection_json()}'", flush=True)
        while not done.wait(0.5):
            pass


if __name__ == "__main__":
    main()
