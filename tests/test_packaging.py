"""What a user installing the wheel gets: one version, declared dependencies, a licence.

- One version: ``__version__``, the installed distribution, ``get_provider_info()``, the
  User-Agent and the CHANGELOG's newest heading agree.
- Every third-party module the package imports (an AST walk of every module) is declared in
  ``Requires-Dist`` with a lower bound, optional parts in an extra; development tools are not
  published as extras.
- The Python versions: classifiers name only what CI runs, ``requires-python`` agrees with the
  version ruff, mypy and vermin check the code against.
- The licence travels in the metadata and the wheel; no path of a developer's machine in the
  repository.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import airflow_provider_okx
from airflow_provider_okx import __version__, get_provider_info
from airflow_provider_okx.hooks.connection import USER_AGENT

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path(airflow_provider_okx.__file__).resolve().parent
DIST = distribution("airflow-provider-okx")
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# Modules the package imports that it must not declare, and why.
PROVIDED_BY_THE_CALLER = {
    # Only inside OkxHook.get_connection_form_widgets(), which only Airflow's Flask-AppBuilder
    # UI calls (Airflow 2, or 3.0/3.1 with FAB): the UI brings them. Declaring them would pull
    # Flask-AppBuilder into every Airflow 3 install.
    "flask_appbuilder",
    "flask_babel",
    "wtforms",
    # Only in airflow_provider_okx.testing.pytest_plugin, which pytest itself loads.
    "pytest",
}
# Development-only tools are PEP 735 dependency groups, never published extras.
DEVELOPMENT_GROUPS = {"test", "lint", "bench", "docs", "dist"}


def _imported_modules() -> dict[str, set[str]]:
    """Absolute imports of the package's modules: dotted name -> files importing it."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                found.setdefault(name, set()).add(str(path.relative_to(PACKAGE)))
    return found


def _requirements() -> tuple[dict[str, Requirement], dict[str, Requirement]]:
    """``Requires-Dist`` of the installed distribution: (always, in some extra), by name."""
    always: dict[str, Requirement] = {}
    optional: dict[str, Requirement] = {}
    for line in DIST.requires or []:
        requirement = Requirement(line)
        marker = str(requirement.marker or "")
        target = optional if "extra ==" in marker else always
        target[canonicalize_name(requirement.name)] = requirement
    return always, optional


def _distribution_of(module: str) -> str:
    """The distribution that provides ``module``; Airflow's providers by their package path."""
    parts = module.split(".")
    if parts[:2] == ["airflow", "providers"] and len(parts) > 2:
        # airflow.providers.common.sql.hooks -> apache-airflow-providers-common-sql
        for length in (2, 1):
            name = canonicalize_name("apache-airflow-providers-" + "-".join(parts[2 : 2 + length]))
            try:
                distribution(name)
            except Exception:
                continue
            return name
        pytest.fail(f"{module}: no installed Airflow provider provides it (install the test group)")
    if parts[0] == "airflow":
        return "apache-airflow"
    providers = packages_distributions().get(parts[0])
    if not providers:
        # Not installed on this Python (async_timeout: only before 3.11): its own name.
        return canonicalize_name(parts[0])
    return canonicalize_name(providers[0])


def test_one_version_everywhere():
    changelog = (ROOT / "CHANGELOG.md").read_text()
    newest = re.search(r"^## (\S+)", changelog, re.MULTILINE)
    assert newest is not None
    assert (
        __version__
        == DIST.version
        == get_provider_info()["versions"][0]
        == USER_AGENT.removeprefix("airflow-provider-okx/")
        == newest.group(1)
    )


def test_every_released_changelog_version_has_a_date():
    headings = re.findall(r"^## (\S+) \((.+)\)$", (ROOT / "CHANGELOG.md").read_text(), re.MULTILINE)
    assert headings
    for version, when in headings[1:]:  # the newest may still be "unreleased" until cut
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", when), f"{version}: {when!r} is not a release date"


def test_every_imported_third_party_module_is_declared_with_a_lower_bound():
    always, optional = _requirements()
    missing = []
    unbounded = []
    for module, files in sorted(_imported_modules().items()):
        top = module.split(".")[0]
        if top in sys.stdlib_module_names or top == "airflow_provider_okx" or top in PROVIDED_BY_THE_CALLER:
            continue
        name = _distribution_of(module)
        requirement = always.get(name) or optional.get(name)
        if requirement is None:
            missing.append(f"{name} (import {module} in {', '.join(sorted(files))})")
        elif not any(spec.operator in (">=", "==", "~=") for spec in requirement.specifier):
            unbounded.append(str(requirement))
    assert missing == [], "imported but not in Requires-Dist"
    assert unbounded == [], "declared without a lower bound"


def test_core_runtime_modules_are_not_hidden_in_an_extra():
    """What every task needs (HTTP, report, links) must install with the package itself."""
    always, _ = _requirements()
    for name in ("requests", "urllib3", "aiohttp", "yarl", "certifi", "jinja2", "markupsafe", "attrs"):
        assert name in always, name


def test_development_tools_are_dependency_groups_not_published_extras():
    extras = set(DIST.metadata.get_all("Provides-Extra") or [])
    assert not extras & DEVELOPMENT_GROUPS, extras
    assert set(PYPROJECT["dependency-groups"]) >= DEVELOPMENT_GROUPS
    published = " ".join(DIST.requires or [])
    for tool in ("ruff", "mypy", "pytest", "python-okx", "mkdocs", "twine"):
        assert tool not in published, tool


def test_python_versions_are_honest():
    project = PYPROJECT["project"]
    classifiers = [
        c for c in project["classifiers"] if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)
    ]
    assert classifiers == ["Programming Language :: Python :: 3.11"]  # what CI runs (.ci/run)
    minimum = re.fullmatch(r">=3\.(\d+)", project["requires-python"])
    assert minimum is not None
    minor = int(minimum.group(1))
    # The code is checked against that minimum: ruff's and mypy's target, vermin in `make lint`.
    assert PYPROJECT["tool"]["ruff"]["target-version"] == f"py3{minor}"
    assert PYPROJECT["tool"]["mypy"]["python_version"] == f"3.{minor}"
    makefile = (ROOT / "Makefile").read_text()
    assert f"vermin --target=3.{minor}-" in makefile


def test_the_license_travels_with_the_wheel():
    assert DIST.metadata["License-Expression"] == "Apache-2.0"
    assert DIST.metadata.get_all("License-File") == ["LICENSE"]
    shipped = [f for f in DIST.files or [] if f.name == "LICENSE"]
    assert shipped, "no LICENSE in the installed distribution"
    text = shipped[0].read_text()
    assert text == (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "END OF TERMS AND CONDITIONS" in text


def _tracked_files() -> list[Path]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
        ).stdout
    except (OSError, subprocess.CalledProcessError):  # an sdist: no git
        skip = {".venv", ".tools", ".airflow", ".git", "build", "dist", "site"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skip & set(p.relative_to(ROOT).parts)]
    return [ROOT / name for name in out.decode().split("\0") if name]


def test_no_path_of_a_developer_machine_in_the_repository():
    # Built from pieces so that this file does not match itself.
    machine_path = re.compile("(?<![\\w.])/(?:" + "|".join(["work", "root", "home", "Users"]) + r")/")
    found = []
    for path in _tracked_files():
        if path.suffix in (".png", ".ico", ".gz", ".whl") or not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), 1):
            if machine_path.search(line):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()[:100]}")
    assert found == []
