"""Fault injection: make the simulator fail the way OKX and its gateway fail."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http import HTTPStatus

# OKX's messages for the codes a test is likely to inject.
DEFAULT_MESSAGES: dict[str, str] = {
    "0": "success",
    "50001": "Service temporarily unavailable",
    "50005": "API is offline or unavailable",
    "50011": "Too Many Requests",
    "50014": "Parameter can not be empty",
    "50026": "System error, please try again later",
    "50050": "V5 API is being deprecated",
    "50102": "Timestamp request expired",
    "50103": "OK-ACCESS-KEY header is required",
    "50104": "OK-ACCESS-PASSPHRASE header is required",
    "50105": "Invalid OK-ACCESS-PASSPHRASE",
    "50106": "OK-ACCESS-SIGN header is required",
    "50107": "OK-ACCESS-TIMESTAMP header is required",
    "50111": "Invalid OK-ACCESS-KEY",
    "50112": "Invalid OK-ACCESS-TIMESTAMP",
    "50113": "Invalid Sign",
    "50125": "Your region is not supported",
    "51000": "Parameter error",
    "80001": "Service not available in your region",
    "81001": "Incorrect parameter",
    "81104": "Chain not support",
    "81150": "Chain not support",
    "81106": "Address must be lower case",
    "81151": "Illegal token address",
    "81152": "Token does not exist",
    "81157": "Chain and address do not match",
    "81159": "Data caching, please try again later",
    "81353": "Illegal address",
    "81451": "Node failure",
}

# The OKX code an injected HTTP status carries when the fault names no code (v6 differs for 400:
# its balance error table has 50014, not the exchange-style 51000).
_V6_CODE_FOR_STATUS: dict[int, str] = {400: "50014"}
_CODE_FOR_STATUS: dict[int, str] = {
    400: "51000",
    401: "50113",
    429: "50011",
    500: "50026",
    502: "50001",
    503: "50001",
    504: "50001",
}


@dataclass
class Fault:
    """One injected failure, applied to the next ``times`` matching requests.

    - ``status``/``code``/``msg``: answer with an OKX envelope (``{"code", "msg", "data": []}``).
      A ``code`` without ``status`` answers HTTP 200 (OKX's business errors do), except 50011
      which answers 429. A ``status`` without ``code`` gets the usual code for it (503 -> 50001;
      400 -> 50014 on a v6 route, 51000 on a v5 one).
    - ``body``: answer with these raw bytes instead of an envelope (an HTML error page, truncated
      JSON); HTTP 200 unless ``status`` says otherwise.
    - ``headers``: added to the answer (``{"Retry-After": "2"}``); with nothing else set they are
      added to the normal answer.
    - ``latency``: extra seconds before answering; alone, the request is then served normally.
    - ``drop``: close the connection without sending anything.
    - ``times``: how many matching requests this fault applies to (``None``: until cleared).
    - ``endpoint``: only requests to this endpoint (``"total_value"``) or whose path contains it.
    """

    status: int | None = None
    code: str | None = None
    msg: str | None = None
    body: bytes | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    latency: float = 0.0
    drop: bool = False
    times: int | None = 1
    endpoint: str | None = None

    @property
    def answers(self) -> bool:
        """Whether this fault replaces the normal answer (rather than only delaying it)."""
        return self.drop or self.status is not None or self.code is not None or self.body is not None

    def matches(self, endpoint: str | None, path: str) -> bool:
        """Whether this fault applies to a request for ``endpoint`` at ``path``."""
        if self.endpoint is None:
            return True
        return self.endpoint == endpoint or self.endpoint in path

    def response_status(self) -> int:
        """The HTTP status to answer with."""
        if self.status is not None:
            return self.status
        if self.code == "50011":
            return 429
        return 200

    def response_code(self, version: str | None = None) -> str:
        """The OKX code of the envelope, for a route of API generation ``version``."""
        if self.code is not None:
            return self.code
        status = self.response_status()
        if version == "v6" and status in _V6_CODE_FOR_STATUS:
            return _V6_CODE_FOR_STATUS[status]
        if status in _CODE_FOR_STATUS:
            return _CODE_FOR_STATUS[status]
        return "0" if status < 400 else "50000"

    def response_msg(self, version: str | None = None) -> str:
        """The envelope's message: the fault's, OKX's usual one for the code, or the HTTP phrase."""
        if self.msg is not None:
            return self.msg
        code = self.response_code(version)
        if code in DEFAULT_MESSAGES:
            return DEFAULT_MESSAGES[code]
        try:
            return HTTPStatus(self.response_status()).phrase
        except ValueError:
            return "Error"

    def body_bytes(self) -> bytes | None:
        """The raw body as bytes, or ``None`` when the fault answers with an envelope."""
        if self.body is None:
            return None
        return self.body.encode("utf-8") if isinstance(self.body, str) else bytes(self.body)


class FaultQueue:
    """Injected faults in order; each request takes the first matching fault with uses left."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._left: list[int | None] = []

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)
            self._left.append(fault.times)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._left.clear()

    def take(self, endpoint: str | None, path: str) -> Fault | None:
        """The fault that applies to this request (using one of its ``times``), if any."""
        with self._lock:
            for i, fault in enumerate(self._faults):
                left = self._left[i]
                if (left is None or left > 0) and fault.matches(endpoint, path):
                    if left is not None:
                        if left <= 1:
                            del self._faults[i]
                            del self._left[i]
                        else:
                            self._left[i] = left - 1
                    return fault
            return None

    def pending(self) -> list[Fault]:
        """Faults that still have uses left."""
        with self._lock:
            return [f for f, left in zip(self._faults, self._left, strict=True) if left is None or left > 0]
