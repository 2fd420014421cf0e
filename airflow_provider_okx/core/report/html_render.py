"""``report.html``: the treasury report a finance reader opens, rendered from
``templates/report.html.j2``.

One self-contained page: inline ``<style>``, inline SVG charts, no JavaScript and nothing
fetched from anywhere. It is well-formed XML (every tag closed, every attribute quoted, all
text escaped), so it also parses as XHTML. Numbers are rounded for reading; each rounded
number carries its exact value in a ``title`` tooltip. Every table shows at most ``top_n``
rows and says how many more there are: the page stays readable at a million balances.

The template is autoescaped (Jinja2 escapes every value for HTML and XML alike); text that came
from the API also goes through the ``clean`` filter
(:func:`~airflow_provider_okx.core.text.clean_text`), which removes what XML forbids. The
display helpers of :mod:`~airflow_provider_okx.core.report.display` are its filters; the charts
are small functions of :mod:`~airflow_provider_okx.core.report.svg`.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from airflow_provider_okx.core.models import EXACT, exact_sum
from airflow_provider_okx.core.report import display as fmt
from airflow_provider_okx.core.report.amounts import amount
from airflow_provider_okx.core.report.svg import OTHER_COLOUR, PALETTE, Bar, Point, bar_chart, line_chart
from airflow_provider_okx.core.text import clean_text

TOP_N = 25
"""Rows per table (flagged wallets: up to four times as many, they all need a look)."""
CHART_BARS = 12


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("airflow_provider_okx.core.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        clean=clean_text,
        usd=fmt.usd,
        units=fmt.units,
        price=fmt.price,
        percent=fmt.percent,
        rate=fmt.rate,
        tone=fmt.tone,
        short_address=fmt.short_address,
        plural=fmt.plural,
        count=lambda n: f"{n:,}",
        entered_or_left=_entered_or_left,
    )
    return env


def _entered_or_left(parts: Mapping[str, str]) -> str:
    """The exact sum of an attribution's ``new`` and ``vanished`` parts (one column)."""
    return amount(EXACT.add(fmt.to_decimal(parts["new"]), fmt.to_decimal(parts.get("vanished"))))


def _allocation(summary: Mapping[str, Any]) -> tuple[Markup, Markup]:
    total = summary["total_usd"]
    chains = summary["by_chain"]
    shown = chains[: CHART_BARS - 1] if len(chains) > CHART_BARS else chains
    bars = [
        Bar(
            clean_text(entry["chain_name"]),
            fmt.to_decimal(entry["usd"]),
            f"{fmt.usd(entry['usd'])} ({fmt.percent(entry['usd'], total)})",
            clean_text(f"{entry['chain_name']} (chain {entry['chain_index']}): {entry['usd']} USD"),
            PALETTE[i % len(PALETTE)],
        )
        for i, entry in enumerate(shown)
    ]
    if len(chains) > CHART_BARS:
        rest = chains[CHART_BARS - 1 :]
        other = exact_sum(fmt.to_decimal(entry["usd"]) for entry in rest)
        bars.append(
            Bar(
                f"{len(rest)} other chains",
                other,
                f"{fmt.usd(other)} ({fmt.percent(other, total)})",
                f"{len(rest)} other chains: {amount(other)} USD",
                OTHER_COLOUR,
            )
        )
    tokens = [
        Bar(
            clean_text(f"{entry['symbol'] or '(no symbol)'} ({entry['chain_name']})"),
            fmt.to_decimal(entry["usd"]),
            f"{fmt.usd(entry['usd'])} ({fmt.percent(entry['usd'], total)})",
            clean_text(
                f"{entry['symbol']} on {entry['chain_name']} {entry['token_address'] or '(native)'}: "
                f"{entry['usd']} USD"
            ),
        )
        for entry in summary["by_token"][:CHART_BARS]
    ]
    return (
        bar_chart(bars, title="Allocation by chain (USD)"),
        bar_chart(tokens, title="Top tokens by USD value"),
    )


def _trend(summary: Mapping[str, Any]) -> Markup:
    points = [
        Point(
            clean_text(entry["date"]),
            fmt.to_decimal(entry["total_usd"]),
            clean_text(f"{entry['date']}: {fmt.usd(entry['total_usd'])} ({entry['total_usd']} USD)"),
        )
        for entry in summary.get("trend") or ()
    ]
    values = [point.value for point in points]
    return line_chart(
        points,
        title=f"Total value (USD) over the last {fmt.plural(len(points), 'report')}",
        low_label=fmt.usd(min(values)) if values else "",
        high_label=fmt.usd(max(values)) if values else "",
    )


def render_html(summary: Mapping[str, Any], *, top_n: int = TOP_N) -> str:
    """The report page for ``summary`` (from :func:`~airflow_provider_okx.core.report.build_summary`)."""
    chains_chart, tokens_chart = _allocation(summary)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            s=summary,
            top_n=top_n,
            chains_chart=chains_chart,
            tokens_chart=tokens_chart,
            trend_chart=_trend(summary),
        )
    )
