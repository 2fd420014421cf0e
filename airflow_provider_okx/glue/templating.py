"""Telling a value DAG authors gave us from one Airflow will still fill in.

Operators validate what they can at construction (so a bad DAG fails at parse time, not at
3 a.m.) and leave templates, ``XComArg``s and mapped arguments to ``execute``.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import PurePath
from typing import Any

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


class TextTemplateFields:
    """Keeps our template fields' text under ``render_template_as_native_obj=True``.

    Jinja's native mode runs ``ast.literal_eval`` on whatever a string renders to, so a wallet
    ``"0x28C6c06298d514Db089934071355E5743bf21d60"`` (or the ``{{ params.address }}`` that holds
    it) becomes an ``int`` and ``"0xabc,0xdef"`` a tuple of ints: case and leading zeros are
    gone, and no address can be read back. So a string that native mode turned into a number, or
    into a tuple, list or dict holding one, is rendered again as text, with the DAG's own macros
    and filters, and the input parsers read that text as the author wrote it (``"0xabc,0xdef"``,
    ``"[1, 56]"``). Lists and dicts of text still come out native; non-string values
    (``XComArg`` results, lists written in the DAG) are untouched.
    """

    def render_template(
        self, content: Any, context: Any, jinja_env: Any = None, seen_oids: set[int] | None = None
    ) -> Any:
        rendered = super().render_template(content, context, jinja_env, seen_oids)  # type: ignore[misc]
        if isinstance(content, str) and _holds_number(rendered):
            dag = self.dag if self.has_dag() else None  # type: ignore[attr-defined]
            if dag is not None:  # Airflow picks native rendering by the DAG's flag: render directly
                rendered = dag.get_template_env(force_sandboxed=True).from_string(content).render(context)
        return rendered


def _holds_number(value: object, depth: int = 0) -> bool:
    """A number (or bool), or a container holding one: what native rendering may have made
    from text (hex addresses, ``1e3``, ``0x1,0x2``)."""
    if isinstance(value, (int, float, complex)):
        return True
    if depth > 20:
        return False
    if isinstance(value, dict):
        return any(_holds_number(k, depth + 1) or _holds_number(v, depth + 1) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_number(item, depth + 1) for item in value)
    return False
