"""``OkxTreasuryReportOperator``: the daily treasury report, exact and idempotent."""

from __future__ import annotations

import json
import re
import uuid
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow_provider_okx import DEFAULT_CONN_ID
from airflow_provider_okx.api.errors import OkxInvalidInputError
from airflow_provider_okx.chains import normalize_chains, validate_address
from airflow_provider_okx.compat import BaseOperator, ReportAsset
from airflow_provider_okx.operators.balances import parse_addresses
from airflow_provider_okx.templating import literal, unresolved
from airflow_provider_okx.thresholds import parse_amount

if TYPE_CHECKING:
    from decimal import Decimal

    from airflow_provider_okx.hooks.okx import OkxHook
    from airflow_provider_okx.models import TokenBalance

REPORT_FILES = ("balances.csv", "summary.json", "report.html")
_DATE_DIR = re.compile(r"\d{4}-\d{2}-\d{2}\Z")


def parse_wallets(value: object) -> dict[str, str]:
    """``label -> address`` from a dict, a list of addresses (labelled by themselves), or
    their rendered string form."""
    if isinstance(value, str) and value.strip().startswith("{"):
        text = value.strip()
        try:
            value = literal(text)
        except ValueError:
            raise OkxInvalidInputError("wallets", text, "not a mapping of label to address") from None
    if isinstance(value, dict):
        if not value:
            raise OkxInvalidInputError("wallets", value, "at least one wallet is required")
        wallets = {str(label): validate_address(address, "wallets") for label, address in value.items()}
        if len({a.lower() for a in wallets.values()}) != len(wallets):
            raise OkxInvalidInputError("wallets", value, "an address is listed under two labels")
        return wallets
    return {address: address for address in parse_addresses(value, "wallets")}


class OkxTreasuryReportOperator(BaseOperator):
    """Snapshot every treasury wallet on every chain, value it exactly and publish a report.

    Writes ``balances.csv``, ``summary.json`` and ``report.html`` under
    ``<output_uri>/<logical date YYYY-MM-DD>/``. The fetch completes before anything is
    written, so a failed fetch leaves no files; the files appear together (staged, then moved
    into place) and a rerun of the same date replaces them.

    :param wallets: addresses, or ``{label: address}`` (templated).
    :param chains: chain indices or names (templated); each wallet is asked only for the
        chains of its family.
    :param output_uri: where reports live: any ``ObjectStoragePath`` URI (``file://``,
        ``s3://``...) (templated).
    :param exclude_risk_tokens: let OKX drop tokens it flags as risky.
    :param reconcile: compare each wallet's exact sum with OKX's own total-value (one more
        request per wallet and 50 chains); differences beyond tolerance are flagged and logged.
    :param tolerance_usd: absolute reconciliation tolerance in USD.
    :param tolerance_ratio: relative reconciliation tolerance (of OKX's total).
    :param max_workers: requests kept in flight (default: from the connection's rate limit).
    :param output_conn_id: connection for the object store (``None``: the store's default).
    :param report_asset: the Asset (Dataset on Airflow 2) this report updates; defaults to
        ``output_uri`` when it is not templated, else ``okx_treasury_report``.
    :param balances: optional: the results of mapped :class:`OkxTokenBalancesOperator` tasks
        (``.output`` of the mapped task). The report then aggregates those snapshots instead
        of fetching again; they must cover every wallet and the same chains, without dust
        filtering, or the task fails.
    """

    template_fields = ("wallets", "chains", "output_uri", "okx_conn_id", "balances")
    ui_color = "#fdf2e8"

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
        okx_conn_id: str = DEFAULT_CONN_ID,
        **kwargs: Any,
    ) -> None:
        if "outlets" not in kwargs:
            asset = report_asset or (output_uri if not unresolved(output_uri) else "okx_treasury_report")
            kwargs["outlets"] = [ReportAsset(asset)]
        super().__init__(**kwargs)
        self.wallets = wallets
        self.chains = chains
        self.output_uri = output_uri
        self.exclude_risk_tokens = exclude_risk_tokens
        self.reconcile = reconcile
        self.tolerance_usd = parse_amount(tolerance_usd, "tolerance_usd")
        self.tolerance_ratio = parse_amount(tolerance_ratio, "tolerance_ratio")
        self.max_workers = max_workers
        self.output_conn_id = output_conn_id
        self.okx_conn_id = okx_conn_id
        self.balances = balances
        if not unresolved(wallets):
            parse_wallets(wallets)
        if not unresolved(chains):
            normalize_chains(chains)
        if not unresolved(output_uri) and not str(output_uri).strip():
            raise OkxInvalidInputError("output_uri", output_uri, "where should the report be written?")

    @cached_property
    def hook(self) -> OkxHook:
        from airflow_provider_okx.hooks.okx import OkxHook

        return OkxHook(okx_conn_id=self.okx_conn_id)

    def execute(self, context: Any) -> dict[str, Any]:
        from airflow_provider_okx.report import (
            Snapshot,
            build_summary,
            render_csv,
            render_html,
            render_summary_json,
        )

        wallets = parse_wallets(self.wallets)
        chains = normalize_chains(self.chains)
        date, as_of = _report_date(context)
        addresses = list(wallets.values())

        # 1. Fetch everything first: a failure here leaves no files behind.
        if self.balances is None:
            fetched = self.hook.get_wallets_token_balances(
                addresses, chains, exclude_risk_tokens=self.exclude_risk_tokens, max_workers=self.max_workers
            )
            rows = [row for wallet_rows in fetched.values() for row in wallet_rows]
        else:
            rows = rows_from_snapshots(self.balances, addresses, chains, self.exclude_risk_tokens)
        okx_totals: dict[str, Decimal] | None = None
        if self.reconcile:
            okx_totals = self.hook.get_wallets_total_value(
                addresses,
                chains,
                asset_type="token",
                exclude_risk_tokens=self.exclude_risk_tokens,
                max_workers=self.max_workers,
            )

        # 2. Aggregate and render (pure).
        root = self._root()
        previous, history = _earlier_summaries(root, date, self.log)
        snapshot = Snapshot(
            date=date,
            generated_at=as_of,
            wallets=wallets,
            chains=chains,
            exclude_risk_tokens=self.exclude_risk_tokens,
            balances=rows,
        )
        summary = build_summary(
            snapshot,
            okx_totals=okx_totals,
            previous=previous,
            history=history,
            tolerance_usd=self.tolerance_usd,
            tolerance_ratio=self.tolerance_ratio,
        )
        for check in summary["reconciliation"]["flagged"]:
            self.log.warning("Reconciliation: %s", json.dumps(check, sort_keys=True))
        contents = {
            "balances.csv": render_csv(snapshot),
            "summary.json": render_summary_json(summary),
            "report.html": render_html(summary),
        }

        # 3. Publish atomically.
        target = _publish(root, date, contents)
        self.log.info(
            "Treasury report for %s: %s USD over %d wallets, %d chains, %d tokens -> %s",
            date,
            summary["total_usd"],
            summary["wallet_count"],
            summary["chain_count"],
            summary["token_count"],
            target,
        )
        return {
            "date": date,
            "total_usd": summary["total_usd"],
            "wallet_count": summary["wallet_count"],
            "chain_count": summary["chain_count"],
            "token_count": summary["token_count"],
            "row_count": summary["row_count"],
            "previous_date": summary["previous_date"],
            "flagged_wallets": [check.get("address") for check in summary["reconciliation"]["flagged"]],
            "report_dir": str(target),
            "files": {name: str(target / name) for name in REPORT_FILES},
        }

    def _root(self) -> Any:
        from airflow_provider_okx.compat import object_storage_path

        uri = str(self.output_uri).strip()
        if not uri:
            raise OkxInvalidInputError("output_uri", self.output_uri, "where should the report be written?")
        if "://" not in uri:
            uri = f"file://{uri}"
        return object_storage_path(uri, self.output_conn_id)


def rows_from_snapshots(
    snapshots: Any, addresses: list[str], chains: list[str], exclude_risk_tokens: bool
) -> list[TokenBalance]:
    """The rows of :class:`OkxTokenBalancesOperator` results, checked to be the whole picture."""
    from airflow_provider_okx.models import TokenBalance

    if isinstance(snapshots, dict):
        snapshots = [snapshots]
    rows: list[TokenBalance] = []
    covered: set[str] = set()
    for snap in snapshots:
        if not isinstance(snap, dict) or "balances" not in snap:
            raise OkxInvalidInputError(
                "balances", type(snap).__name__, "expected OkxTokenBalancesOperator results"
            )
        if snap.get("dropped_count"):
            raise OkxInvalidInputError(
                "balances", snap.get("addresses"), "dust was dropped (min_usd_value): totals would be short"
            )
        if list(snap.get("chains") or []) != chains:
            raise OkxInvalidInputError(
                "balances", snap.get("chains"), f"fetched for other chains than {chains}"
            )
        if bool(snap.get("exclude_risk_tokens")) != exclude_risk_tokens:
            raise OkxInvalidInputError("balances", snap.get("addresses"), "fetched with another risk filter")
        covered.update(address.lower() for address in snap.get("addresses") or ())
        rows.extend(TokenBalance.from_dict(item) for item in snap["balances"])
    wanted = {address.lower() for address in addresses}
    rows = [row for row in rows if row.address.lower() in wanted]
    missing = [address for address in addresses if address.lower() not in covered]
    if missing:
        raise OkxInvalidInputError(
            "balances", missing, "no snapshot for these wallets: the report would be partial"
        )
    return rows


def _report_date(context: Any) -> tuple[str, str]:
    """The logical date (``YYYY-MM-DD``) and the as-of instant the report is stamped with.

    The stamp comes from the run (not the wall clock) so that rerunning a date over the same
    data rewrites byte-identical files.
    """
    import pendulum

    moment = context.get("data_interval_end") or context.get("logical_date") or pendulum.now("UTC")
    moment = pendulum.instance(moment).in_timezone("UTC")
    logical = context.get("logical_date") or moment
    date = context.get("ds") or pendulum.instance(logical).in_timezone("UTC").to_date_string()
    return date, moment.format("YYYY-MM-DDTHH:mm:ss.SSS") + "Z"


OLD_SUMMARY_LIMIT = 20_000_000
"""Bytes of a schema 1 ``summary.json`` (every holding in it) that are still loaded to compare
with: about 100,000 balance rows. A larger one is skipped, with a log line."""


def _earlier_summaries(root: Any, date: str, log: Any) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """What the report needs from the reports before ``date`` under ``root``: the latest one's
    summary, read whole (for changes), and the date and total of up to ``TREND_REPORTS - 1``
    latest ones (for the trend), read from the first bytes of their summaries (a summary of
    schema 2 puts them first: :func:`~airflow_provider_okx.report.trend.summary_head`).
    """
    from airflow_provider_okx.report.trend import TREND_REPORTS, trend_point

    if not root.exists():
        return None, []
    dates = sorted(
        (p.name for p in root.iterdir() if _DATE_DIR.match(p.name) and p.name < date), reverse=True
    )
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
    from airflow_provider_okx.report.trend import HEAD_BYTES, summary_head

    with path.open("rb") as f:
        data = f.read(HEAD_BYTES)
    text = data.decode("utf-8", "replace")
    head = json.loads(text) if len(data) < HEAD_BYTES else summary_head(text)
    return head if isinstance(head, dict) else {}


def _load_previous(path: Any, log: Any) -> dict[str, Any] | None:
    """The previous report's summary, to compare with; ``None`` (logged) when it is one this
    version cannot compare with: a newer schema, or a schema 1 file larger than
    :data:`OLD_SUMMARY_LIMIT`."""
    from airflow_provider_okx.report.aggregate import SCHEMA_VERSION
    from airflow_provider_okx.report.trend import HEAD_BYTES, summary_head

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


def _publish(root: Any, date: str, contents: dict[str, str]) -> Any:
    """Write the files into a staging folder, then move them into ``<root>/<date>``.

    Readers never see a half-written file. On a local filesystem the staged folder is swapped
    in whole (readers see the previous complete report or the new one). Object stores have no
    folder renames: there each file is staged, then moved to its final key, where it appears
    whole (S3 and GCS publish an object atomically); the three files change one by one.
    """
    token = uuid.uuid4().hex[:12]
    staging = root / f".{date}.staging-{token}"
    target = root / date
    staging.mkdir(parents=True, exist_ok=True)
    retired = None
    try:
        for name, text in contents.items():
            with (staging / name).open("w", encoding="utf-8", newline="") as out:
                out.write(text)
        if _is_local(root):
            if target.exists():
                retired = root / f".{date}.retired-{token}"
                target.rename(retired)
            try:
                staging.rename(target)
            except BaseException:
                if retired is not None:  # put the previous complete report back
                    retired.rename(target)
                    retired = None
                raise
        else:
            target.mkdir(parents=True, exist_ok=True)
            for name in contents:
                staged, final = staging / name, target / name
                root.fs.mv(_fs_path(staged), _fs_path(final))
    finally:
        _remove_tree(staging)
        if retired is not None:
            _remove_tree(retired)
    return target


def _is_local(path: Any) -> bool:
    return str(getattr(path, "protocol", "file") or "file") in ("file", "local")


def _fs_path(path: Any) -> str:
    return path.path if hasattr(path, "path") else str(path)


def _remove_tree(path: Any) -> None:
    try:
        if path.exists():
            path.fs.rm(_fs_path(path), recursive=True)
    except OSError:
        pass
