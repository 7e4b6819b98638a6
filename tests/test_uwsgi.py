"""wsgi.ini serves the app under uWSGI: a smoke test on a free port."""
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import IN_CI, ROOT
from test_foundation import free_port


def uwsgi_binary():
    candidate = Path(sys.executable).with_name("uwsgi")
    return str(candidate) if candidate.exists() else None


@pytest.fixture
def uwsgi_server(tmp_path):
    binary = uwsgi_binary()
    if binary is None:
        message = "uwsgi is not installed in this virtualenv (pip install -r requirements.txt)"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    port = free_port()
    env = dict(os.environ, AUTOCONTACT_BIND=f"127.0.0.1:{port}",
               AUTOCONTACT_INSTANCE_PATH=str(tmp_path / "instance"))
    for name in ("AUTOCONTACT_DATABASE_URL", "AUTOCONTACT_DOLIBARR_CONF", "SECRET_KEY"):
        env.pop(name, None)
    log = tmp_path / "uwsgi.log"
    process = subprocess.Popen(
        [binary, "--ini", str(ROOT / "wsgi.ini"), "--home", sys.prefix, "--logto", str(log)],
        cwd=tmp_path, env=env, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"uWSGI did not come up:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield base, log
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def fetch(url):
    request = urllib.request.Request(url)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.headers, response.read().decode()


def test_uwsgi_serves_healthz_login_and_static(uwsgi_server):
    import json
    base, log = uwsgi_server
    status, _, body = fetch(base + "/healthz")
    health = json.loads(body)
    assert status == 200 and health["database"]["demo"] is True
    assert health["dolibarr"]["tables_missing"] == []
    # "/" sends an anonymous visitor to the login page, which shows the demo logins.
    status, headers, body = fetch(base + "/")
    assert status == 200 and "Log in" in body and "Demo logins" in body
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    status, _, body = fetch(base + "/static/vendor/htmx-2.0.8.min.js")
    assert status == 200 and "htmx" in body
    text = log.read_text()
    assert "spawned uWSGI worker 4" in text  # several processes, as configured
    assert "Traceback" not in text
