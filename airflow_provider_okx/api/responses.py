"""Response interpretation: OKX's envelope in, ``data`` or a typed error out.

OKX sends ``{"code": "0", "msg": "...", "data": [...]}``; ``code`` may be a string or a number,
and v5 errors arrive with HTTP 200, so the body decides, not the status. Bodies that are not an
envelope (a gateway's HTML page, a truncated JSON) become errors that quote what came back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from airflow_provider_okx.api.clock import parse_http_date
from airflow_provider_okx.api.errors import OkxApiError, OkxUnavailableError, error_for


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds form), or ``None``."""
    if not value:
        return None
    try:
        return max(float(value.strip()), 0.0)
    except ValueError:
        return None


def _snippet(body: bytes, limit: int = 120) -> str:
    text = " ".join(body[: limit * 2].decode("utf-8", "replace").split())
    return text[:limit] + ("..." if len(text) > limit else "")


def parse_envelope(endpoint: str, status: int, headers: Mapping[str, str], body: bytes) -> list[Any]:
    """Return the envelope's ``data`` for a success; raise the typed error otherwise.

    :param endpoint: ``METHOD /path`` of the request, for the error message.
    :param headers: case-insensitive mapping (``requests`` and ``httpx`` both give one).
    """
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict) and status < 400 and str(payload.get("code")).strip() == "0":
        data = payload.get("data")
        if data is None:
            return []
        return data if isinstance(data, list) else [data]
    # An error: only now are the headers worth reading.
    retry_after = parse_retry_after(headers.get("Retry-After"))
    server_time = parse_http_date(headers.get("Date"))
    extra = {"retry_after": retry_after, "server_time": server_time}
    if not isinstance(payload, dict) or "code" not in payload:
        shown = _snippet(body) or "empty body"
        if 400 <= status < 500:
            # A gateway's page for 401/403/404/429...: the status says what went wrong.
            raise error_for(f"HTTP{status}", f"not an OKX response: {shown}", status, endpoint, **extra)
        # A truncated or garbled answer, or a 5xx page: transient, worth a retry.
        raise OkxUnavailableError("malformed", f"unreadable response: {shown}", status, endpoint, **extra)
    code = str(payload.get("code")).strip()
    msg = str(payload.get("msg") or "")
    raise error_for(code, msg, status, endpoint, **extra)


def first(data: list[Any], endpoint: str) -> Mapping[str, Any]:
    """The first object of ``data`` (OKX wraps single results in a list)."""
    if not data or not isinstance(data[0], Mapping):
        raise OkxApiError("malformed", "response data is empty", 200, endpoint)
    return data[0]
