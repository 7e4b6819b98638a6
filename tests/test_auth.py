"""Login with Dolibarr passwords, roles from groups, hardening (SQLite and MariaDB)."""
import base64
import json

import pytest

from autocontact.dolibarr import models
from autocontact.services import settings as settings_service

from conftest import PASSWORD, AuthActions, People, make_app


def basic(login, password=PASSWORD):
    token = base64.b64encode(f"{login}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def set_groups(constant, ids):
    settings_service.write_constants(1, {constant: json.dumps(ids)})


def roles(client):
    return client.get("/api/me").get_json()["roles"]


def test_login_with_dolibarr_password(client, auth, people):
    people.user("mrossi", firstname="Mario", lastname="Rossi")
    response = auth.login("mrossi")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Mario Rossi" in client.get("/").get_data(as_text=True)
    assert roles(client) == ["viewer"]


@pytest.mark.parametrize("login, password", [
    ("mrossi", "wrong"), ("nobody-here", PASSWORD), ("mrossi", ""), ("", PASSWORD),
])
def test_wrong_credentials_get_one_message(client, auth, people, login, password):
    people.user("mrossi")
    response = auth.login(login, password)
    assert response.status_code in (400, 401)
    if response.status_code == 401:
        assert "Wrong login or password." in response.get_data(as_text=True)
    assert client.get("/api/me").status_code == 401


@pytest.mark.parametrize("kwargs, message", [
    ({"statut": 0}, "This Dolibarr user is disabled."),
    ({"fk_soc": 1}, "External users cannot use autocontact."),
])
def test_disabled_and_external_users_are_refused(client, auth, people, kwargs, message):
    people.user("someone", **kwargs)
    response = auth.login("someone")
    assert response.status_code == 401
    assert message in response.get_data(as_text=True)
    assert client.get("/api/me").status_code == 401


def test_users_of_another_entity_are_unknown_but_shared_ones_log_in(client, auth, people):
    people.user("other-co", entity=2)
    assert auth.login("other-co").status_code == 401
    people.user("superadmin", entity=0, admin=1)
    assert auth.login("superadmin").status_code == 302


def test_login_is_case_insensitive_like_mariadb(client, auth, people):
    people.user("MRossi")
    assert auth.login("mrossi").status_code == 302


def test_real_dump_admin_logs_in_with_documented_password(mariadb_database, tmp_path):
    client = make_app(mariadb_database, tmp_path).test_client()
    auth = AuthActions(client)
    assert auth.login("admin", "admin").status_code == 302
    assert set(roles(client)) == {"viewer", "editor", "manager"}
    assert auth.login("admin", "adminadmin").status_code == 401


def test_demo_logins_work(sqlite_database, tmp_path):
    from autocontact.dolibarr import demo
    client = make_app(sqlite_database, tmp_path).test_client()
    auth = AuthActions(client)
    for entry in demo.DEMO_LOGINS:
        response = auth.login(entry["login"], demo.DEMO_PASSWORD)
        user = models.User.get(models.User.login == entry["login"])
        expected = 302 if user.statut == 1 and not user.fk_soc else 401
        assert response.status_code == expected, entry
        auth.logout()


def test_roles_from_dolibarr_groups_apply_without_logging_out(client, auth, people):
    editors = people.group("Editors")
    managers = people.group("Managers")
    user_id = people.user("eva")
    auth.login("eva")
    assert roles(client) == ["viewer"]
    set_groups(settings_service.EDITOR_GROUPS, [editors])
    models.UserGroupMember.insert(entity=1, fk_user=user_id, fk_usergroup=editors).execute()
    assert roles(client) == ["editor", "viewer"]
    set_groups(settings_service.MANAGER_GROUPS, [managers])
    models.UserGroupMember.insert(entity=1, fk_user=user_id, fk_usergroup=managers).execute()
    assert roles(client) == ["editor", "manager", "viewer"]
    models.UserGroupMember.delete().where(models.UserGroupMember.fk_user == user_id).execute()
    assert roles(client) == ["viewer"]


def test_membership_of_another_entity_does_not_count(client, auth, people):
    editors = people.group("Editors")
    user_id = people.user("eva")
    set_groups(settings_service.EDITOR_GROUPS, [editors])
    models.UserGroupMember.insert(entity=2, fk_user=user_id, fk_usergroup=editors).execute()
    auth.login("eva")
    assert roles(client) == ["viewer"]


def test_nothing_configured_admins_edit_and_manage_nobody_else(client, auth, people):
    people.user("boss", admin=1)
    people.user("clerk")
    auth.login("boss")
    assert set(roles(client)) == {"viewer", "editor", "manager"}
    auth.logout()
    auth.login("clerk")
    assert roles(client) == ["viewer"]


def test_disabling_a_user_ends_their_session(client, auth, people):
    user_id = people.user("leaving")
    auth.login("leaving")
    assert client.get("/api/me").status_code == 200
    models.User.update(statut=0).where(models.User.rowid == user_id).execute()
    assert client.get("/api/me").status_code == 401
    assert client.get("/").status_code == 302


def test_throttling_after_five_failures_for_a_login(client, auth, people):
    people.user("target")
    for _ in range(5):
        assert auth.login("target", "bad").status_code == 401
    response = auth.login("target")
    assert response.status_code == 401
    assert "Too many failed attempts" in response.get_data(as_text=True)
    assert client.get("/api/me").status_code == 401


def test_throttling_is_the_same_for_unknown_logins(client, auth):
    for _ in range(5):
        auth.login("ghost", "bad")
    assert "Too many failed attempts" in auth.login("ghost", "x").get_data(as_text=True)


def test_throttling_by_address_across_logins(app, people):
    people.user("victim")
    client = app.test_client()
    for number in range(5):
        client.post("/login", data={"login": f"guess{number}", "password": "x",
                                    "csrf_token": client.csrf_token()}, csrf=False)
    response = client.post("/login", data={"login": "victim", "password": PASSWORD,
                                           "csrf_token": client.csrf_token()}, csrf=False)
    assert "Too many failed attempts" in response.get_data(as_text=True)
    other = app.test_client()
    other.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    ok = other.post("/login", data={"login": "victim", "password": PASSWORD,
                                    "csrf_token": other.csrf_token()}, csrf=False)
    assert ok.status_code == 302


def test_session_is_rotated_at_login(client, auth, people):
    people.user("mrossi")
    before = client.csrf_token()
    auth.login("mrossi")
    assert client.csrf_token() != before


@pytest.mark.parametrize("target, expected", [
    ("/healthz", "/healthz"),
    ("//evil.example.com/x", "/"),
    ("https://evil.example.com/", "/"),
    ("/\\evil.example.com", "/"),
    ("javascript:alert(1)", "/"),
])
def test_next_only_goes_to_the_apps_own_paths(client, auth, people, target, expected):
    people.user("mrossi")
    response = auth.login("mrossi", next_path=target)
    assert response.headers["Location"] == expected


def test_login_and_logout_need_a_csrf_token(client, auth, people):
    people.user("mrossi")
    response = client.post("/login", data={"login": "mrossi", "password": PASSWORD}, csrf=False)
    assert response.status_code == 400
    auth.login("mrossi")
    assert client.post("/logout", csrf=False).status_code == 400
    assert client.get("/").status_code == 200  # still logged in


def test_a_write_after_the_session_ended_goes_to_login_and_back(client, people):
    """The ended session took its CSRF token along: log in again, not "form expired"."""
    response = client.post("/thirdparties/mass/assign/preview", data={"ids": ["1"]}, csrf=False,
                           headers={"HX-Request": "true",
                                    "HX-Current-URL": "http://localhost/thirdparties?q=x"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/thirdparties?q%3Dx"
    response = client.post("/logout", csrf=False)
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_security_headers_and_cookie_flags(client, auth, people):
    people.user("mrossi")
    response = auth.login("mrossi")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in page.get_data(as_text=True)  # no inline script


def test_api_basic_auth(client, people):
    people.user("script", firstname="Batch", lastname="Script")
    response = client.get("/api/me", headers=basic("script"))
    assert response.status_code == 200 and response.get_json()["login"] == "script"
    refused = client.get("/api/me", headers=basic("script", "wrong"))
    assert refused.status_code == 401
    assert refused.get_json() == {"error": "Wrong login or password."}
    assert client.get("/api/me").get_json() == {"error": "Authentication required."}


def test_api_basic_credentials_win_over_a_session_cookie(client, auth, people):
    people.user("boss", admin=1)
    auth.login("boss")
    assert client.get("/api/me", headers=basic("boss", "wrong")).status_code == 401


def test_htmx_request_without_session_is_sent_to_login(client):
    response = client.get("/", headers={"HX-Request": "true",
                                        "HX-Current-URL": "http://localhost/some/page?x=1"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login?next=/some/page?x%3D1"


def test_home_says_what_the_user_may_do_and_why(client, login_as, people):
    from conftest import html
    group_id = people.group("Territory leads")
    set_groups(settings_service.EDITOR_GROUPS, [group_id])
    login_as("viewer")
    text = html(client.get("/")).find("section", class_="access").get_text(" ", strip=True)
    assert "You cannot change sales representatives" in text
    assert "members of Territory leads" in text


@pytest.mark.parametrize("target", ["//[", "http://[", "/\\\\evil", "\x00"])
def test_malformed_next_is_ignored(client, auth, people, target):
    people.user("mrossi")
    assert client.get("/login", query_string={"next": target}).status_code == 200
    assert auth.login("mrossi", next_path=target).headers["Location"] == "/"


def test_malformed_hx_current_url_is_not_a_500(client):
    response = client.get("/", headers={"HX-Request": "true", "HX-Current-URL": "http://["})
    assert response.status_code == 401


def test_accented_spellings_share_the_throttle(client, auth, people):
    people.user("target")
    for spelling in ("target", "Target", "tàrget", "TÄRGET", "targét"):
        auth.login(spelling, "bad")
    assert "Too many failed attempts" in auth.login("targèt").get_data(as_text=True)


def test_proxy_count_takes_the_client_address_from_x_forwarded_for(database_url, tmp_path, people):
    app = make_app(database_url, tmp_path, AUTOCONTACT_PROXY_COUNT="1")
    People(app, people.hash).user("victim")
    client = app.test_client()
    for number in range(5):
        client.post("/login", data={"login": f"guess{number}", "password": "x",
                                    "csrf_token": client.csrf_token()},
                    headers={"X-Forwarded-For": "203.0.113.9"}, csrf=False)
    ok = client.post("/login", data={"login": "victim", "password": PASSWORD,
                                     "csrf_token": client.csrf_token()},
                     headers={"X-Forwarded-For": "198.51.100.4"}, csrf=False)
    assert ok.status_code == 302
