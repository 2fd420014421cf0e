"""``OkxTreasuryReportOperator``: the daily treasury report, exact and idempotent."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import gc
import json
import re
import time
from collections.abc import Iterator
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_okx import DEFAULT_CONN_ID
from airflow_provider_okx.core.api.errors import OkxInvalidInputError
from airflow_provider_okx.core.inputs import (
    DEFAULT_MAX_SNAPSHOT_LAG,
    MAX_WORKERS,
    check_conn_id,
    check_output_uri,
    parse_amount,
    parse_chains,
    parse_flag,
    parse_lag,
    parse_moment,
    parse_optional_count,
    parse_wallets,
)
from airflow_provider_okx.glue.asset_events import announce_report
from airflow_provider_okx.glue.compat import AirflowFailException, BaseOperator, Context, ReportAsset
from airflow_provider_okx.glue.links import OkxReportLink
from airflow_provider_okx.glue.task_failures import failing_fast_on_permanent_errors
from airflow_provider_okx.glue.templating import TextTemplateFields, unresolved

if TYPE_CHECKING:
    from decimal import Decimal
    from typing import IO

    from airflow_provider_okx.core.models import TokenBalance
    from airflow_provider_okx.core.report import Snapshot
    from airflow_provider_okx.core.report_time import RunPeriod, SnapshotTime
    from airflow_provider_okx.hooks.okx import OkxHook
    from airflow_provider_okx.operators.report_publish import Published, Writer

REPORT_FILES = ("balances.csv", "summary.json", "report.html")
"""The files of every report; ``roll_forward.csv`` is added when ``roll_forward`` is on."""
_DATE_DIR = r"\d{4}-\d{2}-\d{2}\Z"
"""A dated report folder's name (compiled when the task reads earlier reports, not at parse)."""


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """The cyclic garbage collector paused for the block, then restored as it was.

    A report allocates millions of small objects that form no reference cycles (a million
    balance rows, their texts and decimals, a roll-forward's sums); each burst makes CPython's
    collector scan every object still alive, the rows included. Measured through HTTP at a
    million rows, that was 4.8 s of a 37 s report (`bench/fig5_report.py`) with the same peak
    memory. Reference counting still frees everything as usual; only the search for cycles
    waits until the report is done.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def utc_now() -> datetime.datetime:
    """The clock the report reads its fetch times from (tests freeze it here)."""
    return datetime.datetime.now(datetime.timezone.utc)


class OkxTreasuryReportOperator(TextTemplateFields, BaseOperator):
    """Snapshot every treasury wallet on every chain, value it exactly and publish a report.

    Writes ``balances.csv``, ``summary.json`` and ``report.html`` under
    ``<output_uri>/<logical date YYYY-MM-DD>/``. The fetch completes before anything is
    written, so a failed fetch leaves no files. On a local filesystem the three files appear
    together: ``<date>`` is a symbolic link swapped atomically to a complete new version, and
    two runs of one date queue on a lock; a process killed at any instant leaves the previous
    or the new report, complete. On object stores each file appears whole (see
    :mod:`~airflow_provider_okx.operators.report_publish`). A rerun of a date replaces its
    report; over the same data ``balances.csv`` is byte-identical.

    The report states when the balances were really fetched (``generated_at`` and
    ``snapshot_time`` in ``summary.json``, and in the page's header): OKX serves only current
    balances. A run whose logical date is far behind now (a backfill, a catch-up run) would
    stamp today's balances with a past date, so it fails (without retries) when the fetch is
    more than ``max_snapshot_lag`` away from the end of the run's period
    (``data_interval_end``, or the logical date when later), unless ``allow_stale_snapshot``:
    then the report is published with ``snapshot_time.stale = true`` and a warning at the top
    of the page.

    Permanent OKX errors (authentication, permission, invalid parameters) fail the task at once
    (``AirflowFailException``); transient ones (rate limits, OKX unavailable, timeouts) are left
    to the task's retries.

    :param wallets: addresses, or ``{label: address}`` (templated).
    :param chains: chain indices or names (templated); each wallet is asked only for the
        chains of its family.
    :param output_uri: where reports live: any ``ObjectStoragePath`` URI (``file://``,
        ``s3://``...) (templated).
    :param exclude_risk_tokens: let OKX drop tokens it flags as risky.
    :param reconcile: compare each wallet's exact sum with OKX's own total-value (one more
        request per wallet and 50 chains); differences beyond tolerance are flagged and logged.
    :param tolerance_usd: absolute reconciliation tolerance in USD.
    :param tolerance_ratio: relative reconciliation tolerance (of OKX's total), from 0 to 1.
    :param max_workers: requests kept in flight, 1 to 64 (default: from the connection's rate
        limit).
    :param output_conn_id: connection for the object store (``None``: the store's default).
    :param report_asset: the Asset (Dataset on Airflow 2) this report updates; defaults to
        ``output_uri`` when it is not templated, else ``okx_treasury_report``.
    :param balances: optional: the results of mapped :class:`OkxTokenBalancesOperator` tasks
        (``.output`` of the mapped task). The report then aggregates those snapshots instead
        of fetching again; they must cover every wallet and the same chains, without dust
        filtering, or the task fails. Overlapping batches are fine when they agree.
    :param max_snapshot_lag: how far (a ``timedelta``, or seconds) the fetch may be from the
        end of the run's period before the report counts as stale (default one day; from 1
        second to ten years).
    :param allow_stale_snapshot: publish a stale report (labelled as such) instead of failing.
    :param roll_forward: explain each quantity's change since the previous report: per wallet,
        chain and token, ``opening + inflow - outflow - fees = expected_closing`` against the
        ``closing`` balance, from the wallets' transactions between the two reports' fetch times
        (``summary.json`` ``roll_forward``, ``roll_forward.csv``, and first on the page when any
        difference is unexplained). See :mod:`airflow_provider_okx.core.report.roll_forward`.
    :param valuation_time: value the holdings at OKX's historical index price as of this time
        (an aware datetime or ISO 8601 text; templated, e.g. ``"{{ data_interval_end }}"``).
        Default: OKX's live price with the balances, as the page says. Each row discloses its
        ``price_time`` and ``price_source``; a token without a price then is unpriced.
    :param valuation_period: the price series asked for a cut-off (``1m``, ``5m``, ``30m``, ``1h``,
        ``1d``).
    :param valuation_max_age: the oldest price point accepted before the cut-off (a
        ``timedelta`` or seconds; default one hour).
    :param history_limit: how far back OKX's transaction history goes (default 180 days): a
        roll-forward window starting earlier is reported as not reconcilable.
    """

    template_fields = ("wallets", "chains", "output_uri", "okx_conn_id", "balances", "valuation_time")
    ui_color = "#fdf2e8"
    operator_extra_links = (OkxReportLink(),)

    def __init__(
        self,
        *,
        wallets: Any,
        chains: Any,
        output_uri: str,
        exclude_risk_tokens: bool = True,
        reconcile: bool = True,
        tolerance_usd: Any = "0.01",
        tolerance_ratio: Any = "0.001",
        max_workers: int | None = None,
        output_conn_id: str | None = None,
        report_asset: str | None = None,
        balances: Any = None,
        max_snapshot_lag: datetime.timedelta | float = DEFAULT_MAX_SNAPSHOT_LAG,
        allow_stale_snapshot: bool = False,
        roll_forward: bool = False,
        valuation_time: Any = None,
        valuation_period: str = "1m",
        valuation_max_age: datetime.timedelta | float = datetime.timedelta(hours=1),
        history_limit: datetime.timedelta | float = datetime.timedelta(days=180),
        okx_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        if not unresolved(output_uri):  # before the Asset, which would fail on a blank URI
            output_uri = check_output_uri(output_uri)
        if "outlets" not in kwargs:
            asset = report_asset or (output_uri if not unresolved(output_uri) else "okx_treasury_report")
            kwargs["outlets"] = [ReportAsset(asset)]
        super().__init__(**kwargs)
        self.wallets = wallets
        self.chains = chains
        self.output_uri = output_uri
        self.exclude_risk_tokens = parse_flag(exclude_risk_tokens, "exclude_risk_tokens")
        self.reconcile = parse_flag(reconcile, "reconcile")
        self.tolerance_usd = parse_amount(tolerance_usd, "tolerance_usd")
        self.tolerance_ratio = parse_amount(tolerance_ratio, "tolerance_ratio")
        if self.tolerance_ratio > 1:
            raise OkxInvalidInputError(
                "tolerance_ratio", tolerance_ratio, "a ratio of OKX's total, from 0 to 1 (0.001 is 0.1%)"
            )
        self.max_workers = parse_optional_count(max_workers, "max_workers", 1, MAX_WORKERS)
        self.output_conn_id = (
            None if output_conn_id is None else check_conn_id(output_conn_id, "output_conn_id")
        )
        self.okx_conn_id = (
            okx_conn_id if unresolved(okx_conn_id) else check_conn_id(okx_conn_id, "okx_conn_id")
        )
        self.balances = balances
        self.max_snapshot_lag = parse_lag(max_snapshot_lag)
        self.allow_stale_snapshot = parse_flag(allow_stale_snapshot, "allow_stale_snapshot")
        self.roll_forward = parse_flag(roll_forward, "roll_forward")
        self.valuation_time = valuation_time
        if valuation_period not in ("1m", "5m", "30m", "1h", "1d"):
            raise OkxInvalidInputError("valuation_period", valuation_period, "expected 1m, 5m, 30m, 1h or 1d")
        self.valuation_period = valuation_period
        self.valuation_max_age = parse_lag(valuation_max_age)
        self.history_limit = parse_lag(history_limit)
        if not unresolved(valuation_time):
            parse_moment(valuation_time, "valuation_time")
        if not unresolved(wallets):
            parse_wallets(wallets)
        if not unresolved(chains):
            parse_chains(chains)

    @cached_property
    def hook(self) -> OkxHook:
        """The hook the report fetches with: an ``OkxHook`` on ``okx_conn_id``, built on first
        use. An object with the same ``get_wallets_token_balances`` and
        ``get_wallets_total_value`` may be assigned instead (``task.hook = ...``), e.g. to
        report on balances read elsewhere (``bench/fig5_report.py`` does)."""
        from airflow_provider_okx.hooks.okx import OkxHook

        return OkxHook(okx_conn_id=self.okx_conn_id)

    def execute(self, context: Context) -> dict[str, Any]:
        with paused_gc():
            return self._report(context)

    def _report(self, context: Context) -> dict[str, Any]:
        from airflow_provider_okx.core.progress import format_duration
        from airflow_provider_okx.core.report import Snapshot, build_summary
        from airflow_provider_okx.core.report.valuation import disclose
        from airflow_provider_okx.core.report_time import RunPeriod, format_instant
        from airflow_provider_okx.core.snapshots import fetch_window, rows_from_snapshots

        started_at = time.monotonic()  # the fetches log their own progress (the hook)
        # 1. Fetch everything first: a failure here leaves no files behind.
        with failing_fast_on_permanent_errors():
            check_output_uri(self.output_uri)  # rendered: checked before a single request
            wallets = parse_wallets(self.wallets)
            chains = parse_chains(self.chains)
            addresses = list(wallets.values())
            period = RunPeriod.of(context)
            if self.balances is None:
                self._check_lag(period, utc_now())  # before a single request
                started = utc_now()
                rows = self._fetch(addresses, chains)
                finished = utc_now()
            else:
                rows = rows_from_snapshots(self.balances, addresses, chains, self.exclude_risk_tokens)
                started, finished = fetch_window(self.balances)
            timing = self._check_lag(period, finished, started)
            okx_totals: dict[str, Decimal] | None = None
            if self.reconcile:
                okx_totals = self.hook.get_wallets_total_value(
                    addresses,
                    chains,
                    asset_type="token",
                    exclude_risk_tokens=self.exclude_risk_tokens,
                    max_workers=self.max_workers,
                )
            valuation = None
            cutoff = parse_moment(self.valuation_time, "valuation_time")
            if cutoff is not None:
                from airflow_provider_okx.operators.report_ledger import cutoff_valuation

                rows, valuation = cutoff_valuation(
                    self.hook, rows, cutoff, self.valuation_period, self.valuation_max_age, self.log
                )
            root = self._root()
            date = timing.date
            previous, history = _earlier_summaries(root, date, self.log)
            ledger = None
            if self.roll_forward:
                from airflow_provider_okx.operators.report_ledger import gather_roll_forward

                ledger = gather_roll_forward(
                    self.hook,
                    root,
                    previous,
                    wallets,
                    chains,
                    rows,
                    timing.fetched_at,
                    self.history_limit,
                    utc_now(),
                    self.log,
                )

        # 2. Aggregate (pure).
        self.log.info(
            "Treasury report for %s: %d rows of %d wallets read in %s; building the report",
            timing.date,
            len(rows),
            len(addresses),
            format_duration(time.monotonic() - started_at),
        )
        snapshot = Snapshot(
            date=date,
            generated_at=format_instant(timing.fetched_at),
            wallets=wallets,
            chains=chains,
            exclude_risk_tokens=self.exclude_risk_tokens,
            balances=rows,
            valuation=valuation,
        )
        summary = build_summary(
            snapshot,
            okx_totals=okx_totals,
            previous=previous,
            history=history,
            tolerance_usd=self.tolerance_usd,
            tolerance_ratio=self.tolerance_ratio,
        )
        summary["snapshot_time"] = timing.to_dict()
        disclose(summary, snapshot.prices)
        if self.roll_forward:
            summary["roll_forward"] = ledger
        for check in summary["reconciliation"]["flagged"]:
            self.log.warning("Reconciliation: %s", json.dumps(check, sort_keys=True))

        # 3. Render straight into storage, all files together (see report_publish).
        from airflow_provider_okx.operators.report_publish import publish  # not at DAG parse time

        published = publish(root, date, report_writers(snapshot, summary))
        result = report_result(summary, timing, published)
        self.log.info(
            "Treasury report for %s (balances fetched %s%s): %s USD over %d wallets, %d chains, "
            "%d tokens -> %s, in %s",
            date,
            result["fetched_at"],
            ", STALE" if timing.stale else "",
            result["total_usd"],
            result["wallet_count"],
            result["chain_count"],
            result["token_count"],
            result["report_dir"],
            format_duration(time.monotonic() - started_at),
        )
        announce_report(self, context, result)  # asset event extra, lineage outputs, report link
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """OpenLineage: every wallet as an input, the published files as outputs."""
        from airflow_provider_okx.glue.lineage import report_lineage

        return report_lineage(self)

    def _fetch(self, addresses: list[str], chains: list[str]) -> list[TokenBalance]:
        """Every wallet's rows, each attributed to the address as the user wrote it."""
        fetched = self.hook.get_wallets_token_balances(
            addresses, chains, exclude_risk_tokens=self.exclude_risk_tokens, max_workers=self.max_workers
        )
        rows: list[TokenBalance] = []
        while fetched:  # one list of rows: each wallet's own list goes as it is taken over
            address, wallet_rows = next(iter(fetched.items()))
            del fetched[address]
            rows.extend(
                row if row.address == address else dataclasses.replace(row, address=address)
                for row in wallet_rows
            )
            del wallet_rows
        return rows

    def _check_lag(
        self, period: RunPeriod, fetched: datetime.datetime, started: datetime.datetime | None = None
    ) -> SnapshotTime:
        from airflow_provider_okx.core.report_time import SnapshotTime

        timing = SnapshotTime.of(period, started or fetched, fetched, self.max_snapshot_lag)
        if timing.stale and not self.allow_stale_snapshot:
            raise AirflowFailException(timing.refusal())
        return timing

    def _root(self) -> Any:
        from airflow_provider_okx.glue.compat import object_storage_path

        uri = check_output_uri(self.output_uri)
        if "://" not in uri:
            uri = f"file://{uri}"
        return object_storage_path(uri, self.output_conn_id)


def report_writers(snapshot: Snapshot, summary: dict[str, Any]) -> dict[str, Writer]:
    """One streaming writer per report file, in the order they are published."""
    from airflow_provider_okx.core.report import render_html
    from airflow_provider_okx.core.report.csv_render import write_csv
    from airflow_provider_okx.core.report.json_render import write_summary_json

    def balances_csv(out: IO[str]) -> None:
        write_csv(snapshot, out)

    def summary_json(out: IO[str]) -> None:
        write_summary_json(summary, out)

    def report_html(out: IO[str]) -> None:
        out.write(render_html(summary))

    writers: dict[str, Writer] = {
        "balances.csv": balances_csv,
        "summary.json": summary_json,
        "report.html": report_html,
    }
    if "roll_forward" in summary:
        from airflow_provider_okx.core.report.roll_forward import write_csv as write_roll_forward

        section = summary["roll_forward"] or {}
        writers["roll_forward.csv"] = lambda out: write_roll_forward(section, out)
    return writers


def report_result(summary: dict[str, Any], timing: SnapshotTime, published: Published) -> dict[str, Any]:
    """The XCom: the report's date and times, its headline figures and the files this run
    published (with the SHA-256 of the bytes it wrote)."""
    return {
        "date": timing.date,
        **timing.to_dict(),
        "total_usd": summary["total_usd"],
        "wallet_count": summary["wallet_count"],
        "chain_count": summary["chain_count"],
        "token_count": summary["token_count"],
        "row_count": summary["row_count"],
        "previous_date": summary["previous_date"],
        "flagged_wallets": [check.get("address") for check in summary["reconciliation"]["flagged"]],
        "valuation_time": summary["valuation"]["valuation_time"] if "valuation" in summary else None,
        "roll_forward": _roll_forward_counts(summary.get("roll_forward"))
        if "roll_forward" in summary
        else None,
        **published.to_xcom(),
    }


XCOM_DIFFERENCES = 100
"""Rows not reconciled that the XCom carries (the largest first); summary.json has them all."""


def _roll_forward_counts(section: dict[str, Any] | None) -> dict[str, Any]:
    """The roll-forward's headline for XCom: counts, and every row that is not reconciled
    (what an alert task reads)."""
    if section is None:
        return {"available": False}
    differences = section["unexplained_count"] + section["not_reconcilable_count"]
    return {
        "available": True,
        "opening_time": section["opening_time"],
        "closing_time": section["closing_time"],
        "row_count": section["row_count"],
        "unexplained_count": section["unexplained_count"],
        "not_reconcilable_count": section["not_reconcilable_count"],
        # The rows that are not reconciled come first (largest first): the head of the rows.
        "differences": list(section["rows"][: min(differences, XCOM_DIFFERENCES)]),
    }


OLD_SUMMARY_LIMIT = 20_000_000
"""Bytes of a schema 1 ``summary.json`` (every holding in it) that are still loaded to compare
with: about 100,000 balance rows. A larger one is skipped, with a log line."""


def _earlier_summaries(root: Any, date: str, log: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """What the report needs from the reports before ``date`` under ``root``: the latest one's
    summary, read whole (for changes), and the date and total of up to ``TREND_REPORTS - 1``
    latest ones (for the trend), read from the first bytes of their summaries (a summary of
    schema 2 puts them first: :func:`~airflow_provider_okx.core.report.trend.summary_head`).
    """
    from airflow_provider_okx.core.report.trend import TREND_REPORTS, trend_point

    if not root.exists():
        return None, []
    dated = re.compile(_DATE_DIR)
    dates = sorted((p.name for p in root.iterdir() if dated.match(p.name) and p.name < date), reverse=True)
    previous: dict[str, Any] | None = None
    heads: list[dict[str, Any]] = []
    found = 0
    for name in dates:
        if found == TREND_REPORTS - 1:
            break
        path = root / name / "summary.json"
        if not path.exists():
            continue
        found += 1
        if found == 1:
            previous = _load_previous(path, log)
        head = previous if found == 1 and previous is not None else _read_head(path)
        if trend_point(head) is None:
            log.info(
                "Trend: %s has no date and total at its start (written before schema 2, which "
                "puts them first): left out of the trend",
                path,
            )
        else:
            heads.append(head)
    return previous, heads


def _read_head(path: Any) -> dict[str, Any]:
    """The top-level fields at the start of a ``summary.json`` (the whole file if it is small)."""
    from airflow_provider_okx.core.report.trend import HEAD_BYTES, summary_head

    with path.open("rb") as f:
        data = f.read(HEAD_BYTES)
    text = data.decode("utf-8", "replace")
    head = json.loads(text) if len(data) < HEAD_BYTES else summary_head(text)
    return head if isinstance(head, dict) else {}


def _load_previous(path: Any, log: Any) -> dict[str, Any] | None:
    """The previous report's summary, to compare with; ``None`` (logged) when it is one this
    version cannot compare with: a newer schema, or a schema 1 file larger than
    :data:`OLD_SUMMARY_LIMIT`."""
    from airflow_provider_okx.core.report.aggregate import SCHEMA_VERSION
    from airflow_provider_okx.core.report.trend import HEAD_BYTES, summary_head

    with path.open("rb") as f:
        data = f.read(HEAD_BYTES)
        version = summary_head(data.decode("utf-8", "replace")).get("schema_version")
        if isinstance(version, int) and version > SCHEMA_VERSION:
            log.warning(
                "Previous report %s has summary schema %d, newer than this provider's (%d): "
                "not compared; this report has no changes section",
                path,
                version,
                SCHEMA_VERSION,
            )
            return None
        if version is None or version < 2:  # schema 1: sorted keys, every holding inside
            data += f.read(OLD_SUMMARY_LIMIT + 1 - len(data))
            if len(data) > OLD_SUMMARY_LIMIT:
                log.warning(
                    "Previous report %s has a summary of schema 1 (with every holding) larger than "
                    "%d MB: not loaded, so this report has no changes section; the next report "
                    "compares with this one",
                    path,
                    OLD_SUMMARY_LIMIT // 1_000_000,
                )
                return None
        else:
            data += f.read()
    summary = json.loads(data)
    return summary if isinstance(summary, dict) else None
