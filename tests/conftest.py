"""Fixtures: every test that takes ``app`` runs on SQLite and on MariaDB.

SQLite: a copy of the demo database (built once per session from Dolibarr's
real schema). MariaDB: a fresh database per test, loaded from Dolibarr 23's
own demo dump in ../shared (the real schema and data), dropped afterwards.
MariaDB comes from AUTOCONTACT_TEST_MYSQL_URL; when it is unreachable the
MariaDB tests skip, except with CI=true where they fail.
"""
import os
import re
import shutil
import subprocess
import uuid
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pymysql
import pytest
from flask.testing import FlaskClient
from peewee import IntegerField

from autocontact import create_app
from autocontact.dolibarr import ddl, demo, models
from autocontact.services import passwords

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AUTOCONTACT_SHARED", ROOT.parent / "shared")) / "dolibarr"
DUMP_23 = SHARED / "dolibarr-23.0.0-subset.sql"
SCHEMA_20 = SHARED / "dolibarr-20.0.0-schema.sql"
MYSQL_URL = os.environ.get("AUTOCONTACT_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306")
IN_CI = os.environ.get("CI", "").lower() == "true"
PASSWORD = "S3cret-pass"


def pytest_report_header(config):
    return f"MariaDB for tests: {MYSQL_URL} (CI={IN_CI}); Dolibarr dump: {DUMP_23}"


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say how many tests ran on MariaDB; in CI, a skipped test fails the run."""
    stats = terminalreporter.stats
    mariadb_passed = sum(1 for report in stats.get("passed", [])
                         if report.when == "call" and "uses_mariadb" in report.keywords)
    skipped = len(stats.get("skipped", []))
    terminalreporter.write_line(
        f"MariaDB tests passed against the real Dolibarr 23 dump: {mariadb_passed}")
    if IN_CI and skipped:
        terminalreporter.write_line(f"CI=true: {skipped} skipped test(s) count as failures")


def pytest_collection_modifyitems(items):
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_mariadb = callspec is not None and callspec.params.get("backend") == "mariadb"
        if on_mariadb or "mariadb" in item.fixturenames:
            item.add_marker("uses_mariadb")


def pytest_sessionfinish(session, exitstatus):
    if IN_CI and session.config.pluginmanager.get_plugin("terminalreporter"):
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter.stats.get("skipped") and exitstatus == 0:
            session.exitstatus = 1


# --- MariaDB -----------------------------------------------------------------

class MariaDB:
    """The test server: creates databases loaded from Dolibarr's dumps."""

    def __init__(self, url):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 3306
        self.user, self.password = parts.username or "root", parts.password or ""

    def url(self, name):
        credentials = self.user + (f":{self.password}" if self.password else "")
        return f"mysql://{credentials}@{self.host}:{self.port}/{name}"

    def connect(self, database=None):
        return pymysql.connect(host=self.host, port=self.port, user=self.user,
                               password=self.password, database=database, autocommit=True)

    def execute(self, sql, database=None):
        connection = self.connect(database)
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                return cursor.fetchall()
        finally:
            connection.close()

    def create(self, dump, prefix="llx_"):
        """A new database loaded from ``dump``, table prefix rewritten if asked."""
        name = f"actest_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        self.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        sql = Path(dump).read_text()
        if prefix != "llx_":
            sql = re.sub(r"`llx_", f"`{prefix}", sql)
        command = ["mariadb", f"--host={self.host}", f"--port={self.port}", f"--user={self.user}",
                   name]
        env = dict(os.environ, MYSQL_PWD=self.password)
        subprocess.run(command, input=sql, text=True, check=True, env=env,
                       capture_output=True)
        return name

    def drop(self, name):
        self.execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture(scope="session")
def mariadb():
    """The MariaDB server, or a skip (a failure in CI) with the reason."""
    server = MariaDB(MYSQL_URL)
    try:
        server.execute("SELECT 1")
    except pymysql.MySQLError as error:
        reason = f"MariaDB unreachable at {MYSQL_URL}: {error}"
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    if shutil.which("mariadb") is None:
        message = "the mariadb client is needed to load Dolibarr's dump (apt-get install mariadb-client)"
        pytest.fail(message) if IN_CI else pytest.skip(message)
    if not DUMP_23.exists():
        pytest.fail(f"Dolibarr dump not found at {DUMP_23}")
    return server


@pytest.fixture
def mariadb_database(mariadb):
    """A fresh database loaded from the real Dolibarr 23 dump, dropped afterwards."""
    name = mariadb.create(DUMP_23)
    yield mariadb.url(name)
    mariadb.drop(name)


# --- SQLite ------------------------------------------------------------------

@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """The demo database, built once per session through the app's own code."""
    path = tmp_path_factory.mktemp("demo") / "demo.sqlite"
    database = ddl_database(path)
    with database.connection_context():
        ddl.create_dolibarr_tables(database)
        demo.populate(database)
    database.close()
    return path


def ddl_database(path):
    from autocontact.dolibarr.connection import open_database
    database = open_database(f"sqlite:///{path}")
    models.database.initialize(database)
    models.bind("llx_")
    return database


@pytest.fixture
def sqlite_database(sqlite_template, tmp_path):
    path = tmp_path / "dolibarr.sqlite"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


# --- The app -----------------------------------------------------------------

@pytest.fixture(params=["sqlite", "mariadb"])
def backend(request):
    return request.param


@pytest.fixture
def database_url(request, backend):
    return request.getfixturevalue(f"{backend}_database")


class AppClient(FlaskClient):
    """A test client that sends the CSRF token like the pages' htmx does."""

    def csrf_token(self):
        page = self.get("/login").get_data(as_text=True)
        return re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)

    def open(self, *args, csrf=True, **kwargs):
        method = kwargs.get("method", "GET").upper()
        if csrf and method not in ("GET", "HEAD", "OPTIONS"):
            headers = dict(kwargs.pop("headers", None) or {})
            headers.setdefault("X-CSRFToken", self.csrf_token())
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


def make_app(database_url, tmp_path, **environ):
    env = {
        "AUTOCONTACT_DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "AUTOCONTACT_INSTANCE_PATH": str(tmp_path / "instance"),
        **environ,
    }
    application = create_app({"TESTING": True, "ENVIRON": env})
    application.test_client_class = AppClient
    return application


@pytest.fixture
def app(database_url, tmp_path):
    application = make_app(database_url, tmp_path)
    yield application
    database = application.extensions["autocontact.db"]
    if not database.is_closed():
        database.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """The app's database, bound for direct use in a test."""
    database = app.extensions["autocontact.db"]
    models.database.initialize(database)
    models.bind(app.config["DB_PREFIX"])
    return database


# --- People ------------------------------------------------------------------

@pytest.fixture(scope="session")
def password_hash():
    return passwords.hash_password(PASSWORD)


class People:
    """Creates Dolibarr users and groups the way Dolibarr stores them."""

    def __init__(self, app, password_hash):
        self.app, self.hash = app, password_hash
        self.entity = app.config["ENTITY"]

    def user(self, login, *, admin=0, statut=1, fk_soc=None, entity=None, groups=(),
             firstname="Test", lastname=None):
        user_id = models.User.insert(
            login=login, entity=self.entity if entity is None else entity,
            firstname=firstname, lastname=lastname or login.title(),
            pass_crypted=self.hash, admin=admin, statut=statut, fk_soc=fk_soc,
        ).execute()
        for group_id in groups:
            models.UserGroupMember.insert(entity=self.entity, fk_user=user_id,
                                          fk_usergroup=group_id).execute()
        return user_id

    def group(self, name):
        return models.UserGroup.insert(name=name, entity=self.entity).execute()


@pytest.fixture
def people(app, db, password_hash):
    return People(app, password_hash)


class AuthActions:
    def __init__(self, client):
        self.client = client

    def login(self, login, password=PASSWORD, next_path=None):
        data = {"login": login, "password": password, "csrf_token": self.client.csrf_token()}
        if next_path:
            data["next"] = next_path
        return self.client.post("/login", data=data, csrf=False)

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return AuthActions(client)


# --- LDAP --------------------------------------------------------------------

@pytest.fixture(scope="session")
def ldap_directory():
    """A private OpenLDAP slapd for the session (a failure in CI if slapd is missing)."""
    from ldap_server import LdapServer, slapd_missing_reason
    reason = slapd_missing_reason()
    if reason:
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    server = LdapServer(anonymous_read=False).start()
    server.service_dn, server.service_password = server.add_service_account("reader")
    yield server
    server.stop()


@pytest.fixture
def ldap_app(database_url, tmp_path, ldap_directory):
    """The app configured like a Dolibarr with $dolibarr_main_authentication='ldap,dolibarr'."""
    return make_app(
        database_url, tmp_path,
        AUTOCONTACT_AUTH="ldap,dolibarr",
        AUTOCONTACT_LDAP_HOST=ldap_directory.url,
        AUTOCONTACT_LDAP_DN=ldap_directory.users_dn,
        AUTOCONTACT_LDAP_LOGIN_ATTRIBUTE="uid",
        AUTOCONTACT_LDAP_ADMIN_LOGIN=ldap_directory.service_dn,
        AUTOCONTACT_LDAP_ADMIN_PASS=ldap_directory.service_password,
    )


# --- Roles -------------------------------------------------------------------

def html(response):
    """Parse a response's HTML (assert on structure, not substrings)."""
    from bs4 import BeautifulSoup
    return BeautifulSoup(response.get_data(as_text=True), "html.parser")


@pytest.fixture
def login_as(client, auth, people):
    """Log the client in as a fresh user of a role: viewer, editor, manager or admin."""
    from autocontact.services import settings as settings_service

    def login(role):
        login_name = f"{role}-{uuid.uuid4().hex[:6]}"
        groups = ()
        if role in ("editor", "manager"):
            group_id = people.group(f"{role.title()}s {login_name}")
            constant = (settings_service.EDITOR_GROUPS if role == "editor"
                        else settings_service.MANAGER_GROUPS)
            settings_service.write_constants(1, {constant: f"[{group_id}]"})
            groups = (group_id,)
        people.user(login_name, admin=1 if role == "admin" else 0, groups=groups)
        response = auth.login(login_name)
        assert response.status_code == 302, response.get_data(as_text=True)
        return login_name
    return login


# --- Browser tests (headless Chromium through Playwright) --------------------

from browser import browser_page, chromium, live_server  # noqa: E402,F401

# --- A document scenario -----------------------------------------------------

TYPES = ("propal", "commande", "facture")

def contact_type_id(element, code="SALESREPFOLL", source="internal"):
    return models.ContactType.get(element=element, code=code, source=source).rowid


def column(model, name):
    """A column the model does not declare, for inserts that need it."""
    field_ = IntegerField(column_name=name)
    field_.bind(model, name, set_attribute=False)
    return field_


@pytest.fixture
def scenario(db, people):
    """A customer moved from rep A to rep B; its documents still name A.

    Built on whatever dataset runs: a new thirdparty with proposals, orders and
    invoices inside and outside the period, open and closed.
    """
    a = people.user("rep.a", firstname="Andrea", lastname="Anziani")
    b = people.user("rep.b", firstname="Beatrice", lastname="Bassi")
    tid = models.Thirdparty.insert(name="Scenario S.r.l.", entity=1, client=1, status=1).execute()
    models.SalesRepLink.insert(fk_soc=tid, fk_user=b).execute()
    docs = {}
    for element in TYPES + ("contrat",):
        model = models.DOCUMENT_MODELS[element]
        for label, day, status in (("in", date(2025, 3, 1), 1), ("in_closed", date(2025, 6, 1), 3
                                   if element != "contrat" else 2),
                                   ("before", date(2023, 5, 1), 1), ("undated", None, 1)):
            values = {model.ref: f"T-{element}-{label}", model.entity: 1, model.fk_soc: tid,
                      model.status: status, model.date: day}
            if element == "contrat":  # MariaDB checks this foreign key
                values[column(model, "fk_user_author")] = a
            doc_id = model.insert(values).execute()
            docs[(element, label)] = doc_id
            models.ElementContact.insert(statut=4, element_id=doc_id, datecreate="2025-01-01 10:00:00",
                                         fk_c_type_contact=contact_type_id(element),
                                         fk_socpeople=a).execute()
    # Another role and an external contact that must stay as they are.
    sign = contact_type_id("contrat", "SALESREPSIGN")
    models.ElementContact.insert(statut=4, element_id=docs[("contrat", "in")],
                                 fk_c_type_contact=sign, fk_socpeople=a).execute()
    contact = models.Contact.insert({models.Contact.lastname: "Esterno", models.Contact.fk_soc: tid,
                                     column(models.Contact, "fk_user_creat"): a}).execute()
    models.ElementContact.insert(statut=4, element_id=docs[("propal", "in")],
                                 fk_c_type_contact=contact_type_id("propal", "CUSTOMER", "external"),
                                 fk_socpeople=contact).execute()
    return {"a": a, "b": b, "tid": tid, "docs": docs, "sign": sign, "contact": contact}


