"""Screenshot the OKX connection form in a real browser (headless Chromium), on any Airflow.

    make screenshots            # newest Airflow 3 and Airflow 2.10, PNGs under screenshots/
    python scripts/connection_form_screenshot.py --venv .venv-af210 --out screenshots/af210

It makes a throwaway Airflow home, starts the UI server of that virtualenv's Airflow on
127.0.0.1 (``airflow api-server`` on Airflow 3, ``airflow webserver`` on Airflow 2), logs in
as an admin it creates, opens "add connection", picks the "OKX Web3" type and saves PNGs
(Airflow 3: the standard fields, the provider's extra fields, the API version select opened;
Airflow 2: the one-page form) plus form.json, a dump of the labels, inputs (with their
placeholders) and select options it found. It stops the server before it exits, pass or fail.

Needs Debian's ``chromium`` and ``chromium-driver`` (``apt-get install -y chromium
chromium-driver``) and ``selenium`` in the interpreter running this script.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from selenium import webdriver
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
USER = "admin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def airflow_major(venv: Path) -> int:
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import airflow; print(airflow.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    version = out.stdout.strip().splitlines()[-1]
    print(f"Airflow {version} from {venv}")
    return int(version.split(".")[0])


def browser(profile: Path) -> WebDriver:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
        "--window-size=1280,2200",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


class UiServer:
    """The Airflow UI of one virtualenv, on loopback, in a throwaway home."""

    def __init__(self, venv: Path, home: Path, major: int) -> None:
        self.venv, self.home, self.major = venv, home, major
        self.port = free_port()
        self.password = secrets.token_urlsafe(12)
        self.proc: subprocess.Popen[bytes] | None = None
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        self.env.update(
            {
                "AIRFLOW_HOME": str(home),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
                "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
            }
        )
        if major >= 3:
            (home / "passwords.json").write_text(json.dumps({USER: self.password}))
            self.env.update(
                {
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{USER}:admin",
                    "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
                    "AIRFLOW__API__HOST": "127.0.0.1",
                    "AIRFLOW__API__PORT": str(self.port),
                    "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{self.port}",
                    "AIRFLOW__API__WORKERS": "1",
                    "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
                }
            )
        else:
            self.env.update(
                {
                    "AIRFLOW__WEBSERVER__WEB_SERVER_HOST": "127.0.0.1",
                    "AIRFLOW__WEBSERVER__WEB_SERVER_PORT": str(self.port),
                    "AIRFLOW__WEBSERVER__WORKERS": "1",
                    "AIRFLOW__WEBSERVER__SECRET_KEY": secrets.token_hex(16),
                }
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def airflow(self, *args: str) -> None:
        out = subprocess.run(
            [str(self.venv / "bin" / "airflow"), *args], env=self.env, capture_output=True, text=True
        )
        if out.returncode:
            raise SystemExit(f"airflow {' '.join(args)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")

    def start(self) -> None:
        self.airflow("db", "migrate")
        if self.major < 3:
            self.airflow(
                "users", "create", "--username", USER, "--password", self.password, "--role", "Admin",
                "--firstname", "A", "--lastname", "Dmin", "--email", "admin@example.invalid",
            )  # fmt: skip
            argv = ["webserver", "--hostname", "127.0.0.1", "--port", str(self.port)]
        else:
            argv = ["api-server", "--host", "127.0.0.1", "--port", str(self.port)]
        log = (self.home / "server.out").open("wb")
        self.proc = subprocess.Popen(
            [str(self.venv / "bin" / "airflow"), *argv],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit(f"the UI server exited:\n{(self.home / 'server.out').read_text()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    time.sleep(3 if self.major < 3 else 1)  # gunicorn workers boot after the bind
                    return
            except OSError:
                time.sleep(1)
        raise SystemExit("the UI server did not start within 180 s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


def describe_form(driver: WebDriver) -> dict[str, Any]:
    """Labels, inputs (name, type, placeholder) and selects visible on the page."""
    script = """
    const visible = el => !!(el.offsetWidth || el.offsetHeight || el.getClientRects().length);
    const labels = [...document.querySelectorAll('label')].filter(visible)
        .map(l => l.innerText.trim()).filter(Boolean);
    const inputs = [...document.querySelectorAll('input, textarea')].filter(visible)
        .map(i => ({name: i.name || i.id, type: i.type, placeholder: i.placeholder || '', value: i.value}));
    const selects = [...document.querySelectorAll('select')].map(s => ({
        name: s.name || s.id, value: s.value, options: [...s.options].map(o => o.text)}));
    return {labels, inputs, selects};
    """
    return dict(driver.execute_script(script))


def shoot_airflow2(driver: WebDriver, server: UiServer, out: Path) -> dict[str, Any]:
    wait = WebDriverWait(driver, 60)
    driver.get(f"{server.url}/login/")
    wait.until(EC.presence_of_element_located((By.ID, "username"))).send_keys(USER)
    driver.find_element(By.ID, "password").send_keys(server.password + Keys.ENTER)
    wait.until(lambda d: "/login" not in d.current_url)
    driver.get(f"{server.url}/connection/add")
    wait.until(EC.presence_of_element_located((By.ID, "conn_type")))
    driver.execute_script("$('#conn_type').val('okx').trigger('change');")
    time.sleep(1.5)
    driver.save_screenshot(str(out / "connection_form.png"))
    return describe_form(driver)


def shoot_airflow3(driver: WebDriver, server: UiServer, out: Path) -> dict[str, Any]:
    wait = WebDriverWait(driver, 60)
    driver.get(f"{server.url}/auth/login")
    wait.until(EC.presence_of_element_located((By.NAME, "username"))).send_keys(USER)
    driver.find_element(By.NAME, "password").send_keys(server.password + Keys.ENTER)
    wait.until(lambda d: "/login" not in d.current_url)
    driver.get(f"{server.url}/connections")
    add = wait.until(
        EC.element_to_be_clickable((By.XPATH, "//button[contains(., 'Add Connection') or @aria-label='Add']"))
    )
    add.click()
    conn_id = wait.until(EC.element_to_be_clickable((By.XPATH, "//div[@role='dialog']//input")))
    conn_id.send_keys("okx_default")
    # the connection type picker: open it, type the hook name, take the match
    label = driver.find_element(By.XPATH, "//label[contains(., 'Connection Type')]")
    picker = driver.find_element(By.ID, label.get_attribute("for"))
    picker.send_keys("OKX Web3")
    option = wait.until(
        EC.element_to_be_clickable((By.XPATH, "//*[@role='option' and contains(., 'OKX Web3')]"))
    )
    option.click()
    wait.until(EC.visibility_of_element_located((By.XPATH, "//label[contains(., 'Base URL')]")))
    time.sleep(1)
    driver.save_screenshot(str(out / "connection_form_standard_fields.png"))
    standard = describe_form(driver)
    # "Extra Fields" (the provider's own fields) starts collapsed: open it
    extra = wait.until(
        EC.element_to_be_clickable(
            (By.XPATH, "//button[contains(., 'Extra Fields') and not(contains(., 'JSON'))]")
        )
    )
    extra.click()
    wait.until(EC.visibility_of_element_located((By.XPATH, "//label[contains(., 'Passphrase')]")))
    time.sleep(1)
    driver.save_screenshot(str(out / "connection_form_extra_fields.png"))
    info = {"standard_fields": standard, "extra_fields": describe_form(driver)}
    label = driver.find_element(By.XPATH, "//label[contains(., 'API version')]")
    select = driver.find_element(By.ID, label.get_attribute("for"))
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", select)
    driver.execute_script("arguments[0].focus()", select)
    select.send_keys(Keys.ARROW_DOWN)  # opens a react-select menu (a plain input would just move its caret)
    time.sleep(1)
    info["api_version_widget"] = {"tag": select.tag_name, "role": select.get_attribute("role") or ""}
    info["api_version_options"] = [o.text for o in driver.find_elements(By.XPATH, "//*[@role='option']")]
    driver.save_screenshot(str(out / "api_version_select_open.png"))
    return info


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--venv", type=Path, required=True, help="virtualenv with Airflow and the provider")
    parser.add_argument("--out", type=Path, required=True, help="folder for the PNGs and form.json")
    args = parser.parse_args()
    for tool in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: apt-get install -y chromium chromium-driver")
    args.out.mkdir(parents=True, exist_ok=True)
    major = airflow_major(args.venv)
    with tempfile.TemporaryDirectory(prefix="okx-ui-") as tmp:
        home, profile = Path(tmp) / "home", Path(tmp) / "chromium-profile"
        home.mkdir()
        server = UiServer(args.venv, home, major)
        driver: WebDriver | None = None
        try:
            server.start()
            driver = browser(profile)
            info = (shoot_airflow3 if major >= 3 else shoot_airflow2)(driver, server, args.out)
        except (WebDriverException, SystemExit) as error:
            if driver is not None:
                driver.save_screenshot(str(args.out / "failure.png"))
            print(f"failed: {error}\n{(home / 'server.out').read_text(errors='replace')[-3000:]}")
            return 1
        finally:
            if driver is not None:
                driver.quit()
            server.stop()
    (args.out / "form.json").write_text(json.dumps(info, indent=2))
    print(json.dumps(info, indent=2))
    print(f"screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
