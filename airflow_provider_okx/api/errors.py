"""Typed errors that say what OKX said: code, message, HTTP status and endpoint.

Which codes are retried is decided in :mod:`airflow_provider_okx.api.retry`; this module
only maps OKX's codes to classes a caller can catch.
"""

from __future__ import annotations


class OkxError(Exception):
    """Base class of everything this provider raises about OKX."""


class OkxInvalidInputError(OkxError, ValueError):
    """Bad input caught before any request is sent; names the field and the value."""

    def __init__(self, field: str, value: object, reason: str) -> None:
        self.field = field
        self.value = value
        self.reason = reason
        super().__init__(f"{field}={value!r}: {reason}")


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
        """Seconds from a ``Retry-After`` header, when OKX sent one."""
        self.server_time = server_time
        """Epoch seconds from the response's ``Date`` header, when there was one."""
        super().__init__(self._describe())

    def _describe(self) -> str:
        where = f" from {self.endpoint}" if self.endpoint else ""
        status = f" (HTTP {self.http_status})" if self.http_status is not None else ""
        text = f"OKX error {self.code}{where}{status}: {self.msg or 'no message'}"
        hint = _HINTS.get(self.code)
        return f"{text}. {hint}" if hint else text

    def __reduce__(self):  # type: ignore[no-untyped-def]
        # Keep errors picklable (Airflow ships exceptions across processes).
        kwargs = {"retry_after": self.retry_after, "server_time": self.server_time}
        return (_rebuild, (type(self), (self.code, self.msg, self.http_status, self.endpoint), kwargs))


def _rebuild(cls: type[OkxApiError], args: tuple, kwargs: dict) -> OkxApiError:
    return cls(*args, **kwargs)


class OkxAuthError(OkxApiError):
    """The key, passphrase, signature or timestamp was refused (never retried)."""


class OkxClockSkewError(OkxAuthError):
    """OKX refused the timestamp (50102/50112): the client clock is off; resynced once."""


class OkxRateLimitError(OkxApiError):
    """Too many requests (HTTP 429 / 50011)."""


class OkxUnavailableError(OkxApiError):
    """OKX is temporarily unable to answer (5xx, 50001, 50026, 81159, 81451, bad body)."""


class OkxInvalidRequestError(OkxApiError):
    """OKX rejected the parameters (never retried)."""


class OkxMalformedResponseError(OkxUnavailableError):
    """A success envelope whose ``data`` is not OKX's documented shape (a field missing, null
    or of the wrong type). Never read as "holds nothing": retried as transient, then raised."""


class OkxTransportError(OkxError):
    """The request never got an HTTP answer: timeout, refused or dropped connection."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"no answer from OKX for {endpoint}: {reason}")


def is_permanent(error: BaseException) -> bool:
    """Whether retrying cannot help: authentication, signature, permission, invalid input or
    parameters, a retired endpoint. Operators and sensors fail the task at once on these
    (no task retries spent); everything else (rate limits, OKX unavailable, malformed answers,
    transport errors) stays retryable."""
    return isinstance(error, (OkxAuthError, OkxInvalidRequestError, OkxInvalidInputError))


# --- code table --------------------------------------------------------------------------

_CLOCK_CODES = frozenset({"50102", "50112"})
_AUTH_CODES = frozenset(
    {"50103", "50104", "50105", "50106", "50107", "50111", "50113", "50125", "80001"} | _CLOCK_CODES
)
_RATE_CODES = frozenset({"50011"})
_UNAVAILABLE_CODES = frozenset({"50001", "50026", "81159", "81451"})

_HINTS = {
    "50050": "OKX has retired this v5 endpoint: set the connection extra api_version to 'v6'",
    "50105": "check the connection's passphrase extra",
    "50111": "check the connection's API key (login)",
    "50113": "check the secret key (password) and that it was not swapped with the passphrase",
    "50102": "the local clock is far from OKX's; check NTP on this machine",
    "50112": "the local clock is far from OKX's; check NTP on this machine",
    "50125": "OKX does not serve this region",
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
    elif code in _AUTH_CODES or http_status in (401, 403):
        cls = OkxAuthError
    elif code in _RATE_CODES or http_status == 429:
        cls = OkxRateLimitError
    elif code in _UNAVAILABLE_CODES or (http_status is not None and http_status >= 500):
        cls = OkxUnavailableError
    else:
        cls = OkxInvalidRequestError
    return cls(code, msg, http_status, endpoint, retry_after=retry_after, server_time=server_time)
