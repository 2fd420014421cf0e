"""Starting the balance sensor in the triggerer (``start_from_trigger``): no worker slot to defer.

With ``OkxBalanceSensor(..., deferrable=True, start_from_trigger=True)`` the scheduler creates
the :class:`~airflow_provider_okx.triggers.balance.OkxBalanceTrigger` itself when the task is
scheduled; no worker runs ``execute`` (and its first check) just to defer. A worker runs only
``execute_complete`` once the trigger fired, to push the result to XCom.

Where it applies:

- Airflow 2.10/2.11 and 3.3+: the scheduler defers the task at scheduling time.
- Airflow 3.0-3.2: Airflow ignores the flag (the scheduler's branch was disabled while the Task
  SDK had no way to render templates there) and the task starts in a worker, defers from
  ``execute`` as usual: same result, one short worker slot.
- Only when every field the trigger needs is known at parse time: ``address``, ``chain``,
  ``threshold``, ``token_address`` and ``okx_conn_id`` are not templates or XComArgs. The
  trigger's kwargs are fixed when the DAG is parsed (Airflow 2 renders nothing; Airflow 3.3
  renders only trigger attributes named like the operator's template fields, and this trigger
  takes one validated ``condition``). A templated sensor falls back to the usual worker start,
  with a warning. Mapped sensors (``.expand()``) start in a worker too (Airflow's rule).
- The sensor's ``timeout`` becomes the trigger's timeout (an absolute deadline cannot be known
  at parse time): past it Airflow fails the task (``AirflowSensorTimeout``) without a last poll.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

from airflow_provider_okx.glue.templating import unresolved


def _seconds(value: Any) -> float:
    return float(value.total_seconds() if isinstance(value, timedelta) else value)


def start_trigger_args(sensor: Any) -> Any:
    """``StartTriggerArgs`` for an ``OkxBalanceSensor``, or ``None`` (with a warning saying
    why) when it has to start in a worker."""
    fields = ("address", "chain", "threshold", "token_address", "okx_conn_id")
    templated = [name for name in fields if unresolved(getattr(sensor, name))]
    reason = None
    if not sensor.deferrable:
        reason = "it only applies with deferrable=True"
    elif templated:
        reason = f"{', '.join(templated)} {'is' if len(templated) == 1 else 'are'} rendered at run time"
    if reason:
        warnings.warn(
            f"{sensor.task_id}: start_from_trigger ignored ({reason}); the task starts in a worker "
            "and defers from there.",
            UserWarning,
            stacklevel=3,
        )
        return None

    from airflow.triggers.base import StartTriggerArgs

    from airflow_provider_okx.triggers.balance import OkxBalanceTrigger

    wait = sensor._wait()  # the sensor's own validated condition
    classpath, kwargs = OkxBalanceTrigger(
        condition=wait.to_kwargs(),
        poke_interval=_seconds(sensor.poke_interval),
        end_at=None,
        okx_conn_id=sensor.okx_conn_id,
    ).serialize()
    return StartTriggerArgs(
        trigger_cls=classpath,
        trigger_kwargs=kwargs,
        next_method="execute_complete",
        next_kwargs=None,
        timeout=timedelta(seconds=_seconds(sensor.timeout)),
    )
