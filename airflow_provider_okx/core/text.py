"""Text that came from the API (token symbols, addresses, labels), made safe to publish.

One sanitiser for every output: token symbols are chosen by whoever deployed the token, and
spam airdrops put lone surrogates, control characters, formulas and links in them. A symbol
like that must neither break a file (a lone surrogate cannot be encoded as UTF-8) nor run as
a formula in the spreadsheet a finance reader opens.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
"""Characters XML forbids or UTF-8 cannot encode: C0/C1 controls (tab, LF and CR excepted),
lone surrogates and the two non-characters."""

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def clean_text(value: object) -> str:
    """``value`` as text with every unsafe character replaced by U+FFFD (the replacement
    character), so the text encodes as UTF-8 and is valid in XML and HTML."""
    return _UNSAFE.sub("\ufffd", str(value))


def spreadsheet_safe(value: object) -> str:
    """:func:`clean_text`, and a leading ``'`` where a spreadsheet would run the cell as a
    formula (it starts with ``= + - @``, a tab, CR or LF), as OWASP advises for CSV export."""
    text = clean_text(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


TEXTS_KEPT = 100_000
"""Texts a :class:`TextCache` keeps before it starts again."""


class TextCache(dict[str, str]):
    """``make(text)`` by text (``cache[text]``), made once per distinct text: labels, addresses,
    chains, tokens and symbols repeat across a million rows. A text found costs one dict lookup;
    past :data:`TEXTS_KEPT` texts the cache is emptied (a million distinct texts are not kept)."""

    __slots__ = ("_make",)

    def __init__(self, make: Callable[[str], str]) -> None:
        super().__init__()
        self._make = make

    def __missing__(self, text: str) -> str:
        if len(self) >= TEXTS_KEPT:
            self.clear()
        made = self[text] = self._make(text)
        return made
