"""``report.html``: the treasury report a finance reader opens.

One self-contained page: inline ``<style>``, inline SVG charts, no JavaScript and nothing
fetched from anywhere. It is well-formed XML (every tag closed, every attribute quoted, all
text escaped), so it also parses as XHTML. Numbers are rounded for reading; each rounded
number carries its exact value in a ``title`` tooltip. Every table shows at most ``top_n``
rows and says how many more there are: the page stays readable at 100,000 balances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from airflow_provider_okx.models import exact_sum
from airflow_provider_okx.report import display as fmt
from airflow_provider_okx.report.display import esc
from airflow_provider_okx.report.svg import OTHER_COLOUR, PALETTE, Bar, bar_chart

TOP_N = 25
"""Rows per table (flagged wallets: up to four times as many, they all need a look)."""
CHART_BARS = 12

_STYLE = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
  color: #1f2933; background: #ffffff; margin: 0 auto; max-width: 1180px; padding: 24px 28px 48px;
  font-size: 14px; line-height: 1.45; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 2px solid #d9dee4; }
h3 { font-size: 15px; margin: 20px 0 6px; }
p { margin: 6px 0; }
.meta, .muted, .note { color: #5f6b7a; }
.note { font-size: 12.5px; }
.kpis { display: flex; flex-wrap: wrap; gap: 12px; margin: 18px 0 8px; }
.kpi { border: 1px solid #d9dee4; border-radius: 6px; padding: 10px 14px; min-width: 170px; }
.kpi .label { font-size: 12px; text-transform: uppercase; letter-spacing: 0.04em; color: #5f6b7a; }
.kpi .value { font-size: 22px; font-weight: 600; font-variant-numeric: tabular-nums; }
.kpi.total .value { font-size: 30px; }
.kpi .sub { font-size: 12.5px; color: #5f6b7a; }
.kpi .sub.pos { color: #2e7d4f; }
.kpi .sub.neg { color: #b3261e; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 4px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e6e9ed; text-align: left; vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: 0.03em; color: #5f6b7a;
  border-bottom: 2px solid #d9dee4; }
td.num, th.num { text-align: right; white-space: nowrap; }
td.addr { font-family: "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12.5px; }
tr.flag td { background: #fdecea; }
.ok { color: #2e7d4f; }
.warn { color: #b3261e; font-weight: 600; }
.pos { color: #2e7d4f; }
.neg { color: #b3261e; }
.badge { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px; background: #eef1f4; }
.badge.warn { background: #fdecea; }
.badge.ok { background: #e7f4ec; }
svg.chart { display: block; max-width: 100%; height: auto; font-size: 12.5px; fill: #1f2933; }
svg.chart .muted { fill: #5f6b7a; }
.charts { display: flex; flex-wrap: wrap; gap: 8px 32px; }
footer { margin-top: 36px; border-top: 1px solid #d9dee4; padding-top: 8px; }
@media print {
  body { padding: 0; max-width: none; font-size: 11px; }
  h2 { break-after: avoid; }
  table, svg.chart, .kpi { break-inside: avoid; }
  tr.flag td { background: none; font-weight: 600; }
}
"""


# --- cells and tables ------------------------------------------------------------------


def _attrs(cls: str | None, title: str | None) -> str:
    out = f' class="{esc(cls)}"' if cls else ""
    return out + (f' title="{esc(title)}"' if title is not None else "")


def td(text: str, *, cls: str | None = None, title: str | None = None) -> str:
    return f"<td{_attrs(cls, title)}>{esc(text)}</td>"


def td_usd(value: Any, *, sign: bool = False) -> str:
    if value is None:
        return td("-", cls="num muted")
    amount = fmt.to_decimal(value)
    tone = (" pos" if amount > 0 else " neg" if amount < 0 else "") if sign else ""
    return td(fmt.usd(amount, sign=sign), cls="num" + tone, title=f"{value} USD")


def td_units(value: Any, *, sign: bool = False) -> str:
    return td(fmt.units(value, sign=sign), cls="num", title=str(value))


def td_price(value: Any) -> str:
    return td(
        fmt.price(value), cls="num", title="prices differ between wallets" if value is None else str(value)
    )


def td_share(part: Any, whole: Any) -> str:
    return td(fmt.percent(part, whole), cls="num")


def td_address(address: str) -> str:
    return td(fmt.short_address(address), cls="addr", title=address)


def td_token(entry: Mapping[str, Any]) -> str:
    symbol = entry.get("symbol") or "(no symbol)"
    token = entry.get("token_address") or "native coin"
    return td(symbol, title=token)


def table(
    headers: Sequence[str],
    rows: Iterable[str],
    *,
    total: int,
    shown: int,
    noun: str,
    empty: str = "None.",
) -> str:
    """A table of pre-rendered ``<tr>`` rows; a header ending in ``#`` is a numeric column."""
    if total == 0:
        return f'<p class="muted">{esc(empty)}</p>'
    head = "".join(
        f'<th class="num">{esc(h[:-1])}</th>' if h.endswith("#") else f"<th>{esc(h)}</th>" for h in headers
    )
    out = f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    if total > shown:
        more = total - shown
        out += (
            f'<p class="note">Showing {shown:,} of {total:,} {noun}; and {more:,} more in summary.json.</p>'
        )
    return out


def tr(cells: Iterable[str], cls: str | None = None) -> str:
    return f"<tr{_attrs(cls, None)}>{''.join(cells)}</tr>"


def _top(
    headers: Sequence[str],
    entries: Sequence[Mapping[str, Any]],
    row: Callable[[Mapping[str, Any]], str],
    *,
    noun: str,
    limit: int,
    empty: str = "None.",
) -> str:
    shown = entries[:limit]
    return table(headers, map(row, shown), total=len(entries), shown=len(shown), noun=noun, empty=empty)


# --- sections --------------------------------------------------------------------------


def _kpi(
    label: str, value: str, sub: str = "", *, cls: str = "", title: str | None = None, sub_cls: str = ""
) -> str:
    sub_html = f'<div class="sub {esc(sub_cls)}">{esc(sub)}</div>' if sub else ""
    return (
        f'<div class="kpi {esc(cls)}"><div class="label">{esc(label)}</div>'
        f'<div class="value"{_attrs(None, title)}>{esc(value)}</div>{sub_html}</div>'
    )


def _reconciliation_status(summary: Mapping[str, Any]) -> tuple[str, str, str]:
    rec = summary.get("reconciliation") or {}
    if not rec.get("checked"):
        return "Not checked", "", "no OKX totals were compared"
    flagged = len(rec.get("flagged") or ())
    wallets = len(rec.get("wallets") or ())
    if flagged:
        return f"{flagged:,} flagged", "warn", f"of {fmt.plural(wallets, 'wallet')} differ from OKX's total"
    return "All match", "ok", f"{fmt.plural(wallets, 'wallet')} within tolerance of OKX's total"


def _stale_warning(summary: Mapping[str, Any]) -> str:
    """A warning when the balances were fetched far from the report's date (a backfill)."""
    timing = summary.get("snapshot_time") or {}
    if not timing.get("stale_snapshot"):
        return ""
    return (
        f'<p class="warn">Not a snapshot of {esc(summary["date"])}: these balances were fetched '
        f"{esc(timing['fetched_at'])}, {esc(timing['snapshot_lag'])} the period ended "
        f"({esc(timing['period_end'])}). OKX serves only current balances.</p>"
    )


def _header(summary: Mapping[str, Any]) -> str:
    total = summary["total_usd"]
    changes = summary.get("changes")
    delta = delta_tone = ""
    if changes:
        change = changes["total_usd_change"]
        delta_tone = "pos" if fmt.to_decimal(change) > 0 else "neg" if fmt.to_decimal(change) < 0 else ""
        delta = (
            f"{fmt.usd(change, sign=True)} ({fmt.percent(change, changes['previous_total_usd'], sign=True)})"
            f" since {changes.get('previous_date')}"
        )
    chains = ", ".join(entry["chain_name"] for entry in summary["by_chain"][:8])
    if len(summary["by_chain"]) > 8:
        chains += f" and {len(summary['by_chain']) - 8} more"
    status, tone, detail = _reconciliation_status(summary)
    risk = "excluded by OKX" if summary.get("exclude_risk_tokens") else "fetched, listed apart"
    return (
        f"<header><h1>Treasury report {esc(summary['date'])}</h1>"
        f'<p class="meta">Balances fetched {esc(summary["generated_at"])} from OKX Web3. '
        f"Risk tokens: {esc(risk)}.</p>"
        + _stale_warning(summary)
        + '<div class="kpis">'
        + _kpi(
            "Total value (USD)", fmt.usd(total), delta, cls="total", title=f"{total} USD", sub_cls=delta_tone
        )
        + _kpi(
            "Tokens",
            f"{summary['token_count']:,}",
            f"{summary['priced_token_count']:,} priced, {summary['unpriced_token_count']:,} unpriced, "
            f"{summary['risk_token_count']:,} risk",
        )
        + _kpi("Wallets", f"{summary['wallet_count']:,}", fmt.plural(summary["row_count"], "balance"))
        + _kpi("Chains", f"{summary['chain_count']:,}", chains)
        + _kpi("Reconciliation", status, detail, cls=tone)
        + "</div></header>"
    )


def _charts(summary: Mapping[str, Any]) -> str:
    total = summary["total_usd"]
    chains = summary["by_chain"]
    bars = []
    for i, entry in enumerate(chains[: CHART_BARS - 1] if len(chains) > CHART_BARS else chains):
        bars.append(
            Bar(
                f"{entry['chain_name']}",
                fmt.to_decimal(entry["usd"]),
                f"{fmt.usd(entry['usd'])} ({fmt.percent(entry['usd'], total)})",
                f"{entry['chain_name']} (chain {entry['chain_index']}): {entry['usd']} USD",
                PALETTE[i % len(PALETTE)],
            )
        )
    if len(chains) > CHART_BARS:
        rest = chains[CHART_BARS - 1 :]
        other = exact_sum(fmt.to_decimal(entry["usd"]) for entry in rest)
        bars.append(
            Bar(
                f"{len(rest)} other chains",
                other,
                f"{fmt.usd(other)} ({fmt.percent(other, total)})",
                f"{len(rest)} other chains: {other} USD",
                OTHER_COLOUR,
            )
        )
    tokens = [
        Bar(
            f"{entry['symbol'] or '(no symbol)'} ({entry['chain_name']})",
            fmt.to_decimal(entry["usd"]),
            f"{fmt.usd(entry['usd'])} ({fmt.percent(entry['usd'], total)})",
            f"{entry['symbol']} on {entry['chain_name']} {entry['token_address'] or '(native)'}: "
            f"{entry['usd']} USD",
        )
        for entry in summary["by_token"][:CHART_BARS]
    ]
    return (
        '<section><h2>Allocation</h2><div class="charts">'
        f"<div><h3>By chain</h3>{bar_chart(bars, title='Allocation by chain (USD)')}</div>"
        f"<div><h3>Top tokens</h3>{bar_chart(tokens, title='Top tokens by USD value')}</div>"
        "</div></section>"
    )


def _reconciliation(summary: Mapping[str, Any], limit: int) -> str:
    rec = summary.get("reconciliation") or {}
    if not rec.get("checked"):
        return ""
    flagged = rec.get("flagged") or []
    tolerance = (
        f"Tolerance: the larger of {fmt.usd(rec['tolerance_usd'])} and "
        f"{fmt.to_decimal(rec['tolerance_ratio']).scaleb(2, context=fmt.ROUND).normalize(fmt.ROUND):f}% "
        "of OKX's total."
    )

    def row(entry: Mapping[str, Any]) -> str:
        status = entry["status"]
        return tr(
            (
                td(entry["label"], title=entry["address"]),
                td_address(entry["address"]),
                td_usd(entry["our_usd"]),
                td_usd(entry["okx_total_usd"]),
                td_usd(entry["difference"], sign=True),
                td_usd(entry["allowed_difference"]),
                td(status, cls="warn" if entry["flagged"] else "ok"),
            ),
            "flag",
        )

    headers = ("Wallet", "Address", "Our sum#", "OKX total#", "Difference#", "Allowed#", "Status")
    body = _top(headers, flagged, row, noun="flagged wallets", limit=limit * 4)
    heading = "Reconciliation: wallets to look at" if flagged else "Reconciliation"
    lead = (
        "Our exact sum of each wallet's token values differs from OKX's own total by more than the "
        "tolerance for these wallets (difference: ours minus OKX's; missing: OKX gave no total)."
        if flagged
        else "Every wallet's exact sum matches OKX's own total within tolerance."
    )
    return (
        f"<section><h2>{esc(heading)}</h2><p>{esc(lead)} {esc(tolerance)}</p>"
        f"{body if flagged else ''}</section>"
    )


def _wallets(summary: Mapping[str, Any], limit: int) -> str:
    total = summary["total_usd"]

    def row(entry: Mapping[str, Any]) -> str:
        reconciled = entry.get("reconciled")
        status = (
            td("-", cls="muted")
            if reconciled is None
            else td("ok", cls="ok")
            if reconciled
            else td("flagged", cls="warn")
        )
        return tr(
            (
                td(entry["label"], title=entry["address"]),
                td_address(entry["address"]),
                td_usd(entry["usd"]),
                td_share(entry["usd"], total),
                td(f"{entry['token_count']:,}", cls="num"),
                td_usd(entry.get("okx_total_usd")),
                td_usd(entry.get("difference"), sign=True)
                if entry.get("difference") is not None
                else td_usd(None),
                status,
            ),
            "flag" if reconciled is False else None,
        )

    headers = ("Wallet", "Address", "USD#", "Share#", "Tokens#", "OKX total#", "Difference#", "Reconciled")
    note = ""
    if summary["risk_tokens"] and (summary.get("reconciliation") or {}).get("checked"):
        note = (
            '<p class="note">Difference: our sum of every fetched token, risk tokens included (OKX\'s '
            "total includes them), minus OKX's total. USD and share count priced, non-risk tokens only.</p>"
        )
    return (
        "<section><h2>Wallets</h2>"
        + _top(headers, summary["by_wallet"], row, noun="wallets", limit=limit)
        + note
        + "</section>"
    )


def _chains(summary: Mapping[str, Any], limit: int) -> str:
    total = summary["total_usd"]

    def row(entry: Mapping[str, Any]) -> str:
        return tr(
            (
                td(entry["chain_name"]),
                td(entry["chain_index"], cls="num"),
                td_usd(entry["usd"]),
                td_share(entry["usd"], total),
                td(f"{entry['token_count']:,}", cls="num"),
            )
        )

    headers = ("Chain", "Index#", "USD#", "Share#", "Tokens#")
    return (
        "<section><h2>Chains</h2>"
        + _top(headers, summary["by_chain"], row, noun="chains", limit=limit)
        + "</section>"
    )


def _tokens(summary: Mapping[str, Any], limit: int) -> str:
    total = summary["total_usd"]

    def row(entry: Mapping[str, Any]) -> str:
        return tr(
            (
                td_token(entry),
                td(entry["chain_name"], title=entry["chain_index"]),
                td_units(entry["balance"]),
                td_price(entry["price"]),
                td_usd(entry["usd"]),
                td_share(entry["usd"], total),
                td(f"{entry['wallet_count']:,}", cls="num"),
            )
        )

    headers = ("Token", "Chain", "Balance#", "Price#", "USD#", "Share#", "Wallets#")
    return (
        "<section><h2>Top tokens</h2>"
        + _top(headers, summary["by_token"], row, noun="priced tokens", limit=limit)
        + "</section>"
    )


def _symbols(summary: Mapping[str, Any], limit: int) -> str:
    total = summary["total_usd"]

    def row(entry: Mapping[str, Any]) -> str:
        return tr(
            (
                td(entry["symbol"] or "(no symbol)"),
                td_units(entry["balance"]),
                td_usd(entry["usd"]),
                td_share(entry["usd"], total),
                td(f"{len(entry['chains']):,}", cls="num", title=", ".join(entry["chains"])),
            )
        )

    headers = ("Symbol", "Balance#", "USD#", "Share#", "Chains#")
    return (
        "<section><h2>By symbol, across chains</h2>"
        '<p class="note">Tokens with the same symbol on different chains (or different contracts) '
        "added together; check the token table before treating them as one asset.</p>"
        + _top(headers, summary["by_symbol"], row, noun="symbols", limit=limit)
        + "</section>"
    )


def _token_change_row(entry: Mapping[str, Any]) -> str:
    return tr(
        (
            td_token(entry),
            td(entry["chain_name"], title=entry["chain_index"]),
            td_units(entry["previous_balance"]),
            td_units(entry["balance"]),
            td_units(entry["balance_change"], sign=True),
            td_usd(entry["previous_usd"]),
            td_usd(entry["usd"]),
            td_usd(entry["usd_change"], sign=True),
            td(entry["status"]),
        )
    )


def _listed_token_row(entry: Mapping[str, Any]) -> str:
    return tr(
        (
            td_token(entry),
            td(entry["chain_name"], title=entry["chain_index"]),
            td_units(entry["balance"]),
            td_usd(entry["usd"]),
        )
    )


def _changes(summary: Mapping[str, Any], limit: int) -> str:
    changes = summary.get("changes")
    if not changes:
        return '<section><h2>Changes</h2><p class="muted">No previous report to compare with.</p></section>'
    change = changes["total_usd_change"]
    lead = (
        f"Since {changes.get('previous_date')}: total {fmt.usd(changes['previous_total_usd'])} to "
        f"{fmt.usd(summary['total_usd'])}, {fmt.usd(change, sign=True)} "
        f"({fmt.percent(change, changes['previous_total_usd'], sign=True)}). "
        f"{changes['unchanged_token_count']:,} tokens unchanged."
    )
    movers = _top(
        ("Token", "Chain", "Was#", "Now#", "Change#", "Was USD#", "Now USD#", "USD change#", "Status"),
        changes["by_token"],
        _token_change_row,
        noun="changed tokens",
        limit=limit,
        empty="No token changed.",
    )

    def wallet_row(entry: Mapping[str, Any]) -> str:
        return tr(
            (
                td(entry["label"], title=entry["address"]),
                td_usd(entry["previous_usd"]),
                td_usd(entry["usd"]),
                td_usd(entry["usd_change"], sign=True),
                td(entry["status"]),
            )
        )

    def chain_row(entry: Mapping[str, Any]) -> str:
        return tr(
            (
                td(entry["chain_name"], title=entry["chain_index"]),
                td_usd(entry["previous_usd"]),
                td_usd(entry["usd"]),
                td_usd(entry["usd_change"], sign=True),
            )
        )

    listed = ("Token", "Chain", "Balance#", "USD#")
    return (
        f"<section><h2>Changes since {esc(changes.get('previous_date'))}</h2><p>{esc(lead)}</p>"
        f"<h3>Top movers</h3>{movers}"
        "<h3>New tokens</h3>"
        + _top(listed, changes["new_tokens"], _listed_token_row, noun="new tokens", limit=limit)
        + "<h3>Vanished tokens</h3>"
        + _top(listed, changes["vanished_tokens"], _listed_token_row, noun="vanished tokens", limit=limit)
        + "<h3>Wallets</h3>"
        + _top(
            ("Wallet", "Was USD#", "Now USD#", "Change#", "Status"),
            changes["by_wallet"],
            wallet_row,
            noun="wallets",
            limit=limit,
        )
        + "<h3>Chains</h3>"
        + _top(
            ("Chain", "Was USD#", "Now USD#", "Change#"),
            changes["by_chain"],
            chain_row,
            noun="chains",
            limit=limit,
        )
        + "</section>"
    )


def _unpriced(summary: Mapping[str, Any], limit: int) -> str:
    def row(entry: Mapping[str, Any]) -> str:
        return tr(
            (
                td_token(entry),
                td(entry["chain_name"], title=entry["chain_index"]),
                td_units(entry["balance"]),
                td(f"{entry['wallet_count']:,}", cls="num"),
            )
        )

    return (
        "<section><h2>Unpriced tokens</h2>"
        '<p class="note">OKX has no USD price for these tokens. They are held, but not counted in any '
        "total: their value is unknown, not zero.</p>"
        + _top(
            ("Token", "Chain", "Balance#", "Wallets#"),
            summary["unpriced"],
            row,
            noun="unpriced tokens",
            limit=limit,
        )
        + "</section>"
    )


def _risk(summary: Mapping[str, Any], limit: int) -> str:
    entries = summary["risk_tokens"]
    if not entries:
        return ""

    def row(entry: Mapping[str, Any]) -> str:
        return tr(
            (
                td_token(entry),
                td(entry["chain_name"], title=entry["chain_index"]),
                td_units(entry["balance"]),
                td_usd(entry["usd"]),
                td(f"{entry['wallet_count']:,}", cls="num"),
            )
        )

    return (
        "<section><h2>Risk tokens</h2>"
        f'<p class="note">OKX flags these as risk (honeypot or scam) tokens. Their quoted value, '
        f"{esc(fmt.usd(summary['risk_usd']))} in all, is not counted in any total. Do not interact "
        "with them.</p>"
        + _top(
            ("Token", "Chain", "Balance#", "Quoted USD#", "Wallets#"),
            entries,
            row,
            noun="risk tokens",
            limit=limit,
        )
        + "</section>"
    )


def render_html(summary: Mapping[str, Any], *, top_n: int = TOP_N) -> str:
    """The report page for ``summary`` (from :func:`~airflow_provider_okx.report.build_summary`)."""
    title = f"Treasury report {summary['date']}"
    body = "".join(
        (
            _header(summary),
            _charts(summary),
            _reconciliation(summary, top_n),
            _wallets(summary, top_n),
            _chains(summary, top_n),
            _tokens(summary, top_n),
            _symbols(summary, top_n),
            _changes(summary, top_n),
            _unpriced(summary, top_n),
            _risk(summary, top_n),
        )
    )
    footer = (
        '<footer class="note"><p>USD amounts are rounded to the cent and token amounts to a few '
        "significant digits for reading; hover over a number for its exact value. summary.json and "
        "balances.csv hold every amount exactly. Totals count priced tokens only and exclude risk "
        f"tokens. Generated {esc(summary['generated_at'])}.</p></footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
        '<meta name="viewport" content="width=device-width, initial-scale=1"/>'
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head>"
        f"<body>{body}{footer}</body></html>\n"
    )
