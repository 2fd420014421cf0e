"""Benchmark harness for airflow-provider-okx: ``make bench`` (``python -m bench``).

One module per figure of the performance issue; each runs in a fresh interpreter of its own
(``python -m bench.<module> --json OUT``) so that imports, connections, event loops and memory
of one figure never colour another. :mod:`bench.__main__` runs them and prints one table:
figure, measured, goal, holds. The benchmark reports; it never fails a build on a miss.

Only loopback traffic: every simulator binds 127.0.0.1, every request loop is bounded in count
and in time.
"""
