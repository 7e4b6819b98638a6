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
