"""``summary.json``: the summary as JSON, indented by two spaces, ASCII only.

Keys keep the summary's own order (scalar fields first, so a trend reads only a file's head);
the same summary always gives the same bytes. The standard encoder is enough now that the
summary holds aggregates only: at 1,000,000 balance rows (10,000 wallets, an 11.5 MB summary
with changes) it took 0.25 s against 0.21 s for the line-per-record writer it replaced, and
pausing the garbage collector saved nothing measurable (see ``bench/fig5_report.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def render_summary_json(summary: Mapping[str, Any]) -> str:
    """``summary`` as JSON text with a trailing newline (amounts are already exact strings)."""
    return json.dumps(summary, indent=2, ensure_ascii=True, allow_nan=False) + "\n"
