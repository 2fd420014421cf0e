"""Typed errors that say what OKX said: code, message, HTTP status and endpoint.

Which codes are retried is decided in :mod:`airflow_provider_okx.core.api.retry`; which errors
fail a task at once is :func:`is_permanent`. This module only maps OKX's codes to classes a
caller can catch. Every class pickles with its fields (Airflow moves exceptions between
processes).
"""

from __future__ import annotations

import pickle
from typing import Any

MAX_SHOWN_VALUE = 200
"""Characters of a user's value quoted in a message (a 50 MB string is not repeated back)."""


def shorten(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with ``...`` when it was cut."""
    return text if len(text) <= limit else text[: max(limit - 3, 0)] + "..."


def describe_exception(exc: BaseException) -> str:
    """A transport error's kind and message (they carry the URL, never our headers)."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class OkxError(Exception):
    """Base class of everything this provider raises about OKX."""


class OkxInvalidInputError(OkxError, ValueError):
    """Bad input caught before any request is sent; names the field and the value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={shorten(repr(value), MAX_SHOWN_VALUE)}: {reason}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (_restore, (type(self), (self.field, _picklable(self.value), self.reason), self.args))


class OkxConnectionConfigError(OkxInvalidInputError):
    """The ``okx`` connection is incomplete or malformed; names the connection and the field.

    Secret values are never quoted: :attr:`value` is a description (``"<empty>"``...).
    :attr:`problem` is the message without the connection id, for the UI's Test button
    (Airflow 3 tests a connection under a random temporary id).
    """

    def __init__(self, conn_id: str, field: str, value: object, reason: str) -> None:
        self.conn_id = conn_id
        self.field = field
        self.value = value
        self.reason = reason
        Exception.__init__(self, f"connection {conn_id!r}: {self.problem}")

    @property
    def problem(self) -> str:
        return f"{self.field}: {self.reason}"

    def __reduce__(self):  # type: ignore[no-untyped-def]
        init = (self.conn_id, self.field, _picklable(self.value), self.reason)
        return (_restore, (type(self), init, self.args))


def _picklable(value: object) -> object:
    """``value``, or its ``repr`` when it cannot be pickled (a user's lambda, a generator)."""
    try:
        pickle.dumps(value)
    except Exception:
        return repr(value)
    return value


def _restore(cls: type[OkxError], init: tuple, args: tuple) -> OkxError:
    error = cls(*init)
    error.args = args  # the original message, even when a value travelled as its repr
    return error


class OkxApiError(OkxError):
    """OKX answered with an error: its ``code`` and ``msg``, the HTTP status and the endpoint."""

    def __init__(
        self,
        code: str,
        msg: str,
        http_status: int | None = None,
        endpoint: str = "",
        *,
        retry_after: float | None = None,
        server_time: float | None = None,
    ) -> None:
        self.code = code
        self.msg = msg
        self.http_status = http_status
        self.endpoint = endpoint
        self.retry_after = retry_after
        """Seconds from a ``Retry-After`` header, when OKX sent one (finite, >= 0)."""
        self.server_time = server_time
        """Epoch seconds from the response's ``Date`` header, when there was one."""
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" from {self.endpoint}" if self.endpoint else ""
        status = f" (HTTP {self.http_status})" if self.http_status is not None else ""
        text = f"OKX error {self.code}{where}{status}: {self.msg or 'no message'}"
        hint = self._hint()
        return f"{text}. {hint}" if hint else text

    def _hint(self) -> str | None:
        return _HINTS.get(self.code)

    def _kwargs(self) -> dict[str, Any]:
        """Keyword fields beyond the four positional ones (subclasses add theirs)."""
        return {"retry_after": self.retry_after, "server_time": self.server_time}

    def with_msg(self, msg: str) -> OkxApiError:
        """The same error (class and fields) with another ``msg``: a scrubbed one."""
        return _rebuild(type(self), (self.code, msg, self.http_status, self.endpoint), self._kwargs())

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keep errors picklable (Airflow ships exceptions across processes).
        args = (self.code, self.msg, self.http_status, self.endpoint)
        return (_rebuild, (type(self), args, self._kwargs()))


def _rebuild(cls: type[OkxApiError], args: tuple, kwargs: dict) -> OkxApiError:
    return cls(*args, **kwargs)


class OkxAuthError(OkxApiError):
    """The key, passphrase, signature, timestamp or permission was refused (never retried)."""


class OkxClockSkewError(OkxAuthError):
    """OKX refused the timestamp (50102/50112): the client clock is off; resynced once."""


class OkxRateLimitError(OkxApiError):
    """Too many requests (HTTP 429 / 50011)."""


class OkxUnavailableError(OkxApiError):
    """OKX is temporarily unable to answer (5xx, 50001, 50026, 81159, 81451, bad body)."""


class OkxInvalidRequestError(OkxApiError):
    """OKX rejected the parameters (never retried)."""


class OkxEndpointOfflineError(OkxApiError):
    """OKX says the API is offline or unavailable for good (50005 / HTTP 410): never retried."""

    def _hint(self) -> str:
        return (
            "OKX reports this API as offline (50005/410), which retrying will not change: "
            "if the connection uses api_version 'v5', switch it to 'v6'; otherwise check OKX's "
            "status and changelog"
        )


class OkxApiVersionRetiredError(OkxEndpointOfflineError):
    """OKX says the v5 API is being deprecated (50050): never retried; the connection's
    ``api_version`` extra must become ``v6``."""

    def _hint(self) -> str:
        if "/api/v6/" not in self.endpoint:
            return (
                "OKX is retiring its v5 API (50050), which retrying will not change: set the "
                "connection's extra api_version to 'v6' (the same data under the v6 routes)"
            )
        return "OKX answered 50050 (V5 API is being deprecated) to a v6 route: check OKX's changelog"


class OkxRedirectError(OkxApiError):
    """The server answered with a redirect (3xx). Never followed (it would re-send our signed
    headers elsewhere) and never retried: the connection's base URL is wrong.

    :attr:`location` is where it pointed, as scheme, host and path only (never a query).
    """

    def __init__(
        self,
        code: str,
        msg: str,
        http_status: int | None = None,
        endpoint: str = "",
        *,
        location: str = "",
        suggestion: str = "",
        retry_after: float | None = None,
        server_time: float | None = None,
    ) -> None:
        self.location = location
        self.suggestion = suggestion
        super().__init__(code, msg, http_status, endpoint, retry_after=retry_after, server_time=server_time)

    def _hint(self) -> str:
        return self.suggestion or "check the connection's host (base URL)"

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "location": self.location, "suggestion": self.suggestion}


class OkxMalformedResponseError(OkxUnavailableError):
    """A success envelope whose ``data`` is not OKX's documented shape (a field missing, null
    or of the wrong type), or a value out of bounds. Never read as "holds nothing": retried as
    transient, then raised. :attr:`field` names what was wrong (``data[0].tokenAssets``...)."""

    def __init__(
        self,
        code: str,
        msg: str,
        http_status: int | None = None,
        endpoint: str = "",
        *,
        field: str = "",
        retry_after: float | None = None,
        server_time: float | None = None,
    ) -> None:
        self.field = field
        super().__init__(code, msg, http_status, endpoint, retry_after=retry_after, server_time=server_time)

    def _kwargs(self) -> dict[str, Any]:
        return {**super()._kwargs(), "field": self.field}


class OkxTransportError(OkxError):
    """The request never got a complete HTTP answer: timeout (the total deadline included),
    refused or dropped connection."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"no answer from OKX for {endpoint}: {reason}")

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.endpoint, self.reason))


class OkxResponseTooLargeError(OkxError):
    """The response body grew past the connection's ``max_response_bytes`` (counted after
    decompression). Reading stopped there. Not retried, and permanent: the same request gets
    the same answer; raise the extra ``max_response_bytes`` if the answer is genuine."""

    def __init__(self, endpoint: str, limit: int) -> None:
        self.endpoint = endpoint
        self.limit = limit
        super().__init__(
            f"the answer from {endpoint} is larger than {limit:,} bytes (decompressed) and was "
            f"not read: raise the connection extra max_response_bytes if it is genuine"
        )

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (type(self), (self.endpoint, self.limit))


PERMANENT = (
    OkxAuthError,
    OkxInvalidRequestError,
    OkxInvalidInputError,
    OkxEndpointOfflineError,
    OkxRedirectError,
    OkxResponseTooLargeError,
)


def is_permanent(error: BaseException) -> bool:
    """Whether retrying cannot help: authentication, signature, permission, invalid input or
    parameters, an endpoint OKX reports offline, a redirect (a wrong base URL), an answer over
    the size cap. Operators and sensors fail the task at once on these (no task retries
    spent); everything else (rate limits, OKX unavailable, malformed answers, transport errors)
    stays retryable."""
    return isinstance(error, PERMANENT)


# --- code table --------------------------------------------------------------------------

_CLOCK_CODES = frozenset({"50102", "50112"})
_AUTH_CODES = frozenset(
    {"50030", "50103", "50104", "50105", "50106", "50107", "50111", "50113", "50125", "80001"} | _CLOCK_CODES
)
_RATE_CODES = frozenset({"50011"})
_UNAVAILABLE_CODES = frozenset({"50001", "50026", "81159", "81451"})
_OFFLINE_CODES = frozenset({"50005"})
_RETIRED_CODES = frozenset({"50050"})
"""OKX's "V5 API is being deprecated" (a third-party report; no OKX source documents it)."""

_HINTS = {
    "50030": "OKX requires a higher payment level of the account for this endpoint",
    "50105": "check the connection's passphrase extra",
    "50111": "check the connection's API key (login)",
    "50113": "check the secret key (password) and that it was not swapped with the passphrase",
    "50102": "the local clock is far from OKX's; check NTP on this machine",
    "50112": "the local clock is far from OKX's; check NTP on this machine",
    "80001": "OKX does not serve this region",
}


def error_for(
    code: str,
    msg: str,
    http_status: int | None,
    endpoint: str,
    *,
    retry_after: float | None = None,
    server_time: float | None = None,
) -> OkxApiError:
    """The typed error for an OKX code, falling back on the HTTP status."""
    cls: type[OkxApiError]
    if code in _CLOCK_CODES:
        cls = OkxClockSkewError
    elif code in _RETIRED_CODES:
        cls = OkxApiVersionRetiredError
    elif code in _OFFLINE_CODES or http_status == 410:
        cls = OkxEndpointOfflineError
    elif code in _AUTH_CODES or http_status in (401, 403):
        cls = OkxAuthError
    elif code in _RATE_CODES or http_status == 429:
        cls = OkxRateLimitError
    elif code in _UNAVAILABLE_CODES or (http_status is not None and http_status >= 500):
        cls = OkxUnavailableError
    else:
        cls = OkxInvalidRequestError
    return cls(code, msg, http_status, endpoint, retry_after=retry_after, server_time=server_time)
