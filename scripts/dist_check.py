"""Build the sdist and the wheel and check them as a packager and a pip user would.

1. ``uv build``: the sdist, then the wheel built *from the sdist* (so the sdist is complete
   enough to build).
2. The sdist carries what a packager needs to build, test and document (LICENSE, tests,
   example DAGs, docs sources); the wheel carries the package, the example DAGs, the report
   template and the LICENSE, and no tests.
3. ``twine check --strict`` (the README renders on PyPI) and ``check-wheel-contents``.
4. The wheel installed into a clean virtualenv (nothing editable, no repository on the path)
   with the newest Airflow of .ci/airflow-versions.txt and the providers the example DAGs use
   by default: every example DAG imports with no import error.

Usage: python scripts/dist_check.py --uv .tools/bin/uv --airflow "apache-airflow==3.3.2" [pins...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SDIST_MUST_HOLD = [
    "LICENSE",
    "README.md",
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    "SECURITY.md",
    "pyproject.toml",
    "mkdocs.yml",
    "docs/index.md",
    "tests/conftest.py",
    "airflow_provider_okx/example_dags/okx_treasury_report.py",
    "airflow_provider_okx/core/report/templates/report.html.j2",
]
WHEEL_MUST_HOLD = [
    "airflow_provider_okx/example_dags/okx_treasury_report.py",
    "airflow_provider_okx/example_dags/okx_balance_threshold.py",
    "airflow_provider_okx/example_dags/okx_report_consumer.py",
    "airflow_provider_okx/example_dags/okx_deposit_event.py",
    "airflow_provider_okx/core/report/templates/report.html.j2",
    "airflow_provider_okx/py.typed",
]
EXAMPLE_DAGS = {"okx_treasury_report", "okx_balance_threshold", "okx_report_consumer", "okx_deposit_event"}
# What `pip install airflow-provider-okx[sql] apache-airflow-providers-sqlite` adds: the
# treasury report DAG's warehouse_load writes to SQLite by default.
EXAMPLE_DAG_PROVIDERS = ["apache-airflow-providers-sqlite"]

IMPORT_EXAMPLES = """
import json, pathlib, sys
import airflow_provider_okx.example_dags as examples
folder = pathlib.Path(examples.__file__).parent
assert "site-packages" in str(folder), folder  # the installed wheel, not the repository
try:
    from airflow.dag_processing.dagbag import DagBag
except ImportError:
    from airflow.models.dagbag import DagBag
bag = DagBag(dag_folder=str(folder))  # examples off: AIRFLOW__CORE__LOAD_EXAMPLES=False
errors = {path: text[-500:] for path, text in bag.import_errors.items()}
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": errors}))
"""


def run(*args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    print("+", " ".join(args)[:300], flush=True)
    try:
        return subprocess.run(args, check=True, text=True, **kwargs)  # type: ignore[call-overload]
    except subprocess.CalledProcessError as error:
        sys.stderr.write(f"{error.stdout or ''}{error.stderr or ''}"[-6000:])
        raise SystemExit(f"dist-check: failed (exit {error.returncode}): {args[0]}") from None


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--uv", required=True)
    parser.add_argument("--bin", default=".venv/bin", help="where twine and check-wheel-contents are")
    parser.add_argument("--python", default="python3.11")
    parser.add_argument("airflow", nargs="+", help="apache-airflow==X and its pins")
    args = parser.parse_args()
    uv = str(Path(args.uv).resolve())

    dist = ROOT / "dist"
    shutil.rmtree(dist, ignore_errors=True)
    run(uv, "build", "--quiet", "--out-dir", str(dist), cwd=ROOT)
    [sdist] = dist.glob("*.tar.gz")
    [wheel] = dist.glob("*.whl")

    with tarfile.open(sdist) as archive:
        prefix = archive.getnames()[0].split("/")[0]
        names = {name.removeprefix(prefix + "/") for name in archive.getnames()}
    missing = [name for name in SDIST_MUST_HOLD if name not in names]
    with zipfile.ZipFile(wheel) as archive:
        wheel_names = set(archive.namelist())
    missing += [f"wheel: {name}" for name in WHEEL_MUST_HOLD if name not in wheel_names]
    if not any(name.endswith(".dist-info/licenses/LICENSE") for name in wheel_names):
        missing.append("wheel: .dist-info/licenses/LICENSE")
    if any(name.startswith("tests/") for name in wheel_names):
        missing.append("wheel: must not ship tests/")
    if missing:
        print("dist-check: missing or misplaced:", *missing, sep="\n  ", file=sys.stderr)
        return 1
    print(f"dist-check: {sdist.name} ({len(names)} files), {wheel.name} ({len(wheel_names)} files)")

    run(f"{args.bin}/twine", "check", "--strict", str(sdist), str(wheel))
    run(f"{args.bin}/check-wheel-contents", str(wheel))

    with tempfile.TemporaryDirectory(prefix="okx-dist-check-") as tmp:
        venv = Path(tmp) / "venv"
        run(uv, "venv", "--quiet", "--python", args.python, str(venv))
        env = {**os.environ, "VIRTUAL_ENV": str(venv)}
        run(uv, "pip", "install", "--quiet", f"{wheel}[sql]", *args.airflow, *EXAMPLE_DAG_PROVIDERS, env=env)
        home = Path(tmp) / "airflow-home"
        home.mkdir()
        clean_env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": tmp,
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        }
        out = run(
            str(venv / "bin" / "python"),
            "-c",
            IMPORT_EXAMPLES,
            cwd=tmp,  # not the repository: the import must come from the installed wheel
            env=clean_env,
            capture_output=True,
        )
        result = json.loads(out.stdout.strip().splitlines()[-1])
        print("dist-check: example DAGs from the installed wheel:", ", ".join(result["dags"]))
        if result["errors"] or not set(result["dags"]) >= EXAMPLE_DAGS:
            print("dist-check: example DAG import errors:", result["errors"], file=sys.stderr)
            return 1
    print("dist-check: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
