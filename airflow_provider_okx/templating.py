"""Telling a value DAG authors gave us from one Airflow will still fill in.

Operators validate what they can at construction (so a bad DAG fails at parse time, not at
3 a.m.) and leave templates, ``XComArg``s and mapped arguments to ``execute``.
"""

from __future__ import annotations

import ast
import json
from decimal import Decimal

_PLAIN = (str, int, float, Decimal, list, tuple, dict, type(None))


def is_templated(value: object) -> bool:
    """A string Airflow will still render with Jinja."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def unresolved(value: object) -> bool:
    """Still a template, or an ``XComArg`` / mapped argument Airflow resolves at run time."""
    return is_templated(value) or not isinstance(value, _PLAIN)


def literal(text: str) -> object:
    """A rendered list or dict back as a value: JSON first, then a Python literal
    (``render_template_as_native_obj`` off renders ``['0x..']``). Raises ``ValueError``."""
    try:
        return json.loads(text)
    except ValueError:
        try:
            return ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"not a JSON or Python literal: {text[:80]!r}") from None
