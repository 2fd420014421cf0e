"""The Airflow names we use, from Airflow 3's task SDK or from Airflow 2.10/2.11.

Only what DAG parsing already imports lives here; heavier pieces (object storage) are
imported where they are used.
"""

from __future__ import annotations

from typing import Any

try:  # Airflow 3
    from airflow.sdk import Asset as ReportAsset
    from airflow.sdk import BaseHook, BaseOperator, BaseSensorOperator, PokeReturnValue
    from airflow.sdk.configuration import conf
    from airflow.sdk.exceptions import (
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )

    AIRFLOW_V3 = True
except ImportError:  # Airflow 2.10 / 2.11
    from airflow.configuration import conf  # type: ignore[no-redef,attr-defined,unused-ignore]
    from airflow.datasets import Dataset as ReportAsset  # type: ignore[no-redef,attr-defined,unused-ignore]
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined,unused-ignore]
        AirflowException,
        AirflowFailException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
    from airflow.hooks.base import BaseHook  # type: ignore[no-redef,attr-defined,unused-ignore]
    from airflow.models import BaseOperator  # type: ignore[no-redef,attr-defined,unused-ignore]
    from airflow.sensors.base import (  # type: ignore[no-redef,attr-defined,unused-ignore]
        BaseSensorOperator,
        PokeReturnValue,
    )

    AIRFLOW_V3 = False

__all__ = [
    "AIRFLOW_V3",
    "AirflowException",
    "AirflowFailException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "BaseHook",
    "BaseOperator",
    "BaseSensorOperator",
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
    try:
        from airflow.sdk.log import mask_secret as _mask
    except ImportError:
        from airflow.utils.log.secrets_masker import mask_secret as _mask  # type: ignore[no-redef,attr-defined,unused-ignore]
    _mask(secret)


async def amask_secret(secret: str) -> None:
    """:func:`mask_secret` from the event loop: Airflow 3's sync call would block the loop
    while it tells the supervisor (and can deadlock a triggerer)."""
    if not secret:
        return
    try:
        from airflow.sdk.log import amask_secret as _amask
    except ImportError:  # Airflow 2 (no supervisor to tell) or an Airflow 3 without it
        mask_secret(secret)
        return
    await _amask(secret)


def object_storage_path(uri: str, conn_id: str | None = None) -> Any:
    """An ``ObjectStoragePath`` for ``uri`` (``file://``, ``s3://``...)."""
    try:
        from airflow.sdk import ObjectStoragePath
    except ImportError:
        from airflow.io.path import ObjectStoragePath  # type: ignore[no-redef,attr-defined,unused-ignore]
    return ObjectStoragePath(uri, conn_id=conn_id) if conn_id else ObjectStoragePath(uri)
