"""Benchmark harness for airflow-provider-okx: ``make bench`` (``python -m bench``).

One module per figure; each runs in a fresh interpreter of its own
(``python -m bench.<module> --json OUT``) so that imports, connections, event loops and memory
of one figure never colour another. :mod:`bench.__main__` runs them and prints one table:
figure, measured, goal, holds. The benchmark reports; it never fails a build on a miss.

Only loopback traffic: every simulator binds 127.0.0.1, every request loop is bounded in count
and in time.

The convention a figure follows (figures 1-6 do; a new figure copies one of them):

1. A module ``bench/fig<N>_<what>.py`` with ``TITLE`` (``"<N>. <what>"``) and
   ``measure(args: argparse.Namespace) -> FigureResult`` (:mod:`bench.common`), run by
   ``if __name__ == "__main__": figure_main(measure, __doc__ or TITLE)``. ``args`` carries
   ``--quick``, ``--profile`` and ``--smoke`` (and the figure's own options, if any).
2. It picks every count, duration and repeat with ``bench.common.size(args, full=..., quick=...,
   smoke=...)``. **Smoke** sizes are the smallest that still run every code path the figure
   measures (one round, a handful of rows/wallets/triggers, a second or two): the smoke run of
   every figure together takes seconds, and ``make test`` runs it (``make bench-smoke``,
   ``python -m bench --smoke``). It fails when a figure cannot run (exception, non-zero exit,
   a goal reported as not measured, ``holds=None``), never because a number moved: the goals
   are computed but not judged in smoke mode.
3. One line in ``_REGISTRY`` in :mod:`bench.__main__`: ``Figure(N, "fig<N>_<what>", TITLE,
   limit_s, smoke_limit_s)`` (the time limits after which a run, or a smoke run, is killed and
   reported as an ERROR row).
4. Only the public API and documented extension points of the provider (no private attribute,
   no monkey-patching of our classes' internals), and no fixed calendar date: dates are relative
   to the run (``datetime.date.today()``) or a frozen clock passed to the operator through a
   documented parameter, so a figure cannot age.
5. Goals go through ``result.goal(measured, goal, holds)``; anything else worth reading goes to
   ``result.detail(line)`` and never repeats a goal row (the table already shows it);
   ``result.data`` holds the raw numbers (``--compare`` reads only the table).
"""
