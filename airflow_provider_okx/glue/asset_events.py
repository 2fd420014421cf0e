"""The treasury report's asset event carries which report it published.

A DAG scheduled on the report's asset (a Dataset on Airflow 2) reads the event's ``extra``
instead of guessing a path or a date:

- Airflow 3: ``context["triggering_asset_events"][asset][-1].extra``;
- Airflow 2.10/2.11: ``context["triggering_dataset_events"][dataset_uri][-1].extra``;
- in a run that no event triggered (a manual run), ``context["inlet_events"][asset][-1]`` (both
  versions, the task lists the asset in ``inlets``) is the latest report published.

Both versions attach an outlet event's extra through ``context["outlet_events"][asset].extra``,
set before the task ends; that is what :func:`announce_report` does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from airflow_provider_okx.glue.compat import AIRFLOW_V3, ReportAsset

REPORT_EVENT_KEYS = (
    "date",
    "report_dir",
    "files",
    "total_usd",
    "row_count",
    "flagged_wallets",
    "wallet_count",
    "chain_count",
    "token_count",
    "previous_date",
)
"""Keys of the report's XCom that its asset event carries (JSON values; amounts as strings)."""


def report_event_extra(result: Mapping[str, Any]) -> dict[str, Any]:
    """The asset event extra of a report's result (its ``return_value``)."""
    return {key: result[key] for key in REPORT_EVENT_KEYS if key in result}


def announce_report(operator: Any, context: Mapping[str, Any], result: Mapping[str, Any]) -> None:
    """Remember the published report on ``operator`` (``okx_report``, read by lineage and the
    report link) and put its summary in the extra of every asset event the task emits.

    Call once, at the end of ``execute``, after the report is published.
    """
    operator.okx_report = dict(result)
    events = context.get("outlet_events")
    if events is None:
        return
    extra = report_event_extra(result)
    for outlet in getattr(operator, "outlets", None) or ():
        if isinstance(outlet, ReportAsset):
            accessor = events[outlet]
            accessor.extra = {**accessor.extra, **extra}


def latest_report(events: Sequence[Any] | None) -> dict[str, Any] | None:
    """The extra of the most recent report event in ``events`` (``None`` if there is none).

    ``events`` is what Airflow gives for one asset: ``triggering_asset_events[asset]``,
    ``triggering_dataset_events[uri]`` or ``inlet_events[asset]``. Events that carry no report
    (e.g. one created by hand without extra) are skipped.
    """
    for event in reversed(list(events or ())):
        extra = getattr(event, "extra", None)
        if isinstance(extra, Mapping) and "report_dir" in extra and "files" in extra:
            return dict(extra)
    return None


def report_from_context(context: Mapping[str, Any], asset: Any) -> dict[str, Any] | None:
    """The report a consumer task should read, from its context.

    The report whose event triggered this run (``triggering_asset_events`` on Airflow 3,
    ``triggering_dataset_events`` on Airflow 2); in a run no event triggered (manual, backfill),
    the latest report event of ``asset`` when the task lists it in ``inlets``. ``None`` when no
    report was published yet.
    """
    if AIRFLOW_V3:
        triggering = context.get("triggering_asset_events") or {}
        # Matched by name and URI, not ``asset in triggering``: Airflow 3.1 cannot hash an Asset
        # ("unhashable type: 'dict'").
        events = next(
            (
                found_events
                for key, found_events in triggering.items()
                if getattr(key, "name", None) == asset.name and getattr(key, "uri", None) == asset.uri
            ),
            None,
        )
        found = latest_report(events)
    else:
        triggering = context.get("triggering_dataset_events") or {}
        found = latest_report(triggering.get(asset.uri))
    if found is not None:
        return found
    inlets = context.get("inlet_events")
    if inlets is None:
        return None
    try:
        latest = inlets[asset][-1]  # only the newest row is read
    except (KeyError, IndexError):
        return None
    return latest_report([latest])
