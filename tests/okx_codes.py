"""OKX_API.md's code table, as test data: (HTTP status, OKX code, the error class we raise).

Shared by the sans-IO tests (tests/test_protocol.py) and the real-HTTP tests against the
simulator (tests/test_hook_simulator.py), so both prove the same table.
"""

from __future__ import annotations

from airflow_provider_okx.core.api.errors import (
    OkxApiVersionRetiredError,
    OkxAuthError,
    OkxEndpointOfflineError,
    OkxInvalidRequestError,
    OkxRateLimitError,
    OkxUnavailableError,
)

RETRYABLE = [
    (429, "50011", OkxRateLimitError),
    (503, "50001", OkxUnavailableError),
    (200, "50001", OkxUnavailableError),
    (500, "50026", OkxUnavailableError),
    (200, "81159", OkxUnavailableError),
    (200, "81451", OkxUnavailableError),
]

NOT_RETRYABLE = [
    # v6's own table: 50014 (400), 81001 (200), 81104 (200); 50001 and 50011 retry (above).
    (400, "50014", OkxInvalidRequestError),
    (200, "81001", OkxInvalidRequestError),
    (410, "50005", OkxEndpointOfflineError),
    (403, "50030", OkxAuthError),
    (404, "50125", OkxAuthError),
    (400, "51000", OkxInvalidRequestError),
    (401, "50103", OkxAuthError),
    (401, "50104", OkxAuthError),
    (401, "50105", OkxAuthError),
    (401, "50106", OkxAuthError),
    (401, "50107", OkxAuthError),
    (401, "50111", OkxAuthError),
    (401, "50113", OkxAuthError),
    (200, "50125", OkxAuthError),
    (200, "80001", OkxAuthError),
    (200, "50050", OkxApiVersionRetiredError),
    (200, "81104", OkxInvalidRequestError),
    (200, "81150", OkxInvalidRequestError),
    (200, "81106", OkxInvalidRequestError),
    (200, "81151", OkxInvalidRequestError),
    (200, "81152", OkxInvalidRequestError),
    (200, "81157", OkxInvalidRequestError),
    (200, "81353", OkxInvalidRequestError),
]
