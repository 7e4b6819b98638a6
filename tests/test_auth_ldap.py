"""Company login through a real OpenLDAP slapd, on SQLite and MariaDB."""
import json
import uuid

import pytest

from autocontact.services import settings as settings_service

from conftest import PASSWORD, AuthActions, People

LDAP_PASSWORD = "ldap-Only-pass"


@pytest.fixture
def ldap(ldap_app, ldap_directory, password_hash):
    """An LDAP user and its Dolibarr twin, with a unique uid per test."""
    class Setup:
        app = ldap_app
        directory = ldap_directory
        client = ldap_app.test_client()
        auth = AuthActions(client)
        people = People(ldap_app, password_hash)

        def user(self, in_dolibarr=True, **dolibarr):
            uid = f"u{uuid.uuid4().hex[:10]}"
            self.directory.add_user(uid, LDAP_PASSWORD, cn=f"User {uid}")
            if in_dolibarr:
                self.people.user(uid, **dolibarr)
            return uid

        def group(self):
            return self.directory.group_dn(self.directory.add_group(
                f"g{uuid.uuid4().hex[:8]}", []).split(",")[0].split("=")[1])

        def roles(self):
            return self.client.get("/api/me").get_json()["roles"]

    return Setup()


def test_ldap_password_logs_in(ldap):
    uid = ldap.user()
    assert ldap.auth.login(uid, LDAP_PASSWORD).status_code == 302
    assert ldap.roles() == ["viewer"]


def test_dolibarr_password_still_works_after_ldap(ldap):
    uid = ldap.user()
    assert ldap.auth.login(uid, PASSWORD).status_code == 302


def test_wrong_password(ldap):
    uid = ldap.user()
    response = ldap.auth.login(uid, "not-it")
    assert response.status_code == 401
    assert "Wrong login or password." in response.get_data(as_text=True)


def test_user_in_ldap_but_not_in_dolibarr(ldap):
    uid = ldap.user(in_dolibarr=False)
    response = ldap.auth.login(uid, LDAP_PASSWORD)
    assert response.status_code == 401
    assert "no Dolibarr user with this login" in response.get_data(as_text=True)


@pytest.mark.parametrize("kwargs, message", [
    ({"statut": 0}, "This Dolibarr user is disabled."),
    ({"fk_soc": 1}, "External users cannot use autocontact."),
])
def test_disabled_or_external_dolibarr_user(ldap, kwargs, message):
    uid = ldap.user(**kwargs)
    response = ldap.auth.login(uid, LDAP_PASSWORD)
    assert response.status_code == 401 and message in response.get_data(as_text=True)


def test_editor_and_manager_from_ldap_groups_without_relogin(ldap):
    uid = ldap.user()
    editors, managers = ldap.group(), ldap.group()
    settings_service.write_constants(1, {
        settings_service.EDITOR_LDAP_GROUPS: json.dumps([editors.upper()]),
        settings_service.MANAGER_LDAP_GROUPS: json.dumps([managers]),
    })
    ldap.auth.login(uid, LDAP_PASSWORD)
    assert ldap.roles() == ["viewer"]
    def group_cn(dn):
        return dn.split(",")[0].split("=")[1]

    ldap.directory.add_member(group_cn(editors), uid)
    assert ldap.roles() == ["editor", "viewer"]
    ldap.directory.add_member(group_cn(managers), uid)
    assert ldap.roles() == ["editor", "manager", "viewer"]
    ldap.directory.remove_member(group_cn(editors), uid)
    assert ldap.roles() == ["manager", "viewer"]


def test_editor_from_dolibarr_group_when_logged_in_by_ldap(ldap):
    group_id = ldap.people.group("Editors")
    uid = ldap.user(groups=[group_id])
    settings_service.write_constants(1, {settings_service.EDITOR_GROUPS: json.dumps([group_id])})
    ldap.auth.login(uid, LDAP_PASSWORD)
    assert ldap.roles() == ["editor", "viewer"]


def test_removed_from_ldap_ends_the_session(ldap):
    uid = ldap.user()
    group = ldap.group()
    settings_service.write_constants(1, {settings_service.EDITOR_LDAP_GROUPS: json.dumps([group])})
    ldap.auth.login(uid, LDAP_PASSWORD)
    assert ldap.client.get("/api/me").status_code == 200
    ldap.directory.delete_user(uid)
    assert ldap.client.get("/api/me").status_code == 401


def test_throttling_applies_to_ldap_logins(ldap):
    uid = ldap.user()
    for _ in range(5):
        ldap.auth.login(uid, "bad")
    response = ldap.auth.login(uid, LDAP_PASSWORD)
    assert "Too many failed attempts" in response.get_data(as_text=True)


@pytest.mark.parametrize("login", ["*", "u*", ")(uid=*", "*)(|(uid=*", "\\2a", "admin)(&"])
def test_filter_metacharacters_never_log_in(ldap, login):
    ldap.user()
    response = ldap.auth.login(login, LDAP_PASSWORD)
    assert response.status_code == 401
    assert ldap.client.get("/api/me").status_code == 401


def test_api_basic_auth_through_ldap(ldap):
    import base64
    uid = ldap.user()
    token = base64.b64encode(f"{uid}:{LDAP_PASSWORD}".encode()).decode()
    response = ldap.client.get("/api/me", headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 200 and response.get_json()["login"] == uid


def test_unreachable_ldap_falls_back_to_dolibarr(database_url, tmp_path, people):
    from conftest import make_app
    from test_foundation import free_port
    app = make_app(database_url, tmp_path, AUTOCONTACT_AUTH="ldap,dolibarr",
                   AUTOCONTACT_LDAP_HOST=f"ldap://127.0.0.1:{free_port()}",
                   AUTOCONTACT_LDAP_DN="ou=people,dc=example,dc=com")
    People(app, people.hash).user("fallback")
    auth = AuthActions(app.test_client())
    assert auth.login("fallback").status_code == 302


def test_ldap_only_and_unreachable_says_so(database_url, tmp_path, people):
    from conftest import make_app
    from test_foundation import free_port
    app = make_app(database_url, tmp_path, AUTOCONTACT_AUTH="ldap",
                   AUTOCONTACT_LDAP_HOST=f"ldap://127.0.0.1:{free_port()}",
                   AUTOCONTACT_LDAP_DN="ou=people,dc=example,dc=com")
    People(app, people.hash).user("nobody-ldap")
    response = AuthActions(app.test_client()).login("nobody-ldap")
    assert response.status_code == 401
    assert "directory (LDAP) cannot be reached" in response.get_data(as_text=True)
