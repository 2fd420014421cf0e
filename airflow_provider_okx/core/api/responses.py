"""Response interpretation: OKX's envelope in, ``data`` or a typed error out.

OKX sends ``{"code": "0", "msg": "...", "data": [...]}``; ``code`` may be a string or a number,
and v5 errors arrive with HTTP 200, so the body decides, not the status. Bodies that are not an
envelope (a gateway's HTML page, a truncated JSON) become errors that quote what came back. A
success envelope without a ``data`` list is malformed (what the list holds is checked by the
endpoint's reader in :mod:`airflow_provider_okx.core.api.results`). A redirect is never followed:
it becomes an :class:`~airflow_provider_okx.core.api.errors.OkxRedirectError` saying where it
pointed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_okx.core.api.clock import parse_http_date
from airflow_provider_okx.core.api.errors import (
    OkxMalformedResponseError,
    OkxRedirectError,
    OkxUnavailableError,
    error_for,
    shorten,
)
from airflow_provider_okx.core.api.retry import parse_retry_after


def _snippet(body: bytes, limit: int = 120) -> str:
    text = " ".join(body[: limit * 2].decode("utf-8", "replace").split())
    return shorten(text, limit)


def kind_of(value: object) -> str:
    """How a JSON value is described in an error: ``null``, ``an object``, ``a list``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "an empty list" if not value else "a list"
    return type(value).__name__


def parse_envelope(
    endpoint: str, status: int, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> list[Any]:
    """Return the envelope's ``data`` list for a success; raise the typed error otherwise.

    :param endpoint: ``METHOD /path`` of the request, for the error message.
    :param headers: case-insensitive mapping (``requests`` and ``aiohttp`` both give one).
    :param now: epoch seconds, to read a ``Retry-After`` date when there is no ``Date``.
    """
    if 300 <= status < 400:
        raise redirect_error(endpoint, status, headers.get("Location"))
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        payload = None
    if isinstance(payload, dict) and status < 400 and str(payload.get("code")).strip() == "0":
        if "data" not in payload:
            raise OkxMalformedResponseError(
                "malformed", "the success envelope has no 'data'", status, endpoint, field="data"
            )
        data = payload["data"]
        if not isinstance(data, list):
            raise OkxMalformedResponseError(
                "malformed", f"'data' is {kind_of(data)}, not a list", status, endpoint, field="data"
            )
        return data
    # An error: only now are the headers worth reading.
    server_time = parse_http_date(headers.get("Date"))
    retry_after = parse_retry_after(headers.get("Retry-After"), server_time=server_time, now=now)
    extra = {"retry_after": retry_after, "server_time": server_time}
    if not isinstance(payload, dict) or "code" not in payload:
        shown = _snippet(body) or "empty body"
        if 400 <= status < 500:
            # A gateway's page for 401/403/404/429...: the status says what went wrong.
            raise error_for(f"HTTP{status}", f"not an OKX response: {shown}", status, endpoint, **extra)
        if status < 400:
            # A truncated or garbled success: transient, worth a retry.
            raise OkxMalformedResponseError(
                "malformed", f"unreadable response: {shown}", status, endpoint, field="body", **extra
            )
        # A 5xx page: transient, worth a retry.
        raise OkxUnavailableError("malformed", f"unreadable response: {shown}", status, endpoint, **extra)
    code = str(payload.get("code")).strip()
    msg = str(payload.get("msg") or "")
    raise error_for(code, msg, status, endpoint, **extra)


def redirect_error(endpoint: str, status: int, location: str | None) -> OkxRedirectError:
    """The error for a 3xx answer: where it pointed (scheme, host and path only, never a
    query) and, when it points at the same API path elsewhere, the base URL to use instead."""
    path = endpoint.partition(" ")[2]
    if not location or not location.strip():
        return OkxRedirectError(
            f"HTTP{status}", "redirect without a Location (not followed)", status, endpoint
        )
    try:
        parts = urlsplit(location.strip())
        port = parts.port
    except ValueError:
        return OkxRedirectError(
            f"HTTP{status}", "redirect to an unreadable Location (not followed)", status, endpoint
        )
    origin = ""
    if parts.scheme and parts.hostname:
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        origin = f"{parts.scheme.lower()}://{host}" + (f":{port}" if port else "")
    shown = shorten(origin + (parts.path or "/"), 200)
    if origin and parts.scheme.lower() in ("http", "https") and parts.path.rstrip("/") == path.rstrip("/"):
        suggestion = f"the API answers at {origin}: set the connection's host (base URL) to {origin}"
    else:
        suggestion = (
            "OKX's API does not redirect: check the connection's host (base URL) and any proxy in between"
        )
    return OkxRedirectError(
        f"HTTP{status}",
        f"redirected to {shown} (not followed)",
        status,
        endpoint,
        location=shown,
        suggestion=suggestion,
    )
