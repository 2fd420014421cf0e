"""The documentation says what the code does (`make docs` checks its links and references).

- The troubleshooting table names, for every OKX code, the error class the hook really
  raises, and lists every code the error mapper knows.
- The connection page's bounds and defaults are the form's and the hook's.
- The README is a landing page PyPI can render: no relative link, no machine path.
- The retry docstring names the jitter the code does.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from airflow_provider_okx import CONN_FIELDS
from airflow_provider_okx.core.api import errors, retry
from airflow_provider_okx.core.api.errors import OkxRateLimitError, error_for

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _table_rows(text: str, heading: str) -> list[list[str]]:
    """The cells of the first Markdown table after ``heading``."""
    section = text.split(heading, 1)[1]
    rows = []
    started = False
    for line in section.splitlines():
        if line.startswith("|"):
            started = True
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if not set("".join(cells)) <= set("-: "):
                rows.append(cells)
        elif started:
            break
    return rows[1:]  # without the header


def test_troubleshooting_names_the_error_the_hook_raises_for_each_code():
    rows = _table_rows((DOCS / "troubleshooting.md").read_text(), "## By OKX error code")
    documented = {}
    for code_cell, http_cell, error_cell, *_ in rows:
        code = code_cell.strip("`")
        http = int(http_cell.split("/")[0]) if http_cell else None
        raised = type(error_for(code, "msg", http, "all_token_balances")).__name__
        assert error_cell.strip("`") == raised, code
        documented[code] = raised
    known = (
        errors._AUTH_CODES
        | errors._RATE_CODES
        | errors._UNAVAILABLE_CODES
        | errors._OFFLINE_CODES
        | set(errors._HINTS)
    )
    assert sorted(known - set(documented)) == []


def test_connection_page_states_the_form_and_hook_bounds_and_defaults():
    rows = _table_rows((DOCS / "connection.md").read_text(), "## Fields")
    by_label = {row[0].split(" (")[0]: row for row in rows}
    for spec in CONN_FIELDS.values():
        schema = spec["schema"]
        if "minimum" not in schema:
            continue
        _, _, default, bounds = by_label[spec["label"].split(" (")[0]]
        low, high = re.match(r"([\d.]+) to ([\d.]+)", bounds).groups()
        assert (float(low), float(high)) == (schema["minimum"], schema["maximum"]), spec["label"]
        assert float(default) == schema["default"], spec["label"]


def test_readme_has_no_link_pypi_would_render_dead():
    readme = (ROOT / "README.md").read_text()
    targets = re.findall(r"\]\(([^)]+)\)", readme) + re.findall(r'(?:href|src)="([^"]+)"', readme)
    relative = [t for t in targets if not t.startswith(("https://", "#"))]
    assert relative == []
    assert len(readme.splitlines()) < 150  # a landing page: the rest is in docs/


def test_the_readme_quick_start_is_for_a_pip_user():
    readme = (ROOT / "README.md").read_text()
    quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert "make " not in quick_start
    assert "airflow_provider_okx.example_dags" in quick_start
    install = readme.split("## Install", 1)[1].split("\n## ", 1)[0]
    # Every connection type the example DAGs define for themselves needs its provider.
    examples = ROOT / "airflow_provider_okx" / "example_dags"
    conn_types = set()
    for path in examples.glob("*.py"):
        conn_types |= set(re.findall(r'"conn_type": "(\w+)"', path.read_text()))
    assert conn_types == {"sqlite"}
    for conn_type in conn_types:
        assert f"apache-airflow-providers-{conn_type}" in install.split("```")[1], conn_type


class _Fixed:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize("attempt", [0, 3])
def test_the_retry_docstring_names_the_jitter_the_code_does(attempt):
    policy = retry.RetryPolicy(max_retries=5)
    error = OkxRateLimitError("50011", "Too Many Requests", 429)
    ceiling = min(policy.max_delay, policy.base_delay * 2**attempt)
    low = policy.delay(attempt, error, _Fixed(0.0))  # type: ignore[arg-type]
    high = policy.delay(attempt, error, _Fixed(0.999999))  # type: ignore[arg-type]
    # Equal jitter: between half the ceiling and the ceiling (full jitter would start at 0).
    assert low == ceiling / 2
    assert high == pytest.approx(ceiling, rel=1e-5)
    doc = retry.__doc__ or ""
    assert "equal jitter" in doc and "full jitter" not in doc.lower()
