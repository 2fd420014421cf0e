"""From an Airflow connection to a client configuration, and per-process shared client state.

Pure apart from reading the connection's attributes: no network, no HTTP library.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_okx import DEFAULT_HOST, __version__
from airflow_provider_okx.api.clock import ClockOffset
from airflow_provider_okx.api.errors import OkxInvalidInputError
from airflow_provider_okx.api.ratelimit import RateLimiter
from airflow_provider_okx.api.retry import RetryPolicy
from airflow_provider_okx.api.routes import ApiVersion, api_version
from airflow_provider_okx.api.signing import Credentials


@dataclass(frozen=True)
class OkxConfig:
    """Everything a client needs, read from one ``okx`` connection."""

    base_url: str
    credentials: Credentials = field(repr=False)
    version: ApiVersion
    rate_limit_rps: float = 1.0
    timeout: float = 10.0
    """Total deadline of one HTTP attempt in seconds: connect, send and every read together."""
    max_retries: int = 5
    max_response_bytes: int = 32 * 1024 * 1024
    """Cap on a response body, counted after decompression; a larger answer is an error."""
    proxies: Mapping[str, str] | None = None
    """``{"https": "http://proxy:3128"}`` as ``requests`` takes them; ``None``: no proxy."""
    verify: bool | str = True
    """TLS verification: ``True``, ``False`` or the path of a CA bundle."""
    cert: str | tuple[str, str] | None = None
    """Client certificate: a PEM path, or ``(cert, key)`` paths."""
    user_agent: str = f"airflow-provider-okx/{__version__}"

    @property
    def retry(self) -> RetryPolicy:
        return RetryPolicy(max_retries=self.max_retries)


def _number(extra: Mapping[str, Any], key: str, default: float, *, integer: bool = False) -> Any:
    raw = extra.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw) if integer else float(raw)
    except (TypeError, ValueError):
        kind = "a whole number" if integer else "a number"
        raise OkxInvalidInputError(f"extra.{key}", raw, f"expected {kind}") from None
    if value < 0:
        raise OkxInvalidInputError(f"extra.{key}", raw, "must not be negative")
    return value


def _base_url(host: str | None, schema: str | None, port: int | None) -> str:
    host = (host or "").strip().rstrip("/")
    if not host:
        return DEFAULT_HOST
    if "://" not in host:
        scheme = schema if schema in ("http", "https") else "https"
        host = f"{scheme}://{host}"
    if port and host.count(":") < 2:
        host = f"{host}:{port}"
    return host


def parse_extra(extra: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if not extra:
        return {}
    if isinstance(extra, Mapping):
        return dict(extra)
    try:
        value = json.loads(extra)
    except ValueError:
        raise OkxInvalidInputError("extra", "<not shown>", "the connection extra is not valid JSON") from None
    if not isinstance(value, dict):
        raise OkxInvalidInputError("extra", "<not shown>", "the connection extra must be a JSON object")
    return value


def config_from_connection(conn: Any) -> OkxConfig:
    """Build an :class:`OkxConfig` from an Airflow ``Connection`` (any version).

    Raises :class:`OkxInvalidInputError` naming the missing or malformed field; secret values
    are never quoted.
    """
    extra = parse_extra(conn.extra_dejson if hasattr(conn, "extra_dejson") else conn.extra)
    api_key = (conn.login or "").strip()
    secret = conn.password or ""
    passphrase = str(extra.get("passphrase") or "")
    conn_id = getattr(conn, "conn_id", None) or "?"
    for name, value in (
        ("login (API key)", api_key),
        ("password (secret key)", secret),
        ("extra.passphrase", passphrase),
    ):
        if not value:
            raise OkxInvalidInputError(name, "<empty>", f"connection {conn_id!r} must set it")
    project_id = extra.get("project_id") or None
    return OkxConfig(
        base_url=_base_url(conn.host, conn.schema, conn.port),
        credentials=Credentials(api_key, secret, passphrase, str(project_id) if project_id else None),
        version=api_version(extra.get("api_version") or "v6"),
        rate_limit_rps=_number(extra, "rate_limit_rps", 1.0),
        timeout=_number(extra, "timeout", 10.0) or 10.0,
        max_retries=_number(extra, "max_retries", 5, integer=True),
    )


@dataclass
class SharedState:
    """What every client of one key in this process shares: its rate limit and clock offset."""

    limiter: RateLimiter
    clock: ClockOffset


_shared: dict[tuple[str, str, float], SharedState] = {}
_shared_lock = threading.Lock()


def shared_state(config: OkxConfig) -> SharedState:
    """The process-wide limiter and clock for ``config``'s key on its base URL.

    Hooks for the same key (several tasks of a LocalExecutor worker, many triggers in one
    triggerer) therefore never exceed ``rate_limit_rps`` together.
    """
    key = (config.base_url, config.credentials.api_key, config.rate_limit_rps)
    with _shared_lock:
        state = _shared.get(key)
        if state is None:
            state = _shared[key] = SharedState(RateLimiter(config.rate_limit_rps), ClockOffset())
        return state
