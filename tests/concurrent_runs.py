"""Run one function in several threads at once and collect what they raised (the SQL loaders'
concurrency tests)."""

from __future__ import annotations

import threading
from collections.abc import Callable


def run_at_once(work: Callable[[], object], threads: int, *, together: bool = True) -> list[BaseException]:
    """``work`` in ``threads`` threads; with ``together``, all start past one barrier. Returns
    every exception raised (empty when all succeeded)."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            if together:
                barrier.wait(timeout=60)
            work()
        except BaseException as error:
            errors.append(error)

    started = [threading.Thread(target=run) for _ in range(threads)]
    for thread in started:
        thread.start()
    for thread in started:
        thread.join(timeout=120)
    return errors
