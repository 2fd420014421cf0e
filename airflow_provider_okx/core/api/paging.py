"""Following OKX's cursor through every page: when to ask again, what is new, what to keep.

Sans-IO: the transports send each page's request and hand the read :class:`~.results.Page`
to :meth:`Pager.accept`, which returns the records to keep and says whether another page
is needed. Rules (OKX_API.md leaves the last page's shape undocumented):

- stop on an empty or absent cursor, on an empty page, or on a cursor already followed (a
  server that repeats its cursor would otherwise be asked for ever); never on a page shorter
  than the limit (OKX may cut a limit down silently);
- a record seen on the previous page or earlier on the same page is dropped (OKX may repeat a
  record across a page boundary); only the previous page's keys are kept, so memory stays
  one page deep whatever the history's length;
- records outside the window are dropped (the request asked a slightly wider one).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

from airflow_provider_okx.core.api.results import Page

T = TypeVar("T")


class Pager(Generic[T]):
    """The state of one cursor-paged read.

    :param key: what identifies a record (two records with one key are one record).
    :param keep: whether a record belongs to the result (the window).
    """

    def __init__(self, key: Callable[[T], Hashable], keep: Callable[[T], bool]) -> None:
        self._key = key
        self._keep = keep
        self._previous: set[Hashable] = set()
        self._followed: set[str] = set()
        self.cursor: str | None = None
        """The cursor to send with the next request (``None``: the first page)."""
        self.done = False
        """No page is left to ask for."""
        self.pages = 0

    def accept(self, page: Page) -> list[T]:
        """The new records of ``page``, in OKX's order; advances :attr:`cursor` or sets :attr:`done`."""
        self.pages += 1
        items: list[Any] = page.items
        seen: set[Hashable] = set()
        fresh: list[T] = []
        for item in items:
            key = self._key(item)
            if key in seen or key in self._previous:
                continue
            seen.add(key)
            if self._keep(item):
                fresh.append(item)
        self._previous = seen
        cursor = page.cursor
        if not items or not cursor or cursor in self._followed:
            self.done = True
        else:
            self._followed.add(cursor)
            self.cursor = cursor
        return fresh
