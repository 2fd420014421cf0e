"""Inline SVG charts: no JavaScript, no fonts or images to fetch, valid XML.

Geometry is computed in :data:`~airflow_provider_okx.core.report.display.RATIO` and written with
one decimal; nothing here touches the exact amounts it is given. Each chart is returned as
``markupsafe.Markup`` for the page's template: every text in it went through
:func:`~airflow_provider_okx.core.report.display.esc`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from markupsafe import Markup

from airflow_provider_okx.core.report.display import RATIO, ROUND, TENTH, esc

PALETTE = ("#2f6f9f", "#4f9d69", "#d08c2e", "#8a5ca8", "#c4514d", "#3d9ca8", "#8c7a5b", "#6b7f99")
OTHER_COLOUR = "#a7adb5"
LINE_COLOUR = PALETTE[0]

_ROW = 24
_BAR = 15
_TOP = 8
_CHAR = Decimal("6.9")
"""Average width of a character of the charts' 12.5 px sans-serif text, in px (for layout)."""
_LABEL_MIN, _LABEL_MAX = 80, 250


@dataclass(frozen=True)
class Bar:
    label: str
    value: Decimal
    """Bar length is proportional to this (negative values draw as zero)."""
    note: str
    """Text after the bar, e.g. ``$1,234.00 (12.3%)``."""
    tooltip: str
    colour: str = PALETTE[0]


@dataclass(frozen=True)
class Point:
    label: str
    """Shown under the axis at the first and last point, e.g. a date."""
    value: Decimal
    tooltip: str


def _num(value: Decimal | int) -> str:
    return format(Decimal(value).quantize(TENTH, context=ROUND), "f")


def _text_width(text: str) -> Decimal:
    return RATIO.multiply(Decimal(len(text)), _CHAR)


def _clip(text: str, width: Decimal) -> str:
    """``text``, cut with an ellipsis to fit ``width`` px (the whole text is in the tooltip)."""
    fits = int(RATIO.divide(width, _CHAR))
    return text if len(text) <= fits else text[: max(fits - 1, 1)] + "\u2026"


def bar_chart(bars: Sequence[Bar], *, title: str, width: int = 540) -> Markup:
    """A horizontal bar chart, one labelled bar per entry, longest bar = largest value.

    The label column is as wide as the longest label needs (up to 250 px, then labels are
    cut with an ellipsis and the tooltip has them whole); so is the column of notes after
    the bars (the chart grows wider than ``width`` rather than cut a note).
    """
    longest = max((_text_width(bar.label) for bar in bars), default=Decimal(0))
    label_width = int(min(max(longest + 16, Decimal(_LABEL_MIN)), Decimal(_LABEL_MAX)))
    note_width = int(max((_text_width(bar.note) for bar in bars), default=Decimal(0))) + 12
    area = max(width - label_width - note_width, 60)
    width = label_width + area + note_width
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
        label = _clip(bar.label, Decimal(label_width - 10))
        note_x = RATIO.add(length, Decimal(label_width + 6))
        parts.append(
            f"<g><title>{esc(bar.tooltip)}</title>"
            f'<text x="{label_width - 8}" y="{middle}" text-anchor="end">{esc(label)}</text>'
            f'<rect x="{label_width}" y="{y + (_ROW - _BAR) // 2}" width="{_num(length)}" height="{_BAR}" '
            f'rx="2" fill="{esc(bar.colour)}"/>'
            f'<text x="{_num(note_x)}" y="{middle}">{esc(bar.note)}</text>'
            "</g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(
    points: Sequence[Point],
    *,
    title: str,
    low_label: str,
    high_label: str,
    width: int = 720,
    height: int = 200,
) -> Markup:
    """A line through ``points`` (evenly spaced, in order) with a dot per point carrying its
    tooltip; the vertical axis runs from the lowest to the highest value, labelled with
    ``low_label`` and ``high_label``; the first and last point's labels sit under the axis.
    """
    left = int(max(_text_width(low_label), _text_width(high_label))) + 16
    right, top, bottom = 40, 12, 28
    plot_w, plot_h = Decimal(width - left - right), Decimal(height - top - bottom)
    parts = [
        f'<svg class="chart" role="img" aria-label="{esc(title)}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f"<title>{esc(title)}</title>",
    ]
    if not points:
        parts.append(f'<text x="0" y="{top + 16}" class="muted">Nothing to chart</text></svg>')
        return Markup("".join(parts))
    low = min(point.value for point in points)
    high = max(point.value for point in points)
    spread = RATIO.subtract(high, low)

    def x(i: int) -> Decimal:
        if len(points) == 1:
            return RATIO.add(Decimal(left), RATIO.divide(plot_w, 2))
        return RATIO.add(Decimal(left), RATIO.multiply(plot_w, RATIO.divide(Decimal(i), len(points) - 1)))

    def y(value: Decimal) -> Decimal:
        if spread == 0:
            return RATIO.add(Decimal(top), RATIO.divide(plot_h, 2))
        fall = RATIO.divide(RATIO.subtract(high, value), spread)
        return RATIO.add(Decimal(top), RATIO.multiply(plot_h, fall))

    base = top + int(plot_h)
    parts.append(
        f'<line class="axis" x1="{left}" y1="{top}" x2="{width - right}" y2="{top}"/>'
        f'<line class="axis" x1="{left}" y1="{base}" x2="{width - right}" y2="{base}"/>'
        f'<text x="{left - 8}" y="{top + 4}" text-anchor="end">{esc(high_label)}</text>'
    )
    if spread != 0:
        parts.append(f'<text x="{left - 8}" y="{base + 4}" text-anchor="end">{esc(low_label)}</text>')
    coords = [(x(i), y(point.value)) for i, point in enumerate(points)]
    if len(points) > 1:
        line = " ".join(f"{_num(px)},{_num(py)}" for px, py in coords)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{LINE_COLOUR}" stroke-width="2"/>')
    for point, (px, py) in zip(points, coords, strict=True):
        parts.append(
            f'<g><title>{esc(point.tooltip)}</title><circle cx="{_num(px)}" cy="{_num(py)}" r="3.5" '
            f'fill="{LINE_COLOUR}"/></g>'
        )
    first, last = points[0], points[-1]
    anchor = "start" if len(points) > 1 else "middle"
    parts.append(
        f'<text x="{_num(coords[0][0])}" y="{height - 8}" text-anchor="{anchor}">{esc(first.label)}</text>'
    )
    if len(points) > 1:
        parts.append(
            f'<text x="{_num(coords[-1][0])}" y="{height - 8}" text-anchor="end">{esc(last.label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
