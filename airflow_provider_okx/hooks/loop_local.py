"""State that belongs to one asyncio event loop and ends with it.

A triggerer runs every trigger in one loop; what they share (an HTTP client, requests in
flight, recent answers) must not outlive that loop: a hook reused by 40 ``asyncio.run`` calls
must not leave 40 clients behind. :class:`LoopLocal` keeps one value per running loop, weakly
keyed by the loop, and closes it when the loop shuts down.

How the end of a loop is noticed: the value's closer is an async generator started inside the
loop. ``asyncio.run`` (and ``asyncio.Runner``, pytest-asyncio, Airflow's triggerer) calls
``loop.shutdown_asyncgens()`` before closing the loop, which finalises every async generator
still suspended in it: the generator's ``finally`` closes the value. A loop closed without
that step is pruned the next time any loop creates a value.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Slot(Generic[T]):
    __slots__ = ("closer", "value")

    def __init__(self, value: T) -> None:
        self.value = value
        self.closer: AsyncGenerator[None, None] | None = None


class LoopLocal(Generic[T]):
    """One ``T`` per running event loop, built on first use, closed when the loop shuts down
    (or earlier, by :meth:`discard`).

    :param factory: builds the value (called inside the loop, synchronously).
    :param close: releases the value's resources (awaited inside the loop), or ``None``.
    """

    def __init__(self, factory: Callable[[], T], close: Callable[[T], Awaitable[None]] | None = None) -> None:
        self._factory = factory
        self._close = close
        self._slots: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Slot[T]] = (
            weakref.WeakKeyDictionary()
        )

    def peek(self) -> T | None:
        """The running loop's value, or ``None`` if it has none (never creates one)."""
        slot = self._slots.get(asyncio.get_running_loop())
        return None if slot is None else slot.value

    async def get(self) -> T:
        """The running loop's value, created (and its closer armed) on first use."""
        loop = asyncio.get_running_loop()
        slot = self._slots.get(loop)
        if slot is not None:
            return slot.value
        self._prune()
        slot = self._slots[loop] = _Slot(self._factory())
        closer = self._closer(weakref.ref(loop), slot)
        await closer.__anext__()  # first iteration: the loop now tracks it for shutdown
        if self._slots.get(loop) is slot:
            slot.closer = closer
        return slot.value

    async def discard(self) -> None:
        """Close and forget the running loop's value now (the next :meth:`get` builds anew)."""
        slot = self._slots.get(asyncio.get_running_loop())
        if slot is not None and slot.closer is not None:
            closer, slot.closer = slot.closer, None
            await closer.aclose()

    def __len__(self) -> int:
        """How many loops hold a value (closed loops not pruned yet included)."""
        return len(self._slots)

    async def _closer(
        self, loop_ref: weakref.ref[asyncio.AbstractEventLoop], slot: _Slot[T]
    ) -> AsyncGenerator[None, None]:
        try:
            yield
        finally:
            loop = loop_ref()
            if loop is not None and self._slots.get(loop) is slot:
                del self._slots[loop]
            del loop
            if self._close is not None:
                await self._close(slot.value)

    def _prune(self) -> None:
        """Forget the values of loops closed without shutting their async generators down."""
        for loop in [loop for loop in self._slots if loop.is_closed()]:
            self._slots.pop(loop, None)
