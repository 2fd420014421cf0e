"""The Airflow names we use, each imported from where it lives in the running Airflow.

Airflow moved its public names to the task SDK (``airflow.sdk``) over several minors: operators
and assets in 3.0, ``BaseHook`` in 3.1, exceptions and ``conf`` in 3.2, ``amask_secret`` in 3.3.
So each name is chosen by the running version (``airflow.__version__``, the way Airflow's own
providers do it in their ``version_compat.py``), never by whether some other name imports: an
Airflow that has moved some names but not others gets every name from its right place.

Only what DAG parsing already imports is imported here; object storage is imported on use.
"""

from __future__ import annotations

from typing import Any

from airflow import __version__ as AIRFLOW_VERSION
from packaging.version import Version


def _base_version(version: str) -> tuple[int, int, int]:
    parsed = Version(version)
    return parsed.major, parsed.minor, parsed.micro


_BASE = _base_version(AIRFLOW_VERSION)
AIRFLOW_V_3_0_PLUS: bool = _BASE >= (3, 0, 0)
AIRFLOW_V_3_1_PLUS: bool = _BASE >= (3, 1, 0)
AIRFLOW_V_3_2_PLUS: bool = _BASE >= (3, 2, 0)
AIRFLOW_V_3_3_PLUS: bool = _BASE >= (3, 3, 0)
# The name other modules used before the per-version flags; kept for them.
AIRFLOW_V3: bool = AIRFLOW_V_3_0_PLUS

if AIRFLOW_V_3_0_PLUS:
    from airflow.sdk import Asset as ReportAsset
    from airflow.sdk import BaseOperator, BaseOperatorLink, BaseSensorOperator, Context, PokeReturnValue
else:  # Airflow 2.10 / 2.11
    from airflow.datasets import Dataset as ReportAsset  # type: ignore[no-redef,attr-defined,unused-ignore]
    from airflow.models import BaseOperator  # type: ignore[no-redef,attr-defined,assignment,unused-ignore]
    from airflow.models.baseoperatorlink import (  # type: ignore[no-redef,attr-defined,unused-ignore]
        BaseOperatorLink,
    )
    from airflow.sensors.base import (  # type: ignore[no-redef,attr-defined,assignment,unused-ignore]
        BaseSensorOperator,
        PokeReturnValue,
    )
    from airflow.utils.context import Context  # type: ignore[no-redef,attr-defined,assignment,unused-ignore]

if AIRFLOW_V_3_1_PLUS:
    from airflow.sdk import BaseHook
else:  # 3.0 still keeps the hook base class in core
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined,assignment,unused-ignore]

if AIRFLOW_V_3_2_PLUS:
    from airflow.sdk.configuration import conf
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
else:  # before 3.2 the SDK re-exported at most some of these; core's are the real ones
    from airflow.configuration import conf  # type: ignore[no-redef,attr-defined,assignment,unused-ignore]
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined,assignment,unused-ignore]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )

__all__ = [
    "AIRFLOW_V3",
    "AIRFLOW_VERSION",
    "AIRFLOW_V_3_0_PLUS",
    "AIRFLOW_V_3_1_PLUS",
    "AIRFLOW_V_3_2_PLUS",
    "AIRFLOW_V_3_3_PLUS",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BaseOperatorLink",
    "BaseSensorOperator",
    "Context",
    "PokeReturnValue",
    "ReportAsset",
    "amask_secret",
    "conf",
    "mask_secret",
    "object_storage_path",
]


def mask_secret(secret: str) -> None:
    """Register ``secret`` with Airflow's secrets masker (a no-op for an empty value)."""
    if not secret:
        return
    if AIRFLOW_V_3_1_PLUS:  # also tells the supervisor, whose log handler masks too
        from airflow.sdk.log import mask_secret as _mask
    elif AIRFLOW_V_3_0_PLUS:
        from airflow.sdk.execution_time.secrets_masker import (  # type: ignore[no-redef,attr-defined,import-not-found,unused-ignore]
            mask_secret as _mask,
        )
    else:
        from airflow.utils.log.secrets_masker import (  # type: ignore[no-redef,attr-defined,import-not-found,unused-ignore]
            mask_secret as _mask,
        )
    _mask(secret)


async def amask_secret(secret: str) -> None:
    """:func:`mask_secret` from the event loop. Airflow 3.3+ has an async twin: its sync call
    would block the loop while it tells the supervisor (and can deadlock a triggerer)."""
    if not secret:
        return
    if AIRFLOW_V_3_3_PLUS:
        from airflow.sdk.log import amask_secret as _amask

        await _amask(secret)
    else:  # Airflow 2 has no supervisor; 3.0-3.2 mask in-process first and bridge the message
        mask_secret(secret)


def object_storage_path(uri: str, conn_id: str | None = None) -> Any:
    """An ``ObjectStoragePath`` for ``uri`` (``file://``, ``s3://``...)."""
    if AIRFLOW_V_3_0_PLUS:
        from airflow.sdk import ObjectStoragePath
    else:
        from airflow.io.path import ObjectStoragePath  # type: ignore[no-redef,attr-defined,unused-ignore]
    return ObjectStoragePath(uri, conn_id=conn_id) if conn_id else ObjectStoragePath(uri)
