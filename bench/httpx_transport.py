"""The async transport over ``httpx`` instead of ``aiohttp``: figure 4's other contender.

The provider's async transport (``airflow_provider_okx.hooks.async_transport``) was chosen by
measuring both libraries under the same driver: same protocol loop, same admission gate, same
deadline, same streamed body cap (``api.body.BoundedBody``). This module is that driver's
``httpx`` half, tuned the ways ``httpx`` allows (a pool no larger than the gate, so its queue
stays empty; streamed raw reads; no environment lookups per request; proxies and TLS settings
left out, the benchmark needs neither). ``python -m bench.fig4_triggers --transport httpx``
swaps it in, in the benchmark process only.
"""

from __future__ import annotations

import asyncio
import weakref
from typing import Any

from airflow_provider_okx.core.api.body import ACCEPT_ENCODING, BoundedBody
from airflow_provider_okx.core.api.protocol import Received, Send
from airflow_provider_okx.hooks import async_transport
from airflow_provider_okx.hooks.loop_local import LoopLocal


class HttpxLoopClient:
    """Same interface as ``async_transport.LoopClient``, over one ``httpx.AsyncClient``."""

    def __init__(self) -> None:
        import httpx

        size = async_transport.MAX_IN_FLIGHT
        self.session = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            follow_redirects=False,
            trust_env=False,
        )
        self.gate = asyncio.Semaphore(size)
        self.users: weakref.WeakSet[object] = weakref.WeakSet()
        self.in_flight = 0

    async def attempt(self, step: Send, route: str, options: Any) -> Received:
        headers = dict(step.headers)
        headers["Accept-Encoding"] = ACCEPT_ENCODING
        async with async_transport._deadline(options.timeout):
            request = self.session.build_request(step.method, step.url, headers=headers, content=step.body)
            response = await self.session.send(request, stream=True)
            try:
                body = BoundedBody(
                    route,
                    options.max_response_bytes,
                    response.headers.get("Content-Encoding"),
                    response.status_code,
                )
                body.check_declared_length(response.headers.get("Content-Length"))
                async for chunk in response.aiter_raw():
                    body.feed(chunk)
            finally:
                await response.aclose()
            return Received(response.status_code, response.headers, body.finish())

    async def close(self) -> None:
        await self.session.aclose()


def install() -> None:
    """Make the async transport use ``httpx`` in this process."""
    import httpx

    async_transport._CLIENTS = LoopLocal(HttpxLoopClient, HttpxLoopClient.close)  # type: ignore[assignment]
    # The driver catches aiohttp's errors; teach it httpx's.
    original = async_transport._attempt

    async def attempt(client: Any, step: Send, request: Any, options: Any) -> Any:
        try:
            return await original(client, step, request, options)
        except httpx.HTTPError as exc:
            return async_transport.OkxTransportError(request.route, f"{type(exc).__name__}: {exc}")

    async_transport._attempt = attempt  # type: ignore[assignment]
