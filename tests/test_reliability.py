"""Reliability (issue #11): deadlocks, lock waits, killed connections, concurrent clients.

Database trouble is a 409 or a 503 that says nothing was applied, never a 500; the
tables are exactly as before; the next request works without restarting anything.
The long versions of these scenarios run in ``make stress`` (python -m stress).
"""
import concurrent.futures
import logging
import re
import shutil
import threading
import time

import pytest
from peewee import InterfaceError, OperationalError, ProgrammingError

from autocontact.dolibarr import models
from autocontact.services import salesreps as salesreps_service
from autocontact.web import errors
from stress import checks, concurrency, live

from conftest import AuthActions, People, make_app

RELEVANT = ["llx_societe_commerciaux", "llx_element_contact", "llx_const", "llx_actioncomm",
            "llx_autocontact_batch", "llx_autocontact_batch_salesrep",
            "llx_autocontact_batch_contact", "llx_autocontact_batch_selection",
            "llx_autocontact_batch_setting"]


# --- every backend: database errors become clear 409/503, bugs stay 500s -------------

@pytest.fixture
def editor_client(client, login_as):
    login_as("admin")
    return client


def _failing(monkeypatch, error, times=None):
    """Make salesreps.run raise ``error`` (``times`` times, then work)."""
    real = salesreps_service.run
    calls = {"n": 0}

    def run(*args, **kwargs):
        calls["n"] += 1
        if times is None or calls["n"] <= times:
            raise error
        return real(*args, **kwargs)
    monkeypatch.setattr(salesreps_service, "run", run)
    return calls


def _target():
    tid = models.Thirdparty.select().where(models.Thirdparty.entity == 1).first().rowid
    user = models.User.select().where(models.User.statut == 1, models.User.fk_soc.is_null(),
                                      models.User.entity.in_((0, 1))).first().rowid
    return tid, user


def _assign(client, db, **extra):
    tid, user = _target()
    return client.post("/api/salesreps", json={"action": "assign", "thirdparty_ids": [tid],
                                               "user_ids": [user], **extra})


def _assign_form(client):
    tid, user = _target()
    return client.post("/thirdparties/mass/assign/apply",
                       data={"ids": [str(tid)], "user_ids": [str(user)]})


@pytest.mark.parametrize("error, status, retry_after", [
    (OperationalError(1213, "Deadlock found when trying to get lock"), 409, "1"),
    (OperationalError(1467, "Failed to read auto-increment value from storage engine"), 409, "1"),
    (OperationalError(1205, "Lock wait timeout exceeded"), 503, "5"),
    (OperationalError(2013, "Lost connection to MySQL server during query"), 503, "5"),
    (OperationalError(1927, "Connection was killed"), 503, "5"),
    (InterfaceError(0, ""), 503, "5"),
    (OperationalError("database is locked"), 503, "5"),
])
def test_database_trouble_is_a_clear_409_or_503(editor_client, db, monkeypatch, error, status,
                                                 retry_after):
    calls = _failing(monkeypatch, error)
    response = _assign(editor_client, db)
    assert response.status_code == status
    body = response.get_json()
    assert "Nothing was applied" in body["error"] and body["retry"] is True
    assert response.headers["Retry-After"] == retry_after
    assert errors.RETRY_HEADER not in response.headers
    # Deadlocks are replayed by the server (4 attempts in all), nothing else is.
    assert calls["n"] == (4 if status == 409 else 1)
    page = _assign_form(editor_client)
    assert page.status_code == status and page.mimetype == "text/html"
    assert "Nothing was applied" in page.get_data(as_text=True)
    assert editor_client.get("/api/me").status_code == 200


def test_a_deadlock_is_retried_with_the_same_body(editor_client, db, monkeypatch, caplog):
    calls = _failing(monkeypatch, OperationalError(1213, "Deadlock found"), times=2)
    with caplog.at_level(logging.WARNING):
        response = _assign(editor_client, db)
    assert response.status_code == 200 and response.get_json()["batch_id"]
    assert calls["n"] == 3
    assert sum("retrying" in record.getMessage() for record in caplog.records) == 2


def test_a_programming_error_stays_a_500(editor_client, db, monkeypatch):
    """A bug in our SQL must not be disguised as contention."""
    calls = _failing(monkeypatch, ProgrammingError(1064, "You have an error in your SQL syntax"))
    response = _assign(editor_client, db)
    assert response.status_code == 500 and calls["n"] == 1
    assert "Traceback" not in response.get_data(as_text=True)


def test_error_page_renders_even_when_the_page_needs_the_database(editor_client, db,
                                                                   monkeypatch):
    monkeypatch.setattr(errors, "render_template",
                        lambda *a, **k: (_ for _ in ()).throw(InterfaceError(0, "")))
    _failing(monkeypatch, InterfaceError(0, ""))
    response = _assign_form(editor_client)
    assert response.status_code == 503
    assert "<h1>503</h1>" in response.get_data(as_text=True)


@pytest.mark.parametrize("body", [b"[" * 50_000 + b"]" * 50_000,
                                  b'{"a": ' * 20_000 + b"1" + b"}" * 20_000])
def test_deeply_nested_json_is_a_400(editor_client, db, body):
    """json.loads raises RecursionError, which get_json(silent=True) does not catch."""
    for path in ("/api/salesreps", "/api/documents/sync", "/api/settings", "/login"):
        method = "PUT" if path == "/api/settings" else "POST"
        response = editor_client.open(path, method=method, data=body,
                                      content_type="application/json")
        assert response.status_code == 400, path


@pytest.mark.parametrize("body", [b"[1]", b"1", b'"x"', b"null", b'[["a", "b"]]'])
def test_login_with_a_json_body_is_a_400_not_a_500(client, body):
    response = client.post("/login", data=body, content_type="application/json")
    assert response.status_code == 400


def test_bodies_over_the_limit_are_413_and_change_nothing(editor_client, db):
    before = _snapshot(db)
    body = b'{"action": "assign", "thirdparty_ids": [' + b"1," * 1_100_000 + b"1]}"
    response = editor_client.post("/api/salesreps", data=body, content_type="application/json")
    assert response.status_code == 413 and "too large" in response.get_json()["error"]
    page = editor_client.post("/thirdparties/mass/assign/apply",
                              data={"ids": ["1"] * 400_000})
    assert page.status_code == 413
    assert _snapshot(db) == before


def _snapshot(db):
    return {table: sorted(map(repr, db.execute_sql(f"SELECT * FROM {table}").fetchall()))
            for table in RELEVANT if table != "llx_actioncomm"}


# --- MariaDB: the real thing, deterministically ----------------------------------------

@pytest.fixture
def maria(mariadb, mariadb_database, tmp_path, password_hash):
    """An app on a fresh copy of the dump, its editor client, and a second session ``x``."""
    name = mariadb_database.rsplit("/", 1)[1]
    app = make_app(mariadb_database, tmp_path)
    state = {"lock_wait": None}

    @app.before_request
    def lock_wait():   # 50 s by default; a test may make it short
        if state["lock_wait"]:
            app.extensions["autocontact.db"].execute_sql(
                f"SET SESSION innodb_lock_wait_timeout = {int(state['lock_wait'])}")

    People(app, password_hash).user("reliability.boss", admin=1)
    client = app.test_client()
    # One thread runs every request, so "the next request" reuses that thread's
    # connection state: recovering means really recovering, not a fresh thread.
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    pool.submit(lambda: AuthActions(client).login("reliability.boss")).result()
    x = mariadb.connect(name)
    link = checks.rows(x, "SELECT sc.fk_soc, sc.fk_user FROM llx_societe_commerciaux sc "
                          "JOIN llx_user u ON u.rowid = sc.fk_user WHERE u.statut = 1 "
                          "ORDER BY sc.rowid LIMIT 1")[0]
    yield {"app": app, "client": client, "pool": pool, "x": x, "name": name, "server": mariadb,
           "tid": link[0], "rep": link[1], "state": state}
    x.close()
    pool.shutdown(wait=True)
    database = app.extensions["autocontact.db"]
    if not database.is_closed():
        database.close()


def _unassign(maria):
    return maria["client"].post("/api/salesreps", json={
        "action": "unassign", "thirdparty_ids": [maria["tid"]], "user_ids": [maria["rep"]]})


def _waiting_thread(maria, future, timeout=20):
    """The connection id of the app's statement waiting for our lock."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if future.done():
            raise AssertionError(f"the request ended without waiting: {future.result().json}")
        # Only this test's database (other tests share the server): the journal statement
        # that reads the links x holds, stuck behind x's lock.
        found = checks.rows(maria["x"], "SELECT id FROM information_schema.processlist "
                                        "WHERE db = %s AND command = 'Query' AND info LIKE "
                                        "'INSERT INTO `llx_autocontact_batch_salesrep`%%'",
                                        (maria["name"],))
        if found:
            time.sleep(0.3)
            return found[0][0]
        time.sleep(0.05)
    raise AssertionError("the app's operation never waited for the lock: " + repr(checks.rows(
        maria["x"], "SELECT id, command, state, info FROM information_schema.processlist "
                    "WHERE db = %s", (maria["name"],))))


def _lock_links(maria):
    x = maria["x"]
    x.begin()
    checks.rows(x, "SELECT * FROM llx_societe_commerciaux WHERE fk_soc = %s FOR UPDATE",
                (maria["tid"],))


@pytest.mark.parametrize("kill", ["KILL", "KILL QUERY"])
def test_connection_killed_mid_operation(maria, kill):
    """KILL from another session while the operation holds half of its statements:
    a clear 503, nothing of it in the tables, the next request works, it can be rerun."""
    before = checks.checksums(maria["x"], RELEVANT)
    _lock_links(maria)
    future = maria["pool"].submit(_unassign, maria)
    victim = _waiting_thread(maria, future)
    killer = maria["server"].connect(maria["name"])
    try:
        checks.rows(killer, f"{kill} {int(victim)}")
    finally:
        killer.close()
    maria["x"].rollback()
    response = future.result(timeout=30)
    assert response.status_code == 503
    assert "connection to the Dolibarr database was lost" in response.get_json()["error"]
    assert checks.checksums(maria["x"], RELEVANT) == before
    # The same worker thread goes on working, and the operation can be run again.
    assert maria["pool"].submit(maria["client"].get, "/api/me").result().status_code == 200
    again = maria["pool"].submit(_unassign, maria).result(timeout=30)
    assert again.status_code == 200 and again.get_json()["links_removed"] == 1


def test_lock_wait_timeout_is_a_503_then_works(maria):
    maria["state"]["lock_wait"] = 1
    before = checks.checksums(maria["x"], RELEVANT)
    _lock_links(maria)
    try:
        response = maria["pool"].submit(_unassign, maria).result(timeout=30)
    finally:
        maria["x"].rollback()
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert "another operation" in response.get_json()["error"]
    assert checks.checksums(maria["x"], RELEVANT) == before
    again = maria["pool"].submit(_unassign, maria).result(timeout=30)
    assert again.status_code == 200 and again.get_json()["links_removed"] == 1


def test_a_real_deadlock_is_retried_and_applied_once(maria, caplog):
    """Another session holds the links and then wants the app's new journal row: InnoDB
    rolls back the lighter transaction (the app's), which the server replays."""
    x = maria["x"]
    checks.rows(x, "CREATE TABLE scratch (id INT PRIMARY KEY, v INT) ENGINE=InnoDB")
    last = checks.rows(x, "SELECT COALESCE(MAX(id), 0) FROM llx_autocontact_batch")[0][0]
    _lock_links(maria)
    checks.rows(x, "INSERT INTO scratch SELECT seq, seq FROM seq_1_to_5000")   # x is heavier
    with caplog.at_level(logging.WARNING):
        future = maria["pool"].submit(_unassign, maria)
        _waiting_thread(maria, future)
        # Now x waits for the app's journal row while the app waits for x: a deadlock.
        checks.rows(x, "SELECT id FROM llx_autocontact_batch WHERE id > %s FOR UPDATE", (last,))
        x.rollback()
        response = future.result(timeout=60)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["links_removed"] == 1
    assert any("deadlock" in r.getMessage() and "retrying" in r.getMessage()
               for r in caplog.records)
    batches = checks.rows(x, "SELECT links_removed FROM llx_autocontact_batch WHERE id > %s",
                          (last,))
    assert batches == ((1,),)   # applied once, journaled once


# --- a real uWSGI server over MariaDB, several clients at once ---------------------------

@pytest.fixture
def live_mariadb(mariadb, tmp_path):
    """uWSGI (wsgi.ini) over a fresh MariaDB copy of the dump: (server, connection)."""
    reason = live.unavailable_reason()
    if reason:
        from conftest import IN_CI
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    server = live.MariaDB()
    name = server.create(label="actest_live")
    uwsgi = None
    try:
        uwsgi = live.start_uwsgi(server.url(name), tmp_path / "uwsgi")
        connection = server.connect(name)
        yield uwsgi, connection
        connection.close()
    finally:
        if uwsgi is not None:
            uwsgi.stop()
        server.drop(name)


def test_concurrent_clients_on_overlapping_thirdparties(live_mariadb):
    """A short run of the stress scenario: 4 clients, 6 seconds (make stress: 8 for 60 s)."""
    uwsgi, connection = live_mariadb
    figures = concurrency.run(uwsgi, connection, clients=4, seconds=6, seed=3)
    assert figures["problems"] == [], figures
    assert figures["http_500"] == 0 and figures["lost_or_duplicated_rows"] == 0
    assert figures["batches_applied"] > 5 and figures["rows_checked"] > 0


# --- MariaDB restarted during a background job (a private server) ------------------------

@pytest.fixture
def private_mariadb(tmp_path):
    """A MariaDB server of the test's own, loaded with the dump: it may be restarted."""
    from conftest import DUMP_23, IN_CI
    reason = live.PrivateMariaDB.unavailable_reason()
    if shutil.which("mariadb") is None:
        reason = "the mariadb client is needed to load Dolibarr's dump"
    if not DUMP_23.exists():
        reason = f"Dolibarr dump not found at {DUMP_23}"
    if reason:
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    with live.PrivateMariaDB(tmp_path / "mariadb") as server:   # stopped and removed after
        yield server, server.create(label="actest_restart")


def _job_thread(job_id):
    for thread in threading.enumerate():
        if thread.name == f"autocontact-job-{job_id}":
            return thread
    return None


@pytest.mark.uses_mariadb
def test_mariadb_restarted_during_a_background_job(private_mariadb, tmp_path, monkeypatch):
    """The server is killed (SIGKILL: crash recovery) while a job's transaction changes
    contacts: nothing of it is in the tables, the job ends failed with its message, the
    app answers 503 while the server is down and 200 after, without restarting, and the
    same operation then succeeds. (make stress: uWSGI, SIGTERM and SIGKILL.)"""
    from autocontact.services import jobs
    from stress import faults, restart
    server, name = private_mariadb
    app = make_app(server.url(name), tmp_path, AUTOCONTACT_BACKGROUND_ROWS="100")
    x = server.connect(name)
    body = faults.enlarge(x, documents=20_000)
    tid = body["thirdparty_ids"][0]
    before = checks.checksums(x, faults.TABLES)
    ours = checks.rows(x, "SELECT CONNECTION_ID()")[0][0]
    x.close()
    client = app.test_client()
    assert AuthActions(client).login(live.ADMIN_LOGIN, live.ADMIN_PASSWORD).status_code == 302
    form = {"date_from": body["date_from"], "date_to": body["date_to"],
            "doc_types": body["doc_types"], "mode": "sync", "statuses": "all",
            "predicted": "40000"}
    started = client.post(f"/thirdparties/{tid}/documents/apply", data=form,
                          headers={"HX-Request": "true"})
    job_id = int(restart.JOB.search(started.get_data(as_text=True)).group(1))
    thread = _job_thread(job_id)
    assert thread is not None, "the operation did not run as a background job"
    # Wait until the job writes (its transaction holds changes), then kill the server.
    x = server.connect(name)
    deadline = time.monotonic() + 20
    while not checks.rows(x, "SELECT id FROM information_schema.processlist WHERE db = %s "
                             "AND id <> %s AND (info LIKE 'DELETE%%' OR info LIKE 'INSERT%%')",
                          (name, ours)):
        assert thread.is_alive() and time.monotonic() < deadline, "the job never wrote"
        time.sleep(0.01)
    x.close()
    server.stop("kill")
    down = client.get("/api/me")
    assert down.status_code == 503 and "cannot be reached" in down.get_json()["error"]
    server.start()
    thread.join(60)
    assert not thread.is_alive()
    # Its worker is alive but its heartbeat stops: readers mark it after STALE_AFTER_SECONDS.
    monkeypatch.setattr(jobs, "STALE_AFTER_SECONDS", 1)
    deadline = time.monotonic() + 20
    while True:
        fragment = client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"})
        assert fragment.status_code == 200
        text = fragment.get_data(as_text=True)
        if 'hx-get="/jobs/' not in text or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert "message-error" in text and "nothing was changed" in text
    x = server.connect(name)
    assert checks.rows(x, "SELECT state, batch_id FROM llx_autocontact_job WHERE id = %s",
                       (job_id,)) == (("failed", None),)
    assert checks.checksums(x, faults.TABLES) == before
    x.close()
    monkeypatch.undo()
    assert client.get("/api/me").status_code == 200   # the same app, not restarted
    again = client.post(f"/thirdparties/{tid}/documents/apply", data=form,
                        headers={"HX-Request": "true"})
    rerun = int(restart.JOB.search(again.get_data(as_text=True)).group(1))
    _job_thread(rerun).join(60)
    done = client.get(f"/jobs/{rerun}", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "message-success" in done, done
    updated = re.search(r"([\d,]+) documents updated", done).group(1)
    assert int(updated.replace(",", "")) >= 20_000, done
