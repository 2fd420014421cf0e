"""Apache Airflow provider for OKX's Web3 wallet balance API."""

from __future__ import annotations

from typing import Any

# The one version source: pyproject.toml reads it (hatch dynamic version), and so do
# get_provider_info() and the client's User-Agent.
__version__ = "0.3.0"

CONN_TYPE = "okx"
DEFAULT_CONN_ID = "okx_default"
DEFAULT_HOST = "https://web3.okx.com"
HOOK_NAME = "OKX Web3"
# OKX's page for the call the provider is built on (v6 DEX balance API, all tokens by address).
DOCS_URL = "https://web3.okx.com/onchainos/dev-docs/wallet/balance-api-all-token-balances"

# Extra fields of the ``okx`` connection: name -> (label, JSON schema, description).
# One table feeds both UIs: ``conn-fields`` below (Airflow 3) and
# ``OkxHook.get_connection_form_widgets`` (Airflow 2).
CONN_FIELDS: dict[str, dict[str, Any]] = {
    "passphrase": {
        "label": "Passphrase",
        "schema": {"type": "string", "format": "password", "minLength": 1},
        "description": "The passphrase chosen when the API key was created (required).",
    },
    "project_id": {
        "label": "Project ID",
        "schema": {"type": ["string", "null"]},
        "description": "OKX developer portal project id, sent as OK-ACCESS-PROJECT (optional).",
    },
    "api_version": {
        "label": "API version",
        "schema": {"type": ["string", "null"], "default": "v6", "enum": ["v6", "v5"]},
        "description": "v6 (current DEX balance API) or v5 (the original Wallet API).",
    },
    # Numeric fields: ``minimum``/``maximum`` (inclusive) are the bounds the hook enforces
    # when it reads the connection (hooks/connection.py reads them from here), the bounds
    # Airflow 3.2+'s form gets from ``conn-fields`` and the validators of Airflow 2's form.
    "rate_limit_rps": {
        "label": "Rate limit (requests/s)",
        "schema": {"type": ["number", "null"], "default": 1, "minimum": 0, "maximum": 10000},
        "description": (
            "Client-side cap: the key's rate (trial keys: 1). Per process, or for every process "
            "together with a rate-limit store; 0 = no cap."
        ),
    },
    "rate_limit_store": {
        "label": "Rate-limit store (Redis URL)",
        "schema": {"type": ["string", "null"], "format": "password"},
        "description": (
            "redis:// or rediss:// URL (pip install 'airflow-provider-okx[redis]'): then the rate "
            "limit is the whole API key's budget, shared by every worker, task and the triggerer."
        ),
    },
    "timeout": {
        "label": "Timeout (s)",
        "schema": {"type": ["number", "null"], "default": 10, "minimum": 0.1, "maximum": 3600},
        "description": "Total deadline of one HTTP attempt in seconds (connect, send and every read).",
    },
    "max_retries": {
        "label": "Max retries",
        "schema": {"type": ["integer", "null"], "default": 5, "minimum": 0, "maximum": 100},
        "description": (
            "Retries of unavailable and timed-out requests; rate-limited ones also past it, "
            "within timeout x (max retries + 1)."
        ),
    },
}


UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden_fields": ["schema", "port", "extra"],
    "relabeling": {"host": "Base URL", "login": "API Key", "password": "Secret Key"},
    "placeholders": {
        "host": DEFAULT_HOST,
        "login": "OKX API key",
        "password": "OKX secret key",
        "passphrase": "API key passphrase",
        "project_id": "optional",
        "api_version": "v6",
        "rate_limit_rps": "1",
        "rate_limit_store": "redis://:password@redis-host:6379/0 (optional)",
        "timeout": "10",
        "max_retries": "5",
    },
}


def get_provider_info() -> dict[str, Any]:
    """Provider metadata read by Airflow's ProvidersManager (no hook import needed)."""
    return {
        "package-name": "airflow-provider-okx",
        "name": "OKX Web3",
        "description": "OKX Web3 wallet balance API: balances, thresholds and treasury reports.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "OKX Web3",
                "external-doc-url": DOCS_URL,
                "tags": ["service"],
            }
        ],
        "hooks": [{"integration-name": "OKX Web3", "python-modules": ["airflow_provider_okx.hooks.okx"]}],
        "operators": [
            {
                "integration-name": "OKX Web3",
                "python-modules": [
                    "airflow_provider_okx.operators.balances",
                    "airflow_provider_okx.operators.report",
                ],
            }
        ],
        "sensors": [
            {"integration-name": "OKX Web3", "python-modules": ["airflow_provider_okx.sensors.balance"]}
        ],
        "triggers": [
            {
                "integration-name": "OKX Web3",
                "python-modules": [
                    "airflow_provider_okx.triggers.balance",
                    "airflow_provider_okx.triggers.balance_event",
                ],
            }
        ],
        # Airflow 2 rebuilds serialized operator links from these class paths.
        "extra-links": [
            "airflow_provider_okx.glue.links.OkxWalletExplorerLink",
            "airflow_provider_okx.glue.links.OkxSensorWalletLink",
            "airflow_provider_okx.glue.links.OkxSensorTokenLink",
            "airflow_provider_okx.glue.links.OkxReportLink",
        ],
        "transfers": [
            {
                "source-integration-name": "OKX Web3",
                "target-integration-name": "Common SQL",
                "python-module": "airflow_provider_okx.transfers.okx_to_sql",
            }
        ],
        "connection-types": [
            {
                "connection-type": CONN_TYPE,
                "hook-class-name": "airflow_provider_okx.hooks.okx.OkxHook",
                "hook-name": HOOK_NAME,
                "conn-fields": CONN_FIELDS,
                "ui-field-behaviour": {
                    "hidden-fields": UI_FIELD_BEHAVIOUR["hidden_fields"],
                    "relabeling": UI_FIELD_BEHAVIOUR["relabeling"],
                    "placeholders": UI_FIELD_BEHAVIOUR["placeholders"],
                },
            }
        ],
    }
