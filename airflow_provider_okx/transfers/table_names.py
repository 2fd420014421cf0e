"""The table name rule every SQL loader checks in ``__init__`` (at DAG parse time) and again
once its templates are rendered.

Light on purpose: the column types and value binding per database
(:mod:`airflow_provider_okx.transfers.sql`, which re-exports these names) are only needed when
the task runs.
"""

from __future__ import annotations

import re

from airflow_provider_okx.core.api.errors import OkxInvalidInputError

TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*){0,2}\Z")
"""``table``, ``schema.table`` or ``database.schema.table``: plain identifiers, never quoted SQL."""


def check_table(table: object) -> str:
    """``table`` if it is a plain (optionally schema-qualified) identifier, else a clear error."""
    if not isinstance(table, str) or not TABLE_NAME.match(table):
        raise OkxInvalidInputError(
            "table", table, "expected a plain name such as okx_balances or analytics.okx_balances"
        )
    return table
