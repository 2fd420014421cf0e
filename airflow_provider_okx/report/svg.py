"""Inline SVG charts: no JavaScript, no fonts or images to fetch, valid XML.

Geometry is computed in :data:`~airflow_provider_okx.report.display.RATIO` and written with
one decimal; nothing here touches the exact amounts it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from airflow_provider_okx.report.display import RATIO, ROUND, TENTH, esc

PALETTE = ("#2f6f9f", "#4f9d69", "#d08c2e", "#8a5ca8", "#c4514d", "#3d9ca8", "#8c7a5b", "#6b7f99")
OTHER_COLOUR = "#a7adb5"

_ROW = 24
_BAR = 15
_LABEL_WIDTH = 190
_VALUE_WIDTH = 190
_TOP = 8
_NOTE_X = Decimal(_LABEL_WIDTH + 6)


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    """Bar length is proportional to this (negative values draw as zero)."""
    note: str
    """Text after the bar, e.g. ``$1,234.00 (12.3%)``."""
    tooltip: str
    colour: str = PALETTE[0]


def _num(value: Decimal | int) -> str:
    return format(Decimal(value).quantize(TENTH, context=ROUND), "f")


def _clip(text: str, size: int = 26) -> str:
    return text if len(text) <= size else text[: size - 1] + "\u2026"


def bar_chart(bars: Sequence[Bar], *, title: str, width: int = 760) -> str:
    """A horizontal bar chart, one labelled bar per entry, longest bar = largest value."""
    area = width - _LABEL_WIDTH - _VALUE_WIDTH
    height = _TOP * 2 + _ROW * max(len(bars), 1)
    largest = max((bar.value for bar in bars), default=Decimal(0))
    parts = [
        f'<svg class="chart" role="img" aria-label="{esc(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f"<title>{esc(title)}</title>",
    ]
    if not bars:
        parts.append(f'<text x="0" y="{_TOP + 16}" class="muted">Nothing to chart</text>')
    for i, bar in enumerate(bars):
        y = _TOP + i * _ROW
        length = Decimal(0)
        if largest > 0 and bar.value > 0:
            length = RATIO.multiply(RATIO.divide(bar.value, largest), Decimal(area))
        middle = y + _ROW // 2 + 4
        parts.append(
            f"<g><title>{esc(bar.tooltip)}</title>"
            f'<text x="{_LABEL_WIDTH - 8}" y="{middle}" text-anchor="end">{esc(_clip(bar.label))}</text>'
            f'<rect x="{_LABEL_WIDTH}" y="{y + (_ROW - _BAR) // 2}" width="{_num(length)}" height="{_BAR}" '
            f'rx="2" fill="{esc(bar.colour)}"/>'
            f'<text x="{_num(RATIO.add(length, _NOTE_X))}" y="{middle}">{esc(bar.note)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)
