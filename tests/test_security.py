"""Security (issue #11): CSRF on every write, roles on every route, inert hostile data
(pages, previews, CSV), SQL metacharacters in every filter, redirects, session, headers.

Already covered elsewhere (see docs/reliability.md): login throttling (test_auth.py,
test_auth_ldap.py), LDAP filter injection (test_ldap_auth.py, test_auth_ldap.py), write
routes below their role (test_permissions.py), search metacharacters in the service
(test_thirdparty_filter.py), CSV formulas in a thirdparty name (test_journal.py).
"""
import csv
import io
import re

import pytest

from autocontact.dolibarr import models

from conftest import PASSWORD, AuthActions, html
from test_permissions import RANK, SAMPLE_ARGUMENTS, WRITE_METHODS, snapshot

XSS = '"><script>alert(1)</script><img src=x onerror=f()>'   # fits Dolibarr's 50
FORMULA = "=HYPERLINK(\"http://evil.example\",\"x\")"


def all_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method, getattr(view, "required_role", None)


def url_of(rule):
    return rule.build({name: SAMPLE_ARGUMENTS.get(name, "1") for name in rule.arguments})[1]


# --- CSRF --------------------------------------------------------------------------

def test_every_cookie_authenticated_write_without_a_valid_token_is_refused(app, client,
                                                                          login_as, db):
    login_as("admin")
    other = app.test_client()
    foreign_token = other.csrf_token()   # valid, but for another session
    before = snapshot()
    checked = 0
    for rule, method, _ in all_routes(app):
        if method not in WRITE_METHODS:
            continue
        url = url_of(rule)
        for headers in ({}, {"X-CSRFToken": "forged"}, {"X-CSRFToken": foreign_token}):
            for body in ({"json": {"action": "clear", "filter": {}, "allow_remove_all": True}},
                         {"data": {"allow_remove_all": "1", "csrf_token": "forged"}}):
                response = client.open(url, method=method, headers=headers, csrf=False, **body)
                assert response.status_code == 400, (method, url, headers, body)
                checked += 1
    assert checked >= 6 * 10
    assert snapshot() == before
    assert client.get("/api/me").status_code == 200   # still logged in: logout was refused too


def test_api_basic_credentials_with_a_form_body_still_need_the_token(app, client, people, db):
    """Basic skips CSRF only for JSON bodies, which a cross-site form cannot send."""
    import base64
    people.user("script.boss", admin=1)
    basic = {"Authorization": "Basic " + base64.b64encode(
        f"script.boss:{PASSWORD}".encode()).decode()}
    before = snapshot()
    for url, method in (("/api/salesreps", "POST"), ("/api/settings", "PUT"),
                        ("/api/documents/sync", "POST"), ("/api/batches/1/undo", "POST")):
        for content_type in ("application/x-www-form-urlencoded", "text/plain",
                             "multipart/form-data"):
            response = client.open(url, method=method, headers=basic, csrf=False,
                                   data="{}", content_type=content_type)
            assert response.status_code == 400, (url, content_type)
    assert snapshot() == before


# --- roles on every route, reads included ---------------------------------------------

@pytest.mark.parametrize("role", ["viewer", "editor"])
def test_every_route_above_the_role_is_refused_reads_included(app, client, login_as, db, role):
    login_as(role)
    before = snapshot()
    refused = []
    for rule, method, required in all_routes(app):
        if required is None or RANK[required] <= RANK[role]:
            continue
        response = client.open(url_of(rule), method=method, json={}, query_string={"ids": "1"})
        assert response.status_code == 403, (method, rule.rule)
        refused.append((method, rule.rule))
    assert any(method == "GET" for method, _ in refused)
    api_settings = client.get("/api/settings")
    assert api_settings.status_code == (403 if role == "viewer" else 200)
    assert snapshot() == before


# --- hostile data stored in Dolibarr is inert everywhere ---------------------------------

@pytest.fixture
def hostile(app, db, people, scenario):
    """Script, HTML and formulas in every name the screens show."""
    tid = scenario["tid"]
    models.Thirdparty.update(name=f"{FORMULA}{XSS}", name_alias=XSS, town="@<img src=x onerror=f()>",
                             code_client=f"+{XSS}"[:24]).where(
        models.Thirdparty.rowid == tid).execute()
    for element in ("propal", "commande", "facture"):
        model = models.DOCUMENT_MODELS[element]
        for (rowid,) in model.select(model.rowid).where(model.fk_soc == tid).tuples():
            model.update({model.ref: f"-{rowid}<script>x</script>"}).where(
                model.rowid == rowid).execute()
    models.User.update(firstname=f"={XSS}"[:50], lastname=XSS).where(
        models.User.rowid == scenario["b"]).execute()
    group = people.group(f"={XSS}")
    return {**scenario, "group": group}


def assert_inert(response, where):
    """No script, event handler or javascript: URL came from the data."""
    page = html(response)
    for script in page.find_all("script"):
        assert script.get("src", "").startswith("/static/"), (where, str(script)[:200])
    for element in page.find_all(True):
        for name, value in element.attrs.items():
            assert not name.lower().startswith(("on", "hx-on")), (where, name, str(element)[:200])
            text = " ".join(value) if isinstance(value, list) else str(value)
            if name in ("href", "src", "action", "hx-get", "hx-post", "formaction"):
                assert not text.strip().lower().startswith("javascript:"), (where, text)
    return page


def test_script_and_html_in_dolibarr_data_are_inert_everywhere(app, client, login_as, db,
                                                                hostile):
    from autocontact.services import settings as settings_service
    settings_service.write_constants(1, {settings_service.EDITOR_GROUPS: f"[{hostile['group']}]"})
    login_as("admin")
    tid = hostile["tid"]
    batch = client.post("/api/salesreps", json={
        "action": "transfer", "thirdparty_ids": [tid], "from_user_id": hostile["b"],
        "to_user_id": hostile["a"], "documents": {
            "date_from": "2000-01-01", "date_to": "2030-12-31",
            "doc_types": ["propal", "commande", "facture"]}}).get_json()["batch_id"]
    undo_back = client.post(f"/api/batches/{batch}/undo", json={}).get_json()["batch_id"]
    documents = {"date_from": "2000-01-01", "date_to": "2030-12-31",
                 "doc_types": ["propal", "commande", "facture"], "mode": "sync"}
    pages = {
        "home": client.get("/"),
        "list": client.get("/thirdparties"),
        "search": client.get("/thirdparties", query_string={"q": XSS[:60]}),
        "list fragment": client.get("/thirdparties", headers={"HX-Request": "true"}),
        "card": client.get(f"/thirdparties/{tid}"),
        "documents dialog": client.get(f"/thirdparties/{tid}/documents"),
        "documents preview": client.post(f"/thirdparties/{tid}/documents/preview",
                                         data=documents, headers={"HX-Request": "true"}),
        "mass dialog": client.get("/thirdparties/mass/assign", query_string={"ids": tid}),
        "mass preview": client.post("/thirdparties/mass/unassign/preview", data={
            "ids": [tid], "user_ids": [hostile["a"]]}, headers={"HX-Request": "true"}),
        "journal": client.get("/journal"),
        "batch": client.get(f"/journal/{batch}"),
        "undo batch": client.get(f"/journal/{undo_back}"),
        "undo preview": client.post(f"/journal/{batch}/undo", headers={"HX-Request": "true"}),
        "setup": client.get("/setup"),
        "error echoing input": client.get("/thirdparties", query_string={"kind": XSS}),
        "journal error": client.get("/journal", query_string={"action": XSS}),
    }
    shown = 0
    for where, response in pages.items():
        assert response.status_code in (200, 400, 409), (where, response.status_code)
        page = assert_inert(response, where)
        shown += XSS in page.get_text()
    assert shown >= 8   # the names are there, as text
    for path in (f"/journal/{batch}.csv", f"/journal/{undo_back}.csv", "/journal/export.csv"):
        rows = list(csv.reader(io.StringIO(client.get(path).get_data(as_text=True))))
        cells = [cell for row in rows[1:] for cell in row]
        assert cells and not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], path
        if path != "/journal/export.csv":   # the batch rows name the thirdparty and the user
            assert any(cell.startswith("'=") for cell in cells), path
    api = client.get(f"/api/batches/{batch}")
    assert api.mimetype == "application/json" and api.headers["X-Content-Type-Options"] == "nosniff"


# --- SQL metacharacters in every search and filter ---------------------------------------

SQL = ["'", "\\", "%_", "' OR '1'='1", "1; DROP TABLE llx_societe --",
       "') UNION SELECT pass_crypted FROM llx_user --", "0x41"]


@pytest.mark.parametrize("text", SQL)
def test_sql_metacharacters_in_every_filter(client, login_as, db, text):
    login_as("admin")
    names = {row[0] for row in db.execute_sql("SELECT nom FROM llx_societe WHERE entity = 1")}
    before = snapshot()
    for key in ("q", "kind", "status", "rep", "sort", "page", "per_page"):
        response = client.get("/thirdparties", query_string={key: text})
        assert response.status_code in (200, 400), key
    for key in ("user", "action", "since", "until", "thirdparty_id", "page"):
        assert client.get("/journal", query_string={key: text}).status_code in (200, 400), key
        assert client.get("/api/batches", query_string={key: text}).status_code in (200, 400)
        assert client.get("/journal/export.csv", query_string={key: text}).status_code in (
            200, 400)
    for key in ("q", "kind", "status", "rep"):
        response = client.post("/api/salesreps", json={
            "action": "assign", "filter": {key: text}, "user_ids": [1], "dry_run": True})
        assert response.status_code in (200, 400), key
    found = client.get("/thirdparties", query_string={"q": text, "per_page": 100})
    listed = {td.get_text(strip=True) for td in html(found).select("tbody tr td a")}
    assert listed <= names | {""} or not listed
    assert snapshot() == before


# --- redirects, session ----------------------------------------------------------------

@pytest.mark.parametrize("target", [
    "///evil.example", "/\t/evil.example", "\t//evil.example", " //evil.example",
    "/\\/evil.example", "https:evil.example", "http:/evil.example", "//evil.example@x",
    "/%2F%2Fevil.example", "\u3000//evil.example", "/login?next=//evil.example",
    "data:text/html,<script>", "\r\nLocation: //evil.example",
])
def test_next_never_leaves_the_app(client, auth, people, target):
    people.user("mrossi")
    location = auth.login("mrossi", next_path=target).headers["Location"]
    assert location.startswith("/") and not location.startswith(("//", "/\\"))
    assert "\n" not in location and "\r" not in location
    assert re.match(r"^/[^/\\]", location) or location == "/"


def test_a_session_planted_before_login_does_not_survive_it(app, client, people):
    people.user("victim")
    with client.session_transaction() as session:   # what an attacker could have set
        session["_user_id"] = "999"
        session["planted"] = "attacker"
        session["auth_backend"] = "ldap"
    assert client.get("/api/me").status_code == 401   # a forged user id is not a login
    AuthActions(client).login("victim")
    with client.session_transaction() as session:
        assert "planted" not in session and session["auth_backend"] == "dolibarr"
    assert client.get("/api/me").get_json()["login"] == "victim"


# --- server-side sessions: logout ends every copy of the cookie ------------------------

def _copy_cookie(app, client):
    """Another browser holding a copy of ``client``'s session cookie (what someone could
    have saved from the network, a shared disk or the browser's profile)."""
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    return copy


def _sessions(user_id):
    from autocontact.dolibarr.tool_tables import LoginSession
    return list(LoginSession.select().where(LoginSession.user_id == user_id))


def test_a_cookie_saved_before_logout_is_refused_after_it(app, client, people, db):
    user_id = people.user("victim")
    AuthActions(client).login("victim")
    saved = _copy_cookie(app, client)
    assert saved.get("/api/me").get_json()["login"] == "victim"   # the copy works until…
    [row] = _sessions(user_id)
    assert client.get_cookie("session") and len(row.token) >= 40
    assert AuthActions(client).logout().status_code == 302
    assert _sessions(user_id) == []
    for browser in (saved, client, _copy_cookie(app, saved)):
        response = browser.get("/api/me")
        assert response.status_code == 401, response.get_data(as_text=True)
        assert response.get_json() == {"error": "Authentication required."}
        page = browser.get("/journal")
        assert page.status_code == 302 and page.headers["Location"].startswith("/login")
        fragment = browser.get("/thirdparties", headers={"HX-Request": "true"})
        assert fragment.status_code == 401 and fragment.headers["HX-Redirect"].startswith("/login")
    # A write with the copied cookie and its CSRF token goes to login, changes nothing.
    before = snapshot()
    response = saved.post("/api/salesreps", json={"action": "clear", "thirdparty_ids": [1],
                                                  "allow_remove_all": True})
    assert response.status_code == 401
    assert snapshot() == before


def test_sessions_are_independent_and_a_new_login_ends_the_browsers_previous_one(app, people,
                                                                               db):
    user_id = people.user("mrossi")
    office, laptop = app.test_client(), app.test_client()
    AuthActions(office).login("mrossi")
    AuthActions(laptop).login("mrossi")
    first = _copy_cookie(app, office)
    assert len(_sessions(user_id)) == 2
    AuthActions(office).login("mrossi")           # again in the same browser
    assert len(_sessions(user_id)) == 2
    assert first.get("/api/me").status_code == 401   # that browser's earlier session ended
    assert office.get("/api/me").status_code == 200
    AuthActions(office).logout()
    assert laptop.get("/api/me").get_json()["login"] == "mrossi"   # the other one goes on


def test_a_forged_or_foreign_session_token_signs_nobody_in(app, client, people, db):
    """Even with the cookie-signing key: the token must be a live row of that very user."""
    victim = people.user("victim", admin=1)
    people.user("intruder")
    intruder = app.test_client()
    AuthActions(intruder).login("intruder")
    with intruder.session_transaction() as session:
        own_token = session["auth_session"]
    for user_id, token in ((victim, own_token), (victim, "x" * 43), (victim, None),
                           (victim, ["a"]), (victim, "")):
        with client.session_transaction() as session:
            session.clear()
            session["_user_id"] = str(user_id)
            if token is not None:
                session["auth_session"] = token
        assert client.get("/api/me").status_code == 401, token
    assert intruder.get("/api/me").get_json()["login"] == "intruder"


def test_an_idle_session_ends_on_the_server_and_a_used_one_is_kept_alive(app, client, people,
                                                                        db):
    from datetime import datetime, timedelta

    from autocontact.dolibarr.tool_tables import LoginSession
    user_id = people.user("mrossi")
    AuthActions(client).login("mrossi")
    [row] = _sessions(user_id)
    twenty_minutes_ago = datetime.now().replace(microsecond=0) - timedelta(minutes=20)
    LoginSession.update(last_seen=twenty_minutes_ago).where(LoginSession.id == row.id).execute()
    assert client.get("/api/me").status_code == 200
    [row] = _sessions(user_id)
    assert row.last_seen > twenty_minutes_ago         # refreshed by use
    assert client.get("/api/me").status_code == 200   # (not at every request: every 10 min)
    LoginSession.update(last_seen=datetime.now() - timedelta(hours=8, minutes=1)).where(
        LoginSession.id == row.id).execute()
    assert client.get("/api/me").status_code == 401   # idle longer than the cookie's lifetime
    assert _sessions(user_id) == []
    # Logging in purges the rows of sessions left idle (browsers closed without logout).
    LoginSession.insert(token="stale", user_id=user_id, created_at=datetime(2020, 1, 1),
                        last_seen=datetime(2020, 1, 1)).execute()
    AuthActions(client).login("mrossi")
    assert [r.token for r in _sessions(user_id)] != ["stale"] and len(_sessions(user_id)) == 1


def test_api_basic_auth_needs_no_session_and_leaves_none(app, client, people, db):
    import base64
    user_id = people.user("script")
    basic = {"Authorization": "Basic " + base64.b64encode(f"script:{PASSWORD}".encode()).decode()}
    assert client.get("/api/me", headers=basic).get_json()["login"] == "script"
    assert _sessions(user_id) == []


def test_refreshing_a_session_never_waits_for_sqlites_writer_lock(sqlite_database, tmp_path,
                                                                  password_hash):
    """A long operation holds SQLite's only writer lock for minutes: requests that would
    refresh their session's last use go on at once (it is recorded later)."""
    import sqlite3
    import time
    from datetime import datetime, timedelta

    from autocontact.dolibarr.tool_tables import LoginSession

    from conftest import People, make_app
    app = make_app(sqlite_database, tmp_path)
    client = app.test_client()
    user_id = People(app, password_hash).user("mrossi")
    AuthActions(client).login("mrossi")
    old = datetime.now().replace(microsecond=0) - timedelta(minutes=30)
    LoginSession.update(last_seen=old).where(LoginSession.user_id == user_id).execute()
    writer = sqlite3.connect(sqlite_database.removeprefix("sqlite:///"), timeout=1,
                             isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")   # what a running operation holds
        began = time.monotonic()
        assert client.get("/api/me").status_code == 200
        assert time.monotonic() - began < 2
        assert _sessions(user_id)[0].last_seen == old
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert client.get("/api/me").status_code == 200
    assert _sessions(user_id)[0].last_seen > old


# --- headers on every kind of response -----------------------------------------------------

def test_security_headers_on_every_kind_of_response(app, client, login_as, db):
    login_as("admin")
    responses = {
        "page": client.get("/"), "fragment": client.get("/thirdparties",
                                                        headers={"HX-Request": "true"}),
        "json": client.get("/api/me"), "csv": client.get("/journal/export.csv"),
        "404": client.get("/nowhere"), "400": client.get("/thirdparties?kind=x"),
        "413": client.post("/api/salesreps", data=b"x" * (3 * 1024 * 1024),
                           content_type="application/json"),
        "api 401": app.test_client().get("/api/me"),
        "redirect": app.test_client().get("/journal"),
        "healthz": client.get("/healthz"),
    }
    for kind, response in responses.items():
        headers = response.headers
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"], kind
        assert headers["X-Content-Type-Options"] == "nosniff", kind
        assert headers["X-Frame-Options"] == "DENY", kind
        assert headers["Referrer-Policy"] == "same-origin", kind
        assert headers["Cache-Control"] == "no-store", kind
        assert "Strict-Transport-Security" not in headers, kind
    assert responses["413"].status_code == 413


def test_hsts_and_secure_cookies_behind_https(database_url, tmp_path, password_hash):
    from conftest import People, make_app
    app = make_app(database_url, tmp_path, AUTOCONTACT_HTTPS="1")
    People(app, password_hash).user("secure")
    client = app.test_client()
    response = AuthActions(client).login("secure")
    assert "Secure" in response.headers["Set-Cookie"]
    assert client.get("/").headers["Strict-Transport-Security"].startswith("max-age=")
