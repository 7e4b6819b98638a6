"""The app starts on Dolibarr's data, reports its health, and fails clearly."""
import socket

import pytest

from autocontact import StartupError, create_app
from autocontact.dolibarr import doctypes, models
from autocontact.dolibarr.connection import open_database
from autocontact.dolibarr.ddl import create_dolibarr_tables
from autocontact.dolibarr.schema import detect
from autocontact.services import directory

from conftest import SCHEMA_20, make_app
from test_config import write_conf


def test_healthz_reports_database_and_schema(client, backend):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["database"]["reachable"] is True
    assert body["database"]["engine"] == ("sqlite" if backend == "sqlite" else "mysql")
    assert body["dolibarr"]["variant"] == "dolibarr-23+"
    assert body["dolibarr"]["salesrep_type_code"] is True
    assert body["dolibarr"]["tables_missing"] == []
    assert body["dolibarr"]["dolibarr_version"] == "23.0.0"
    assert "password" not in response.get_data(as_text=True)


def test_pages_need_a_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/")


def test_home_shows_the_company_figures(client, auth, people, db):
    people.user("boss", admin=1)
    assert auth.login("boss").status_code == 302
    page = client.get("/").get_data(as_text=True)
    prefix = "llx_"
    total = db.execute_sql(f"SELECT COUNT(*) FROM {prefix}societe WHERE entity = 1").fetchone()[0]
    assert total > 0
    assert f'<span class="figure">{total}</span> thirdparties' in page
    for doc_type in doctypes.DOC_TYPES:
        assert str(doc_type.label) in page


def test_thirdparties_sales_reps_read_as_dolibarr_does(app, db):
    """directory.sales_reps returns what Societe::getSalesRepresentatives returns."""
    ids = [row[0] for row in db.execute_sql("SELECT rowid FROM llx_societe WHERE entity = 1")]
    reps = directory.sales_reps(ids, entity=1)
    expected = {}
    for thirdparty_id in ids:
        rows = db.execute_sql(
            "SELECT DISTINCT u.rowid, u.login FROM llx_user AS u, llx_societe_commerciaux AS sc"
            " WHERE sc.fk_soc = %s AND sc.fk_user = u.rowid AND u.entity IN (0, 1)"
            " ORDER BY u.lastname ASC, u.firstname ASC, u.rowid" % int(thirdparty_id)
        ).fetchall()
        if rows:
            expected[thirdparty_id] = [tuple(row) for row in rows]
    assert expected, "the dataset has thirdparties with sales reps"
    assert {tid: [(u.rowid, u.login) for u in users] for tid, users in reps.items()} == expected


@pytest.mark.parametrize("element", [doc_type.element for doc_type in doctypes.DOC_TYPES])
def test_document_contacts_read_as_dolibarr_does(app, db, element):
    """directory.document_contacts returns what CommonObject::liste_contact returns."""
    model = models.DOCUMENT_MODELS[element]
    ids = [row.rowid for row in model.select(model.rowid)]
    contacts = directory.document_contacts(element, ids)
    sql = (
        "SELECT ec.element_id, ec.rowid, ec.fk_socpeople, tc.code, t.login"
        " FROM llx_element_contact ec"
        " JOIN llx_c_type_contact tc ON ec.fk_c_type_contact = tc.rowid"
        " LEFT JOIN llx_user t ON ec.fk_socpeople = t.rowid"
        f" WHERE tc.element = '{element}' AND tc.source = 'internal' AND tc.active = 1"
        " ORDER BY ec.element_id, ec.rowid"
    )
    expected = {}
    for element_id, rowid, person, code, login in db.execute_sql(sql):
        if element_id in ids:
            expected.setdefault(element_id, []).append((rowid, person, code, login))
    got = {doc_id: [(c["link_id"], c["fk_socpeople"], c["code"], c["login"]) for c in rows]
           for doc_id, rows in contacts.items()}
    assert got == expected


def test_proposal_follow_up_contacts(app, db, backend):
    model = models.DOCUMENT_MODELS["propal"]
    ids = [row.rowid for row in model.select(model.rowid)]
    contacts = directory.document_contacts("propal", ids, code="SALESREPFOLL")
    if backend == "sqlite":
        assert len(contacts) > len(ids) / 2  # the demo follows most of its proposals
    else:
        assert ids and not contacts  # Dolibarr's own dump has none (FACTS.md section 2)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_database_is_a_clear_startup_error(tmp_path):
    url = f"mysql://root@127.0.0.1:{free_port()}/dolibarr"
    with pytest.raises(StartupError, match=r"cannot connect to mysql://root@127\.0\.0\.1"):
        make_app(url, tmp_path)


def test_wrong_prefix_is_a_clear_startup_error(database_url, tmp_path):
    with pytest.raises(StartupError, match="no Dolibarr tables with prefix 'erp_'.*llx_"):
        make_app(database_url, tmp_path, AUTOCONTACT_DB_PREFIX="erp_")


def test_demo_database_is_created_on_first_start(tmp_path):
    environ = {"AUTOCONTACT_INSTANCE_PATH": str(tmp_path)}
    app = create_app({"TESTING": True, "ENVIRON": environ})
    assert app.config["DEMO"] is True
    assert (tmp_path / "demo.sqlite").exists() and (tmp_path / "secret_key").exists()
    body = app.test_client().get("/healthz").get_json()
    assert body["database"]["demo"] is True and body["dolibarr"]["tables_missing"] == []
    # The second start reuses it.
    app2 = create_app({"TESTING": True, "ENVIRON": environ})
    assert app2.config["SECRET_KEY"] == app.config["SECRET_KEY"]


def test_schema_variant_of_dolibarr_20_on_sqlite(tmp_path):
    database = open_database(f"sqlite:///{tmp_path / 'd20.sqlite'}")
    models.database.initialize(database)
    models.bind("llx_")
    create_dolibarr_tables(database, "llx_", SCHEMA_20)
    info = detect(database, "llx_")
    assert info.variant == "dolibarr-20+"
    assert info.salesrep_type_code and not info.element_contact_signature


def test_schema_variant_of_dolibarr_20_on_mariadb(mariadb, tmp_path):
    name = mariadb.create(SCHEMA_20)
    try:
        app = make_app(mariadb.url(name), tmp_path)
        body = app.test_client().get("/healthz").get_json()
        assert body["dolibarr"]["variant"] == "dolibarr-20+"
        assert body["dolibarr"]["element_contact_signature"] is False
        assert body["dolibarr"]["dolibarr_version"] is None
    finally:
        mariadb.drop(name)


def test_pre_20_schema_without_salesrep_type_code(mariadb, tmp_path):
    name = mariadb.create(SCHEMA_20)
    try:
        # The table as Dolibarr 19 and older create it (install/mysql/tables).
        mariadb.execute("DROP TABLE llx_societe_commerciaux", name)
        mariadb.execute(
            "CREATE TABLE llx_societe_commerciaux (rowid integer AUTO_INCREMENT PRIMARY KEY,"
            " fk_soc integer, fk_user integer, import_key varchar(14),"
            " UNIQUE KEY uk_societe_commerciaux (fk_soc, fk_user)) ENGINE=innodb", name)
        app = make_app(mariadb.url(name), tmp_path)
        assert app.extensions["autocontact.schema"].variant == "dolibarr-pre-20"
    finally:
        mariadb.drop(name)


def test_conf_php_with_a_non_default_prefix(mariadb, tmp_path):
    """conf.php names the database and the prefix; the app reads the dump through them."""
    from conftest import DUMP_23
    name = mariadb.create(DUMP_23, prefix="erp_")
    try:
        conf = write_conf(tmp_path, HOST=mariadb.host, PORT=str(mariadb.port), NAME=name,
                          PREFIX="erp_", USER=mariadb.user, PASS=mariadb.password)
        app = make_app("", tmp_path, AUTOCONTACT_DATABASE_URL="", AUTOCONTACT_DOLIBARR_CONF=conf,
                       AUTOCONTACT_AUTH="dolibarr")
        assert app.config["DB_PREFIX"] == "erp_"
        assert name in app.config["DATABASE_URL"]
        body = app.test_client().get("/healthz").get_json()
        assert body["dolibarr"]["prefix"] == "erp_" and body["dolibarr"]["tables_missing"] == []
        with app.test_request_context():
            app.preprocess_request()
            assert models.Thirdparty._meta.table_name == "erp_societe"
            assert models.Thirdparty.select().count() == 30
        tables = [row[0] for row in mariadb.execute("SHOW TABLES", name)]
        assert "erp_autocontact_login_attempt" in tables
        assert not [t for t in tables if t.startswith("llx_")]
    finally:
        mariadb.drop(name)


def test_non_default_prefix_on_sqlite(tmp_path):
    app = create_app({"TESTING": True, "ENVIRON": {
        "AUTOCONTACT_INSTANCE_PATH": str(tmp_path), "AUTOCONTACT_DB_PREFIX": "dlb_"}})
    body = app.test_client().get("/healthz").get_json()
    assert body["dolibarr"]["prefix"] == "dlb_" and body["dolibarr"]["tables_missing"] == []


@pytest.mark.parametrize("schema_file", ["23", "20"])
def test_registry_columns_exist_in_dolibarr_schemas(schema_file):
    """Every table and column the registry names is in Dolibarr's real schema."""
    import sqlite3

    from autocontact.dolibarr.ddl import SCHEMA_23, mysql_to_sqlite
    connection = sqlite3.connect(":memory:")
    text = (SCHEMA_23 if schema_file == "23" else SCHEMA_20).read_text()
    for statement in mysql_to_sqlite(text):
        connection.execute(statement)
    for model in models.DOLIBARR_MODELS:
        table = "llx_" + model._meta.dolibarr_table
        columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        assert columns, f"{table} missing"
        for field in model._meta.sorted_fields:
            assert field.column_name in columns, f"{table}.{field.column_name}"
    for doc_type in doctypes.DOC_TYPES:
        table = "llx_" + doc_type.table
        columns = {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}
        for column in doc_type.extra_status_columns:
            assert column in columns, f"{table}.{column}"


def test_an_older_install_gets_the_indexes_declared_since(database_url, tmp_path):
    """Journal tables created before their row-id indexes were declared get them at the
    next start: without them MariaDB's journal-driven statements scan quadratically."""
    from playhouse.migrate import SchemaMigrator, migrate

    from autocontact.dolibarr.connection import missing_indexes
    from autocontact.dolibarr.tool_tables import BatchContact, BatchSalesRep

    database = make_app(database_url, tmp_path).extensions["autocontact.db"]
    dropped = {}
    with database.connection_context():
        migrator = SchemaMigrator.from_database(database)
        for model, column in ((BatchContact, "ec_rowid"), (BatchSalesRep, "link_rowid")):
            table = model._meta.table_name
            for index in database.get_indexes(table):
                if column in index.columns:
                    migrate(migrator.drop_index(table, index.name))
                    dropped[table] = (index.name, tuple(index.columns))
            assert missing_indexes(database, model), "the older install lacks the index"
    make_app(database_url, tmp_path)  # the next start (or another uWSGI worker)
    with database.connection_context():
        for model in (BatchContact, BatchSalesRep):
            table = model._meta.table_name
            assert missing_indexes(database, model) == []
            present = {index.name: tuple(index.columns) for index in database.get_indexes(table)}
            name, columns = dropped[table]
            assert present[name] == columns
