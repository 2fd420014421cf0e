"""The async transport: OKX's protocol over ``aiohttp``, one client per event loop.

Chosen on figure 4 of the benchmark (1,000 triggers polling distinct wallets: CPU per request,
see ``bench/RESULTS.md``) over ``httpx``, whose connection pool rescans itself on every
request. What it guarantees, whatever the library:

- the signed URL goes out byte for byte (``yarl.URL(url, encoded=True)``: no re-quoting);
- every attempt has a total deadline (connect, send and every read together): the
  connection's ``timeout``;
- the body is counted as it is read, after decompression, and reading stops past
  ``max_response_bytes``;
- redirects are never followed: a 3xx goes to the protocol like any answer, which types it;
- proxies, TLS verification, client certificate and User-Agent come from the connection;
  headers are never logged and never quoted in an error;
- a GET whose connection closed before any answer (a keep-alive connection the server had
  dropped) is re-sent once by ``aiohttp`` itself, unchanged (RFC 9112 9.3.1); anything else
  that fails goes back to the protocol's retry policy;
- one client per event loop, shared by every hook in it, closed when its last user releases
  it or when the loop shuts down (:mod:`airflow_provider_okx.hooks.loop_local`), with at most
  :data:`MAX_IN_FLIGHT` requests admitted into its pool at once.

``aiohttp`` is imported on the first request, never at DAG parse time.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import importlib
import os
import sys
import weakref
from collections.abc import Awaitable, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit, urlunsplit

from airflow_provider_okx.core.api.body import ACCEPT_ENCODING, BoundedBody
from airflow_provider_okx.core.api.errors import (
    OkxError,
    OkxInvalidInputError,
    OkxTransportError,
    describe_exception,
)
from airflow_provider_okx.core.api.protocol import Outcome, Received, Reserve, Send, Step, StoreFailed
from airflow_provider_okx.hooks.loop_local import LoopLocal

if TYPE_CHECKING:
    import ssl

    from airflow_provider_okx.core.api.protocol import OkxProtocol
    from airflow_provider_okx.core.api.routes import ApiRequest
    from airflow_provider_okx.hooks.connection import OkxConfig
    from airflow_provider_okx.hooks.rate_store import RateStore

if sys.version_info >= (3, 11):
    _deadline = asyncio.timeout  # novermin (guarded: 3.10 takes async_timeout below)
else:  # aiohttp brings async-timeout on Python 3.10
    from async_timeout import timeout as _deadline

MAX_IN_FLIGHT = 32
"""Requests admitted into one loop's connection pool at once; the rest wait at a semaphore,
before they are signed, so no timestamp ages in a queue."""


@dataclass(frozen=True)
class RequestOptions:
    """What one connection adds to every request: built once per hook from its config."""

    timeout: float
    """Total deadline of one attempt, in seconds."""
    max_response_bytes: int
    ssl: ssl.SSLContext | bool
    """``False``: no certificate verification."""
    proxy: str | None
    proxy_headers: Mapping[str, str] | None
    """Headers for the proxy itself: on its CONNECT (https), or on each request (http)."""
    tunnel: bool
    """Whether requests go through the proxy in a CONNECT tunnel (an https base URL)."""

    @classmethod
    def from_config(cls, config: OkxConfig) -> RequestOptions:
        proxy, proxy_headers = _proxy_for(config.base_url, config.proxies)
        cert = tuple(config.cert) if isinstance(config.cert, (tuple, list)) else config.cert
        return cls(
            timeout=config.timeout,
            max_response_bytes=config.max_response_bytes,
            ssl=_ssl_context(config.verify, cert, _stamp(config.verify, cert)),
            proxy=proxy,
            proxy_headers=proxy_headers,
            tunnel=urlsplit(config.base_url).scheme == "https",
        )

    def __repr__(self) -> str:  # a proxy's Proxy-Authorization header is a secret
        return f"RequestOptions(timeout={self.timeout}, proxy={'yes' if self.proxy else 'no'})"


class LoopClient:
    """One event loop's ``aiohttp`` session, its admission gate and who uses it.

    ``users`` are the hooks that sent through it (weakly held: a hook that is garbage
    collected stops counting); ``in_flight`` the requests under way. The client is closed
    when both are gone (see :func:`release`) or when its loop shuts down.
    """

    def __init__(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=MAX_IN_FLIGHT, limit_per_host=0),
            cookie_jar=aiohttp.DummyCookieJar(),  # OKX sets no cookie we need to send back
            timeout=aiohttp.ClientTimeout(total=None),  # the deadline is ours, per attempt
            trust_env=False,  # proxies and CA bundle come from RequestOptions, read once
            auto_decompress=False,  # BoundedBody decodes, under the cap
        )
        self.gate = asyncio.Semaphore(MAX_IN_FLIGHT)
        self.users: weakref.WeakSet[object] = weakref.WeakSet()
        self.in_flight = 0

    async def attempt(self, step: Send, route: str, options: RequestOptions) -> Received:
        """Send one request and read the whole answer, within ``options.timeout``.

        Raises ``aiohttp.ClientError``, ``asyncio.TimeoutError``, or the
        :class:`~airflow_provider_okx.core.api.errors.OkxError` of a body over the cap or unreadable.
        """
        from yarl import URL

        headers = dict(step.headers)
        headers["Accept-Encoding"] = ACCEPT_ENCODING
        if options.proxy_headers and not options.tunnel:
            headers.update(options.proxy_headers)  # a plain-http proxy reads them on the request
        async with (
            _deadline(options.timeout),
            self.session.request(
                step.method,
                URL(step.url, encoded=True),
                headers=headers,
                data=step.body,
                allow_redirects=False,
                ssl=options.ssl,
                proxy=options.proxy,
                proxy_headers=options.proxy_headers if options.tunnel else None,
            ) as response,
        ):
            body = BoundedBody(
                route, options.max_response_bytes, response.headers.get("Content-Encoding"), response.status
            )
            body.check_declared_length(response.headers.get("Content-Length"))
            try:
                while chunk := await response.content.readany():
                    body.feed(chunk)
            except OkxError:
                response.close()  # the rest is never read; the connection is not reused
                raise
            return Received(response.status, response.headers, body.finish())

    async def close(self) -> None:
        await self.session.close()
        # Let the transports' connection_lost callbacks run, so every socket is really closed
        # before a loop that is shutting down goes away.
        await asyncio.sleep(0)


_CLIENTS: LoopLocal[LoopClient] = LoopLocal(LoopClient, LoopClient.close)


async def run(
    protocol: OkxProtocol,
    request: ApiRequest,
    interpret: Callable[[list[Any]], Any],
    options: RequestOptions,
    *,
    user: object,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    store: RateStore | None = None,
) -> Any:
    """Drive ``protocol.exchange(request, interpret)`` over the running loop's client.

    :param user: the hook sending; it keeps the loop's client open until :func:`release`.
    :param sleep: how rate-limit slots and retry backoffs are awaited.
    :param store: where the key's shared rate budget is reserved (``rate_limit_store``).
    """
    if "aiohttp" not in sys.modules:
        # Importing aiohttp takes a few hundred ms: in a worker thread, not on the triggerer's
        # event loop (which warned "async thread was blocked" on the first poll).
        await asyncio.to_thread(importlib.import_module, "aiohttp")
    client = await _CLIENTS.get()
    client.users.add(user)
    client.in_flight += 1
    steps: Generator[Step, Outcome, Any] = protocol.exchange(request, interpret)
    try:
        outcome: Outcome = None
        while True:
            # The gate is taken before the generator signs (a Send) and left for every Wait.
            async with client.gate:
                step = steps.send(outcome)
                if isinstance(step, Send):
                    outcome = await _attempt(client, step, request, options)
                    continue
            if isinstance(step, Reserve):
                outcome = (
                    await store.areserve(step)
                    if store is not None
                    else StoreFailed("no rate-limit store configured")
                )
                continue
            await sleep(step.seconds)
            outcome = None
    except StopIteration as stop:
        return stop.value
    finally:
        steps.close()
        client.in_flight -= 1
        if not client.in_flight and not client.users and _CLIENTS.peek() is client:
            await _CLIENTS.discard()


async def _attempt(
    client: LoopClient, step: Send, request: ApiRequest, options: RequestOptions
) -> Received | OkxError:
    """One attempt's outcome for the protocol: the answer, or what went wrong."""
    import aiohttp

    try:
        return await client.attempt(step, request.route, options)
    except OkxError as error:  # over the cap, or an encoding we cannot read
        return error
    except asyncio.TimeoutError:
        return OkxTransportError(
            request.route,
            f"no complete answer within the {options.timeout:g} s deadline (connection extra timeout)",
        )
    except (aiohttp.ClientError, OSError) as exc:
        return OkxTransportError(request.route, describe_exception(exc))
    except ValueError as exc:
        # aiohttp refuses a header value with a line break; never quote the value.
        if "header" not in str(exc).lower():
            raise
        return OkxInvalidInputError(
            "headers",
            "<not shown>",
            "a request header could not be sent (a credential holds an invalid character?)",
        )


async def release(user: object) -> None:
    """``user`` no longer needs the running loop's client; the last one out closes it."""
    try:
        client = _CLIENTS.peek()
    except RuntimeError:  # no running loop: nothing of this loop to release
        return
    if client is None:
        return
    client.users.discard(user)
    if not client.users and not client.in_flight:
        await _CLIENTS.discard()


def open_clients() -> int:
    """How many event loops hold an open client (tests and the benchmark watch for leaks)."""
    return len(_CLIENTS)


# --- connection settings, resolved once ------------------------------------------------------


def _stamp(verify: bool | str, cert: str | tuple[str, ...] | None) -> tuple[float, ...]:
    """Modification times of the TLS files: a rotated certificate gets a new context."""
    paths = [verify] if isinstance(verify, str) else []
    paths += [cert] if isinstance(cert, str) else list(cert or ())
    stamps = []
    for path in paths:
        try:
            stamps.append(os.stat(path).st_mtime)
        except OSError:
            stamps.append(0.0)
    return tuple(stamps)


@functools.lru_cache(maxsize=16)
def _ssl_context(
    verify: bool | str, cert: str | tuple[str, ...] | None, stamp: tuple[float, ...] = ()
) -> ssl.SSLContext | bool:
    """The TLS context for ``verify`` (``True``, ``False`` or a CA bundle path) and ``cert``.

    ``True`` trusts ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` when set (as the sync transport
    does), else certifi's bundle (as ``requests`` does). Built once per process per setting
    and ``stamp`` (the files' modification times): loading a CA bundle takes milliseconds.
    """
    import ssl

    if verify is False and cert is None:
        return False
    if verify is True or verify is False:
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if bundle is None:
            import certifi

            bundle = certifi.where()
    else:
        bundle = verify
    if os.path.isdir(bundle):
        context = ssl.create_default_context(capath=bundle)
    else:
        context = ssl.create_default_context(cafile=bundle)
    if verify is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if cert is not None:
        certfile, keyfile = (cert, None) if isinstance(cert, str) else (cert[0], cert[1])
        context.load_cert_chain(certfile, keyfile)
    return context


def _proxy_for(base_url: str, proxies: Mapping[str, str] | None) -> tuple[str | None, dict[str, str] | None]:
    """The proxy URL for ``base_url`` and its ``Proxy-Authorization`` header, if any.

    ``proxies`` as ``requests`` takes them (``{"https": "http://proxy:3128"}``, keys by scheme,
    ``scheme://host`` or ``all``); ``None`` reads ``HTTPS_PROXY`` / ``NO_PROXY`` from the
    environment, once.
    """
    target = urlsplit(base_url)
    host = target.hostname or ""
    if proxies is None:
        from urllib.request import getproxies, proxy_bypass

        if host and proxy_bypass(host):
            return None, None
        proxies = getproxies()
    url = proxies.get(f"{target.scheme}://{host}") or proxies.get(target.scheme) or proxies.get("all") or None
    if not url:
        return None, None
    parts = urlsplit(url if "://" in url else f"http://{url}")
    if parts.scheme not in ("http", "https"):
        raise OkxInvalidInputError(
            "proxies", f"{parts.scheme}://...", "the async transport supports http:// and https:// proxies"
        )
    if parts.username is None:
        return urlunsplit(parts), None
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
    bare = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return bare, {"Proxy-Authorization": "Basic " + base64.b64encode(credentials).decode("ascii")}
