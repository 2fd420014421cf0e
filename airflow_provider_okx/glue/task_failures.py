"""Which OKX errors fail a task at once, and which leave it to the task's retries.

A bad or revoked key, a refused signature, an invalid parameter or a retired endpoint will
fail the same way on every retry: spending the task's retries on it (2 x 5 minutes in the
example DAG) only delays the page to a human. Operators and sensors run their OKX calls inside
:func:`failing_fast_on_permanent_errors`, which turns those errors into Airflow's
``AirflowFailException`` (no retries) and lets transient ones through unchanged.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from airflow_provider_okx.core.api.errors import OkxError, is_permanent
from airflow_provider_okx.glue.compat import AirflowFailException


@contextmanager
def failing_fast_on_permanent_errors() -> Iterator[None]:
    """Re-raise a permanent :class:`OkxError` as ``AirflowFailException`` (chained, same text)."""
    try:
        yield
    except OkxError as error:
        if is_permanent(error):
            raise AirflowFailException(str(error)) from error
        raise
