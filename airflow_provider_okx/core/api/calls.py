"""A planned API call: the requests to send, how to read each answer, how to combine them.

A call is planned once from the user's arguments, then run by either transport (sync or
async): they share everything but the I/O. Sans-IO: no HTTP library, no Airflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from airflow_provider_okx.core.api.routes import ApiRequest

T = TypeVar("T")


def _as_is(data: list[Any]) -> Any:
    return data


@dataclass(frozen=True)
class Call(Generic[T]):
    """One API call: ``combine([interpret(data) for each request])`` is its result.

    :param requests: what to send (several when more than 50 chains are chunked).
    :param interpret: reads one response's ``data`` into typed values; it runs inside the
        retry loop, so a malformed answer it refuses is retried like a transient error.
    :param combine: merges the interpreted answers, in request order, into the result.
    """

    requests: list[ApiRequest]
    combine: Callable[[list[Any]], T]
    interpret: Callable[[list[Any]], Any] = _as_is
