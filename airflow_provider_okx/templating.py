"""Telling a value DAG authors gave us from one Airflow will still fill in.

Operators validate what they can at construction (so a bad DAG fails at parse time, not at
3 a.m.) and leave templates, ``XComArg``s and mapped arguments to ``execute``.
"""

from __future__ import annotations

from decimal import Decimal

_PLAIN = (str, int, float, Decimal, list, tuple, dict, type(None))


def is_templated(value: object) -> bool:
    """A string Airflow will still render with Jinja."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def unresolved(value: object) -> bool:
    """Still a template, or an ``XComArg`` / mapped argument Airflow resolves at run time."""
    return is_templated(value) or not isinstance(value, _PLAIN)
