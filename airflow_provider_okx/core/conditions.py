"""The names a balance wait is written with: its comparisons and the metrics it watches.

The lowest piece of the threshold rules: :mod:`~airflow_provider_okx.core.inputs` checks a
user's ``condition``/``metric`` against these names, and
:mod:`~airflow_provider_okx.core.thresholds` applies them.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from decimal import Decimal

CONDITIONS: dict[str, Callable[[Decimal, Decimal], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
METRICS = ("balance", "usd_value", "total_usd")
