"""A real uWSGI server (wsgi.ini) over a MariaDB database loaded from Dolibarr's dump.

Used by ``make stress`` and by the fast live tests; tests/browser.py's ``live_server``
(SQLite) is left as it is.
"""
import http.cookiejar
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pymysql

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AUTOCONTACT_SHARED", ROOT.parent / "shared")) / "dolibarr"
DUMP_23 = SHARED / "dolibarr-23.0.0-subset.sql"
MYSQL_URL = os.environ.get("AUTOCONTACT_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
ADMIN_LOGIN, ADMIN_PASSWORD = "admin", "admin"   # the dump's superadmin (documented password)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MariaDB:
    """A MariaDB server: creates and drops databases loaded from Dolibarr's dump."""

    def __init__(self, url=MYSQL_URL):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 3306
        self.user, self.password = parts.username or "root", parts.password or ""

    def url(self, name):
        credentials = self.user + (f":{self.password}" if self.password else "")
        return f"mysql://{credentials}@{self.host}:{self.port}/{name}"

    def connect(self, database=None, **kwargs):
        return pymysql.connect(host=self.host, port=self.port, user=self.user,
                               password=self.password, database=database, autocommit=True,
                               charset="utf8mb4", **kwargs)

    def execute(self, sql, database=None, params=None):
        connection = self.connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()
        finally:
            connection.close()

    def create(self, dump=DUMP_23, label="acstress"):
        name = f"{label}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        command = ["mariadb", f"--host={self.host}", f"--port={self.port}",
                   f"--user={self.user}", name]
        env = dict(os.environ, MYSQL_PWD=self.password)
        try:
            subprocess.run(command, input=Path(dump).read_text(), text=True, check=True,
                           env=env, capture_output=True)
        except BaseException:
            self.drop(name)
            raise
        return name

    def drop(self, name):
        self.execute(f"DROP DATABASE IF EXISTS `{name}`")


def _binary(name):
    """A MariaDB server program: on PATH, or in /usr/sbin (not on a user's PATH)."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin:/usr/bin")
    return found


class PrivateMariaDB(MariaDB):
    """A MariaDB server of our own — its own datadir, socket, pid file and free port —
    that a scenario may stop, kill and start again. The shared server of
    AUTOCONTACT_TEST_MYSQL_URL is never touched. ``with PrivateMariaDB(dir) as server``
    stops it (SIGKILL if it does not stop) and removes its datadir whatever happens."""

    def __init__(self, workdir):
        self.workdir = Path(workdir)
        self.datadir = self.workdir / "data"
        self.error_log = self.workdir / "error.log"
        self.process = None
        super().__init__(f"mysql://root@127.0.0.1:{free_port()}")

    @staticmethod
    def unavailable_reason():
        missing = [name for name in ("mariadbd", "mariadb-install-db") if not _binary(name)]
        if missing:
            return f"{' and '.join(missing)} not found (apt-get install mariadb-server)"
        return None

    def __enter__(self):
        try:
            self.install()
            self.start()
        except BaseException:
            self.destroy()
            raise
        return self

    def __exit__(self, *exc_info):
        self.destroy()

    def install(self):
        """An empty server: system tables only (no test database)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        subprocess.run([_binary("mariadb-install-db"), "--no-defaults",
                        f"--datadir={self.datadir}", "--user=root", "--skip-test-db",
                        "--auth-root-authentication-method=normal"],
                       check=True, capture_output=True, text=True, timeout=120)

    def start(self, timeout=120):
        """Start the server on the same datadir and port; seconds until it answers."""
        began = time.monotonic()
        with open(self.error_log, "a") as log:
            self.process = subprocess.Popen(
                [_binary("mariadbd"), "--no-defaults", f"--datadir={self.datadir}",
                 f"--socket={self.workdir / 'sock'}", f"--pid-file={self.workdir / 'pid'}",
                 f"--port={self.port}", "--bind-address=127.0.0.1", f"--tmpdir={self.workdir}",
                 "--user=root", "--skip-grant-tables", "--skip-name-resolve",
                 "--character-set-server=utf8mb4", "--collation-server=utf8mb4_general_ci",
                 "--innodb-buffer-pool-size=256M", f"--log-error={self.error_log}"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        while True:
            try:
                self.execute("SELECT 1")
                return time.monotonic() - began
            except pymysql.MySQLError:
                pass
            if self.process.poll() is not None or time.monotonic() - began > timeout:
                self.stop("kill")
                raise RuntimeError(f"the private mariadbd did not start:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self, how="term", timeout=300):
        """Stop the server: ``term`` (SIGTERM, a clean shutdown) or ``kill`` (SIGKILL, a
        crash: InnoDB recovers at the next start). Seconds until it was gone."""
        began = time.monotonic()
        if self.process is None or self.process.poll() is not None:
            return 0.0
        self.process.send_signal(signal.SIGTERM if how == "term" else signal.SIGKILL)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return time.monotonic() - began

    def destroy(self):
        """Stop the server (killed if need be) and remove its datadir."""
        try:
            self.stop("term", timeout=60)
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_tail(self, lines=20):
        try:
            return "\n".join(self.error_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def unavailable_reason(server=None):
    """Why the live MariaDB scenarios cannot run here, or None."""
    server = server or MariaDB()
    try:
        server.execute("SELECT 1")
    except pymysql.MySQLError as error:
        return f"MariaDB unreachable at {MYSQL_URL}: {error}"
    if shutil.which("mariadb") is None:
        return "the mariadb client is needed to load Dolibarr's dump (apt-get install mariadb-client)"
    if not DUMP_23.exists():
        return f"Dolibarr dump not found at {DUMP_23}"
    if not Path(sys.executable).with_name("uwsgi").exists():
        return "uwsgi is not installed in this virtualenv (pip install -r requirements.txt)"
    return None


@dataclass
class LiveServer:
    base_url: str
    log: Path
    process: subprocess.Popen

    def url(self, path="/"):
        return self.base_url + path

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def start_uwsgi(database_url, workdir, **environ):
    """uWSGI with wsgi.ini on a free port over ``database_url``; waits for /healthz."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = dict(os.environ, AUTOCONTACT_BIND=f"127.0.0.1:{port}",
               AUTOCONTACT_DATABASE_URL=database_url, SECRET_KEY="stress-secret",
               AUTOCONTACT_INSTANCE_PATH=str(workdir / "instance"), **environ)
    env.pop("AUTOCONTACT_DOLIBARR_CONF", None)
    log = workdir / "uwsgi.log"
    binary = Path(sys.executable).with_name("uwsgi")
    process = subprocess.Popen(
        [str(binary), "--ini", str(ROOT / "wsgi.ini"), "--home", sys.prefix, "--logto", str(log)],
        cwd=workdir, env=env, start_new_session=True)
    server = LiveServer(f"http://127.0.0.1:{port}", log, process)
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(server.url("/healthz"), timeout=5) as response:
                if response.status == 200:
                    return server
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"uWSGI did not come up:\n{server.log_text()[-3000:]}")
        time.sleep(0.2)


class Client:
    """A browser-like HTTP client: its own cookies, the CSRF token the pages carry."""

    CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')

    def __init__(self, base_url, timeout=130):
        self.base_url, self.timeout = base_url, timeout
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirect())
        self.token = None

    def request(self, method, path, body=None, headers=None, form=None):
        """(status, headers, text); never raises on an HTTP status."""
        headers = dict(headers or {})
        data = None
        if form is not None:
            from urllib.parse import urlencode
            data = urlencode(form, doseq=True).encode()
            headers.setdefault("Content-Type", "application/x-www-form-urlencoded")
        elif body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        if self.token and method not in ("GET", "HEAD"):
            headers.setdefault("X-CSRFToken", self.token)
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers=headers)
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                return response.status, response.headers, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read().decode("utf-8", "replace")

    def json(self, method, path, body=None):
        status, _, text = self.request(method, path, body)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, {"raw": text[:500]}

    def login(self, login=ADMIN_LOGIN, password=ADMIN_PASSWORD):
        _, _, page = self.request("GET", "/login")
        token = self.CSRF.search(page).group(1)
        status, headers, _ = self.request("POST", "/login", form={
            "login": login, "password": password, "csrf_token": token})
        if status != 302:
            raise RuntimeError(f"login as {login} failed: {status}")
        _, _, page = self.request("GET", "/journal")
        self.token = self.CSRF.search(page).group(1)
        return self


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
