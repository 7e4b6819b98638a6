"""Browser tests: the app under uWSGI, driven by real headless Chromium (Playwright).

Fixtures (made available to every test by conftest.py):

- ``live_server``: a ``LiveServer`` (``base_url``, ``database_path``, ``log``) serving a
  copy of the demo SQLite database with wsgi.ini, once per test module. ``serve(path,
  workdir, **environ)`` starts one over another database or with other settings.
- ``browser_page``: a fresh Playwright ``Page`` (own context, so own cookies) that fails
  the test at teardown on console errors, uncaught JavaScript errors and failed requests.
  Declare the HTTP error statuses a test provokes with ``expect_status(page, 403)``.

Helpers: ``login(page, base_url, login, password)``, ``shot(page, name)``.
Without uWSGI, Chromium or Playwright the tests skip with the reason (fail with CI=true).
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# Defined here too rather than imported: conftest imports this module.
ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
# Chrome logs every HTTP error response as a console error; these are allowed when declared.
STATUS_LINE = re.compile(r"Failed to load resource: the server responded with a status of (\d{3})")


def _unavailable(reason):
    """A missing tool skips the test, but never silently in CI."""
    pytest.fail(reason) if IN_CI else pytest.skip(reason)


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- The server ----------------------------------------------------------------

@dataclass(frozen=True)
class LiveServer:
    base_url: str
    database_path: Path
    log: Path

    def url(self, path="/"):
        return self.base_url + path


@pytest.fixture(scope="module")
def live_server(sqlite_template, tmp_path_factory):
    """uWSGI with wsgi.ini on a free port, as in production, over a copy of the demo db."""
    workdir = tmp_path_factory.mktemp("live")
    database_path = workdir / "dolibarr.sqlite"
    shutil.copy(sqlite_template, database_path)
    with serve(database_path, workdir) as server:
        yield server


@contextmanager
def serve(database_path, workdir, **environ):
    """uWSGI with wsgi.ini over the SQLite database at ``database_path``, until the end of
    the ``with``; ``environ``: extra AUTOCONTACT_* settings (e.g. a low
    AUTOCONTACT_BACKGROUND_ROWS). For module fixtures of their own, like ``live_server``."""
    binary = Path(sys.executable).with_name("uwsgi")
    if not binary.exists():
        _unavailable("uwsgi is not installed in this virtualenv (pip install -r requirements.txt)")
    port = _free_port()
    env = dict(os.environ, AUTOCONTACT_BIND=f"127.0.0.1:{port}",
               AUTOCONTACT_DATABASE_URL=f"sqlite:///{database_path}",
               SECRET_KEY="browser-test-secret",
               AUTOCONTACT_INSTANCE_PATH=str(workdir / "instance"), **environ)
    env.pop("AUTOCONTACT_DOLIBARR_CONF", None)
    log = workdir / "uwsgi.log"
    process = subprocess.Popen(
        [str(binary), "--ini", str(ROOT / "wsgi.ini"), "--home", sys.prefix, "--logto", str(log)],
        cwd=workdir, env=env, start_new_session=True,
    )
    server = LiveServer(f"http://127.0.0.1:{port}", database_path, log)
    try:
        _wait_until_healthy(server, process)
        yield server
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until_healthy(server, process, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(server.url("/healthz"), timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            log = server.log.read_text() if server.log.exists() else ""
            pytest.fail(f"uWSGI did not come up:\n{log[-3000:]}")
        time.sleep(0.2)


# --- The browser -----------------------------------------------------------------

@pytest.fixture(scope="session")
def chromium():
    """One headless Chromium for the whole session; each test gets its own context."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed in this virtualenv (pip install -r requirements.txt)")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing (apt-get install chromium)")
    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         headless=True)
    yield browser
    browser.close()
    playwright.stop()


@dataclass
class _Problems:
    """What went wrong in a page, and which HTTP error statuses the test expects."""
    expected: set = field(default_factory=set)
    found: list = field(default_factory=list)

    def console(self, message):
        if message.type != "error":
            return
        status = STATUS_LINE.match(message.text)
        if status and int(status.group(1)) in self.expected:
            return
        self.found.append(f"console error: {message.text} ({message.location.get('url')})")

    def request_failed(self, request):
        # Chrome fetches the favicon on its own and aborts it when the test navigates on:
        # not a failure of the app.
        if request.failure == "net::ERR_ABORTED" and request.url.endswith("/favicon.svg"):
            return
        self.found.append(f"request failed: {request.method} {request.url}: {request.failure}")


_PROBLEMS = {}


def expect_status(page, *statuses):
    """Declare HTTP error statuses this test provokes, so Chrome's log of them is fine."""
    _PROBLEMS[page].expected.update(statuses)


@pytest.fixture
def browser_page(chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = _PROBLEMS[page] = _Problems()
    page.on("console", problems.console)
    page.on("pageerror", lambda error: problems.found.append(f"uncaught JS error: {error}"))
    page.on("requestfailed", problems.request_failed)
    try:
        yield page
    finally:
        context.close()
        del _PROBLEMS[page]
    assert not problems.found, "the browser reported:\n" + "\n".join(problems.found)


# --- Helpers -----------------------------------------------------------------------

def login(page, base_url, login, password):
    """Log in through the form; the caller asserts where it lands."""
    page.goto(base_url + "/login")
    page.fill("#login", login)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form.stacked button[type=submit]")


def shot(page, name):
    """A full-page screenshot in test-artifacts/screenshots/<name>.png (for humans)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
