"""Telling a value DAG authors gave us from one Airflow will still fill in.

Operators validate what they can at construction (so a bad DAG fails at parse time, not at
3 a.m.) and leave templates, ``XComArg``s and mapped arguments to ``execute``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import PurePath

_PLAIN = (str, int, float, Decimal, bytes, bytearray, set, frozenset, PurePath, type(None))
"""Values the DAG author wrote as they are: checked at construction (and refused there if
their type is wrong: ``chains=b"1"`` is not "resolved later")."""


def is_templated(value: object) -> bool:
    """A string Airflow will still render with Jinja."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def unresolved(value: object) -> bool:
    """Still a template, or an ``XComArg`` / mapped argument Airflow resolves at run time,
    itself or inside a list, tuple or dict (Airflow renders template fields' nested values)."""
    if isinstance(value, (list, tuple)):
        return any(unresolved(item) for item in value)
    if isinstance(value, dict):
        return any(unresolved(key) or unresolved(item) for key, item in value.items())
    return is_templated(value) or not isinstance(value, _PLAIN)
