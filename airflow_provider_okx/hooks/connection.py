"""From an Airflow connection to a client configuration, and per-process shared client state.

Everything the connection holds is checked here, when it is read, with a message naming the
connection and the field and never quoting a secret: credentials (surrounding whitespace, as
a file-mounted secret's trailing newline, is stripped; a character that cannot travel in an
HTTP header is refused), the base URL (a bare host name means ``https://``), and the numeric
and transport extras. Pure apart from reading the connection's attributes and checking that
certificate files exist: no network, no HTTP library.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import math
import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from airflow_provider_okx import CONN_FIELDS, DEFAULT_HOST, __version__
from airflow_provider_okx.core.api.body import DEFAULT_MAX_RESPONSE_BYTES
from airflow_provider_okx.core.api.clock import ClockOffset
from airflow_provider_okx.core.api.errors import OkxConnectionConfigError, OkxInvalidInputError
from airflow_provider_okx.core.api.ratelimit import RateLimiter, SharedLimiter
from airflow_provider_okx.core.api.retry import RetryPolicy
from airflow_provider_okx.core.api.routes import V5, ApiVersion, api_version
from airflow_provider_okx.core.api.signing import Credentials
from airflow_provider_okx.hooks.rate_store import RateStore, budget_key, rate_store, redacted

log = logging.getLogger("airflow_provider_okx")

USER_AGENT = f"airflow-provider-okx/{__version__}"

MIB = 1024 * 1024
DEFAULT_IN_FLIGHT_BYTES = 64 * MIB
"""``max_in_flight_bytes`` when the connection does not set it: 64 MiB."""
MIN_IN_FLIGHT_BYTES = 1 * MIB
MAX_IN_FLIGHT_BYTES = 16 * 1024 * MIB
"""The bounds of ``max_in_flight_bytes``: 1 MiB to 16 GiB."""


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
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES
    """Cap on a response body, counted after decompression; a larger answer is an error."""
    max_in_flight_bytes: int = DEFAULT_IN_FLIGHT_BYTES
    """Decoded response bytes the workers of one many-wallet fetch hold at once (read, not yet
    parsed into rows); the oldest reader may go past it, so every answer is still read."""
    proxies: Mapping[str, str] | None = field(default=None, repr=False)
    """``{"https": "http://proxy:3128"}`` as ``requests`` takes them; ``None``: the
    environment's (``HTTPS_PROXY``...). Not in ``repr``: a proxy URL may hold a password."""
    verify: bool | str = True
    """TLS verification: ``True``, ``False`` or the path of a CA bundle."""
    cert: str | tuple[str, str] | None = None
    """Client certificate: a PEM path, or ``(cert, key)`` paths."""
    user_agent: str = USER_AGENT
    rate_limit_store: str | None = field(default=None, repr=False)
    """A ``redis://`` / ``rediss://`` URL: ``rate_limit_rps`` is then the whole key's budget,
    shared by every process. Not in ``repr``: it may hold a password."""

    @property
    def retry(self) -> RetryPolicy:
        # Rate-limited answers are retried past max_retries within the call's total deadline.
        return RetryPolicy(
            max_retries=self.max_retries, rate_limit_deadline=self.timeout * (self.max_retries + 1)
        )

    def secrets(self) -> list[str]:
        """Values to register with Airflow's secrets masker: the secret key, the passphrase
        and any proxy or rate-limit store password."""
        values = [self.credentials.secret_key, self.credentials.passphrase]
        for url in [*(self.proxies or {}).values(), self.rate_limit_store or ""]:
            try:
                password = urlsplit(url).password
            except ValueError:
                password = None
            if password:
                values.append(password)
        return values


# --- numbers -------------------------------------------------------------------------------


def _number(
    conn_id: str,
    extra: Mapping[str, Any],
    key: str,
    default: Any,
    *,
    integer: bool = False,
    positive: bool = False,
    minimum: float | None = None,
    maximum: float | None = None,
) -> Any:
    raw = extra.get(key)
    if raw is None or raw == "":
        return default
    kind = "a whole number" if integer else "a number"

    def refuse(reason: str) -> OkxConnectionConfigError:
        return OkxConnectionConfigError(conn_id, f"extra.{key}", raw, reason)

    if isinstance(raw, bool) or not isinstance(raw, (int, float, str)):
        raise refuse(f"expected {kind}, got {type(raw).__name__}")
    try:
        value = float(raw.strip()) if isinstance(raw, str) else float(raw)
    except (ValueError, OverflowError):
        raise refuse(f"expected {kind}") from None
    if not math.isfinite(value):
        raise refuse("must be a finite number")
    if integer and not value.is_integer():
        raise refuse(f"expected {kind}")
    if value < 0:
        raise refuse("must not be negative")
    if positive and value == 0:
        raise refuse("must be greater than 0")
    if minimum is not None and value < minimum:
        raise refuse(f"must be at least {_bound(minimum)}")
    if maximum is not None and value > maximum:
        raise refuse(f"must be at most {_bound(maximum)}")
    return int(value) if integer else value


def _bound(value: float) -> str:
    """A bound as the message shows it: ``1048576``, not ``1.04858e+06``."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _form_field(conn_id: str, extra: Mapping[str, Any], key: str) -> Any:
    """A numeric field of the connection form, checked against the bounds its form declares
    (``CONN_FIELDS``): what either Airflow UI accepts, the hook accepts, and nothing else."""
    schema = CONN_FIELDS[key]["schema"]
    integer = "integer" in schema["type"]
    default = int(schema["default"]) if integer else float(schema["default"])
    return _number(
        conn_id, extra, key, default, integer=integer, minimum=schema["minimum"], maximum=schema["maximum"]
    )


# --- base URL ------------------------------------------------------------------------------

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")
_HOST_PORT = re.compile(r"[^\s/:@]+:\d{1,5}")


def is_loopback(hostname: str | None) -> bool:
    if not hostname:
        return False
    if hostname.lower() in ("localhost", "localhost.") or hostname.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def _base_url(conn_id: str, host: str | None, schema: str | None, port: int | None) -> str:
    """The base URL: ``https://`` + a bare host name, or a full ``http(s)://`` URL.

    ``host:port`` without a scheme is refused (is it TLS or not?) instead of failing later with
    an SSL ``WRONG_VERSION_NUMBER``; ``http://`` is allowed (a local simulator) and warned
    about for any host but loopback.
    """
    text = (host or "").strip()
    if not text:
        return DEFAULT_HOST
    shown = "<not shown: it holds credentials>" if "@" in text else text

    def refuse(reason: str) -> OkxConnectionConfigError:
        return OkxConnectionConfigError(conn_id, "host", shown, reason)

    if "://" not in text:
        text = text.rstrip("/")
        if _HOST_PORT.fullmatch(text):
            raise refuse(f"has no scheme: write https://{text} (or http://{text} for a local simulator)")
        if not _HOSTNAME.fullmatch(text):
            raise refuse("expected a URL such as https://web3.okx.com, or a bare host name")
        scheme = schema.strip().lower() if schema and schema.strip().lower() in ("http", "https") else "https"
        text = f"{scheme}://{text}"
    try:
        parts = urlsplit(text)
        url_port = parts.port
    except ValueError:
        raise refuse("is not a valid URL (a bad port?)") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise refuse("the scheme must be https:// (or http:// for a local simulator)")
    if not parts.hostname:
        raise refuse("has no host name")
    if parts.username is not None or parts.password is not None:
        raise refuse("must not contain a user name or password")
    if parts.query or parts.fragment:
        raise refuse("takes no query or fragment: only scheme, host and port")
    base = text.rstrip("/")
    if port and url_port is None and parts.path.strip("/") == "":
        base = f"{base}:{port}"
    if scheme == "http" and not is_loopback(parts.hostname):
        log.warning(
            "Connection %r sends its requests to %s over plain http://: the API key, passphrase "
            "and signatures travel unencrypted. Use https:// unless this is a local simulator.",
            conn_id,
            parts.hostname,
        )
    return base


# --- credentials ---------------------------------------------------------------------------

_HEADER_SAFE = re.compile(r"[\x20-\x7e]*")


def _credential(conn_id: str, name: str, value: object, *, header: bool, hint: str) -> str:
    """A credential with surrounding whitespace stripped; refused when empty or unsendable."""
    text = "" if value is None else str(value)
    text = text.strip()
    if not text:
        raise OkxConnectionConfigError(conn_id, name, "<empty>", f"is required: {hint}")
    if header and not _HEADER_SAFE.fullmatch(text):
        raise OkxConnectionConfigError(
            conn_id,
            name,
            "<not shown>",
            "contains a line break, control or non-ASCII character, which cannot be sent in an "
            "HTTP header (the value is not shown): re-enter it",
        )
    return text


# --- transport extras ----------------------------------------------------------------------

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _maybe_json(raw: Any) -> Any:
    if isinstance(raw, str) and raw.strip().startswith(("{", "[")):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


def _proxies(conn_id: str, extra: Mapping[str, Any]) -> dict[str, str] | None:
    key = "proxies" if "proxies" in extra else "proxy"
    raw = _maybe_json(extra.get(key))
    if raw is None or raw == "" or raw == {}:
        return None
    if isinstance(raw, str):
        raw = {"http": raw, "https": raw}
    if not isinstance(raw, Mapping):
        raise OkxConnectionConfigError(
            conn_id, f"extra.{key}", "<not shown>", 'expected {"https": "http://proxy:3128", ...}'
        )
    proxies: dict[str, str] = {}
    for scheme, url in raw.items():
        ok = isinstance(scheme, str) and isinstance(url, str) and "://" in url
        if ok:
            try:
                ok = bool(urlsplit(url.strip()).hostname)
            except ValueError:
                ok = False
        if not ok:
            raise OkxConnectionConfigError(
                conn_id,
                f"extra.{key}[{scheme!r}]",
                "<not shown>",
                "expected a proxy URL such as http://proxy:3128 (the value is not shown)",
            )
        proxies[scheme] = url.strip()
    return proxies


_STORE_SCHEMES = ("redis", "rediss")


def _rate_limit_store(conn_id: str, extra: Mapping[str, Any]) -> str | None:
    """``extra.rate_limit_store``: a ``redis://`` or ``rediss://`` URL, or ``None``.

    Refused with a message naming the field; the value is quoted with its password replaced.
    """
    raw = extra.get("rate_limit_store")
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    name = "extra.rate_limit_store"
    if not isinstance(raw, str):
        raise OkxConnectionConfigError(
            conn_id,
            name,
            "<not shown>",
            f"expected a Redis URL such as redis://host:6379/0, got {type(raw).__name__}",
        )
    url = raw.strip()
    shown = redacted(url)

    def refuse(reason: str) -> OkxConnectionConfigError:
        return OkxConnectionConfigError(conn_id, name, shown, reason)

    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (a bad port raises here)
    except ValueError:
        raise refuse("is not a valid URL (a bad port?)") from None
    if parts.scheme.lower() not in _STORE_SCHEMES:
        raise refuse("expected a Redis URL: redis://[:password@]host[:port][/db] or rediss:// (TLS)")
    if not parts.hostname:
        raise refuse("has no host name")
    database = parts.path.strip("/")
    if database and not database.isdigit():
        raise refuse(f"the database after the host must be a number, got {database!r}")
    if any(c.isspace() for c in url):
        raise refuse("must not contain spaces")
    return url


def _existing_file(conn_id: str, name: str, path: object) -> str:
    if not isinstance(path, str) or not path.strip():
        raise OkxConnectionConfigError(conn_id, name, path, "expected the path of a file")
    text = os.path.expanduser(path.strip())
    if not os.path.exists(text):
        raise OkxConnectionConfigError(conn_id, name, path, "no such file on this machine")
    return text


def _verify(conn_id: str, extra: Mapping[str, Any]) -> bool | str:
    key = "verify" if "verify" in extra else "verify_ssl"
    raw = extra.get(key)
    if raw is None or raw == "":
        return True
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
        return raw.strip().lower() in _TRUE
    if isinstance(raw, str):
        return _existing_file(conn_id, f"extra.{key}", raw)
    raise OkxConnectionConfigError(
        conn_id, f"extra.{key}", raw, "expected true, false or the path of a CA bundle"
    )


def _cert(conn_id: str, extra: Mapping[str, Any]) -> str | tuple[str, str] | None:
    raw = _maybe_json(extra.get("cert"))
    key = extra.get("cert_key")
    if raw is None or raw == "":
        if key:
            raise OkxConnectionConfigError(
                conn_id, "extra.cert_key", key, "needs extra.cert (the client certificate)"
            )
        return None
    if isinstance(raw, (list, tuple)):
        if len(raw) != 2 or key:
            raise OkxConnectionConfigError(
                conn_id, "extra.cert", raw, "expected a path, or [certificate path, key path]"
            )
        return (
            _existing_file(conn_id, "extra.cert[0]", raw[0]),
            _existing_file(conn_id, "extra.cert[1]", raw[1]),
        )
    cert = _existing_file(conn_id, "extra.cert", raw)
    if key:
        return (cert, _existing_file(conn_id, "extra.cert_key", key))
    return cert


# --- the connection ------------------------------------------------------------------------


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

    Raises :class:`~airflow_provider_okx.core.api.errors.OkxConnectionConfigError` naming the
    connection and the missing or malformed field; secret values are never quoted. Logs a
    warning for a v5 connection without a project id and for ``http://`` to a remote host.
    """
    conn_id = str(getattr(conn, "conn_id", None) or "?")
    extra = parse_extra(conn.extra_dejson if hasattr(conn, "extra_dejson") else conn.extra)
    api_key = _credential(
        conn_id, "login (API key)", conn.login, header=True, hint="the API key created on OKX"
    )
    secret = _credential(
        conn_id, "password (secret key)", conn.password, header=False, hint="the key's secret key"
    )
    passphrase = _credential(
        conn_id,
        "extra.passphrase",
        extra.get("passphrase"),
        header=True,
        hint="the passphrase chosen when the API key was created",
    )
    project_raw = extra.get("project_id")
    project_id = None
    if project_raw not in (None, ""):
        project_id = _credential(
            conn_id, "extra.project_id", project_raw, header=True, hint="or leave it out"
        )
    try:
        version = api_version(extra.get("api_version") or "v6")
    except OkxInvalidInputError as error:
        raise OkxConnectionConfigError(conn_id, "extra.api_version", error.value, error.reason) from None
    if version is V5 and not project_id:
        log.warning(
            "Connection %r uses OKX's v5 API without extra.project_id: every v5 example of OKX "
            "sends OK-ACCESS-PROJECT, and OKX may refuse v5 requests without it. Set the "
            "project id from OKX's developer portal, or use api_version 'v6'.",
            conn_id,
        )
    return OkxConfig(
        base_url=_base_url(conn_id, conn.host, conn.schema, conn.port),
        credentials=Credentials(api_key, secret, passphrase, project_id),
        version=version,
        rate_limit_rps=_form_field(conn_id, extra, "rate_limit_rps"),
        timeout=_form_field(conn_id, extra, "timeout"),
        max_retries=_form_field(conn_id, extra, "max_retries"),
        max_response_bytes=_number(
            conn_id, extra, "max_response_bytes", DEFAULT_MAX_RESPONSE_BYTES, integer=True, positive=True
        ),
        max_in_flight_bytes=_number(
            conn_id,
            extra,
            "max_in_flight_bytes",
            DEFAULT_IN_FLIGHT_BYTES,
            integer=True,
            minimum=MIN_IN_FLIGHT_BYTES,
            maximum=MAX_IN_FLIGHT_BYTES,
        ),
        proxies=_proxies(conn_id, extra),
        verify=_verify(conn_id, extra),
        cert=_cert(conn_id, extra),
        rate_limit_store=_rate_limit_store(conn_id, extra),
    )


@dataclass
class SharedState:
    """What every client of one key in this process shares: its rate limit, clock offset and,
    with ``rate_limit_store``, the store the key's budget is reserved on."""

    limiter: RateLimiter
    clock: ClockOffset
    store: RateStore | None = None


_shared: dict[tuple[str, str, float, str | None], SharedState] = {}
_shared_lock = threading.Lock()


def shared_state(config: OkxConfig) -> SharedState:
    """The process-wide limiter and clock for ``config``'s key on its base URL.

    Hooks for the same key (several tasks of a LocalExecutor worker, many triggers in one
    triggerer) therefore never exceed ``rate_limit_rps`` together; with ``rate_limit_store``,
    every process on every machine shares it.
    """
    key = (config.base_url, config.credentials.api_key, config.rate_limit_rps, config.rate_limit_store)
    with _shared_lock:
        state = _shared.get(key)
        if state is None:
            if config.rate_limit_store:
                store = rate_store(
                    config.rate_limit_store, budget_key(config.base_url, config.credentials.api_key)
                )
                limiter: RateLimiter = SharedLimiter(config.rate_limit_rps, store.name)
                state = SharedState(limiter, ClockOffset(), store)
            else:
                state = SharedState(RateLimiter(config.rate_limit_rps), ClockOffset())
            _shared[key] = state
        return state
