"""The demo company written by autocontact.dolibarr.demo.populate.

Self-contained: builds its own SQLite databases, uses no conftest fixture.
"""
import re
import time
from collections import defaultdict
from datetime import date, datetime, timedelta

import bcrypt
import peewee
import pytest

from autocontact.dolibarr import ddl, demo, doctypes, models

SUPPLIER_ELEMENTS = {"order_supplier", "invoice_supplier", "supplier_proposal"}
REF_PREFIXES = {"propal": "PR", "commande": "CO", "facture": "FA", "order_supplier": "CF",
                "invoice_supplier": "SI", "supplier_proposal": "SPR", "contrat": "CT",
                "fichinter": "FI", "shipping": "SH", "project": "PJ"}


def build(path, prefix, **kwargs):
    database = peewee.SqliteDatabase(path)
    models.database.initialize(database)
    models.bind(prefix)
    ddl.create_dolibarr_tables(database, prefix)
    started = time.perf_counter()
    demo.populate(database, prefix=prefix, **kwargs)
    return database, time.perf_counter() - started


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    today = date.today()
    database, elapsed = build(tmp_path_factory.mktemp("seed") / "d.sqlite", "llx_")
    yield database, elapsed, today
    database.close()


@pytest.fixture
def db(seeded):
    return seeded[0]


def rows(database, sql, *params):
    return database.execute_sql(sql, params).fetchall()


def value(database, sql, *params):
    return rows(database, sql, *params)[0][0]


def type_id(database, element, source, code):
    return value(database, "SELECT rowid FROM llx_c_type_contact"
                 " WHERE element = ? AND source = ? AND code = ?", element, source, code)


def follow_ups(database, doc_type):
    """element_id -> set of user ids following the document in the tool's role."""
    found = defaultdict(set)
    follow_type = type_id(database, doc_type.element, "internal", doc_type.default_contact_code)
    for element_id, user_id in rows(database, "SELECT element_id, fk_socpeople"
                                    " FROM llx_element_contact WHERE fk_c_type_contact = ?",
                                    follow_type):
        found[element_id].add(user_id)
    return found


def sales_reps(database):
    reps = defaultdict(set)
    for socid, user_id in rows(database, "SELECT fk_soc, fk_user FROM llx_societe_commerciaux"):
        reps[socid].add(user_id)
    return reps


def test_populate_runs_in_a_few_seconds(seeded):
    assert seeded[1] < 15


def test_thirdparties(db):
    assert value(db, "SELECT COUNT(*) FROM llx_societe WHERE entity = 1") >= 300
    assert 1 <= value(db, "SELECT COUNT(*) FROM llx_societe WHERE entity = 2") <= 10
    records = rows(db, "SELECT nom, client, fournisseur, code_client, code_fournisseur, status,"
                   " fk_pays, town, email, datec FROM llx_societe WHERE entity = 1")
    names = [record[0] for record in records]
    assert len(set(names)) == len(names)
    for _name, client, supplier, code_client, code_supplier, status, country, town, email, \
            created in records:
        assert client in (0, 1, 2, 3) and supplier in (0, 1) and (client or supplier)
        if client:
            assert re.fullmatch(r"CU\d{4}-\d{5}", code_client), code_client
        else:
            assert code_client is None
        if supplier:
            assert re.fullmatch(r"SU\d{4}-\d{5}", code_supplier), code_supplier
        else:
            assert code_supplier is None
        assert status in (0, 1) and country and town and "@" in email and created
    closed = sum(1 for record in records if record[5] == 0)
    assert 0.02 <= closed / len(records) <= 0.1
    kinds = {(record[1], record[2]) for record in records}
    assert {(1, 0), (2, 0), (3, 0), (0, 1), (1, 1)} <= kinds
    assert value(db, "SELECT COUNT(*) FROM llx_societe WHERE name_alias IS NOT NULL") > 20


def test_users(db):
    internal = rows(db, "SELECT login, statut, admin, entity, employee FROM llx_user"
                    " WHERE fk_soc IS NULL AND entity IN (0, 1)")
    assert len(internal) >= 12
    assert [row[0] for row in internal if row[2] == 1] == ["admin"]
    assert value(db, "SELECT entity FROM llx_user WHERE login = 'admin'") == 0
    assert sum(1 for row in internal if row[1] == 0) >= 3
    external = rows(db, "SELECT u.login, s.client, u.fk_socpeople, p.fk_soc = u.fk_soc"
                    " FROM llx_user u JOIN llx_societe s ON s.rowid = u.fk_soc"
                    " LEFT JOIN llx_socpeople p ON p.rowid = u.fk_socpeople")
    assert len(external) == 1
    assert external[0][1] in (1, 3) and external[0][3] == 1
    assert value(db, "SELECT COUNT(*) FROM llx_user WHERE pass IS NOT NULL") == 0
    assert value(db, "SELECT COUNT(*) FROM llx_user WHERE lang IN ('it_IT', 'en_US')") > 0


def test_demo_logins_use_the_demo_password_hashed_like_php(db):
    hashes = [row[0] for row in rows(db, "SELECT pass_crypted FROM llx_user")]
    assert len(set(hashes)) == len(hashes)          # one salt per user
    shown = {entry["login"] for entry in demo.DEMO_LOGINS}
    assert {"admin", "mbianchi", "gferrari", "cconti", "rgreco", "mverdi"} <= shown
    for entry in demo.DEMO_LOGINS:
        assert entry["name"] and entry["role_hint"]
        stored = value(db, "SELECT pass_crypted FROM llx_user WHERE login = ?", entry["login"])
        assert stored.startswith("$2y$10$") and len(stored) == 60
        assert bcrypt.checkpw(demo.DEMO_PASSWORD.encode(), ("$2b$" + stored[4:]).encode())
        assert not bcrypt.checkpw(b"wrong", ("$2b$" + stored[4:]).encode())
    statuses = {entry["login"]: value(db, "SELECT statut FROM llx_user WHERE login = ?",
                                      entry["login"]) for entry in demo.DEMO_LOGINS}
    assert statuses["rgreco"] == 0 and statuses["mbianchi"] == 1


def test_groups(db):
    members = defaultdict(set)
    for group, login, entity in rows(db, "SELECT g.nom, u.login, m.entity FROM llx_usergroup g"
                                     " JOIN llx_usergroup_user m ON m.fk_usergroup = g.rowid"
                                     " JOIN llx_user u ON u.rowid = m.fk_user"):
        assert entity == 1
        members[group].add(login)
    assert set(members) == {"Administrators", "Sales management", "Sales", "Accounting"}
    assert "admin" in members["Administrators"]
    assert "mbianchi" in members["Sales management"]
    assert {"acolombo", "gferrari"} <= members["Sales"]
    assert "cconti" in members["Accounting"]


def test_contact_type_dictionary_is_dolibarr_s(db):
    assert value(db, "SELECT COUNT(*) FROM llx_c_type_contact") == 82
    expected = {("propal", "SALESREPFOLL"): 31, ("commande", "SALESREPFOLL"): 91,
                ("facture", "SALESREPFOLL"): 50, ("invoice_supplier", "SALESREPFOLL"): 70,
                ("order_supplier", "SALESREPFOLL"): 140, ("supplier_proposal", "SALESREPFOLL"): 110,
                ("contrat", "SALESREPFOLL"): 11, ("contrat", "SALESREPSIGN"): 10,
                ("fichinter", "INTERREPFOLL"): 120, ("project", "PROJECTLEADER"): 160,
                ("project", "PROJECTCONTRIBUTOR"): 161, ("shipping", "SALESREPFOLL"): 448033,
                ("thirdparty", "SALESREPTHIRD"): 448025}
    for (element, code), rowid in expected.items():
        assert type_id(db, element, "internal", code) == rowid
    for doc_type in doctypes.DOC_TYPES:
        type_id(db, doc_type.element, "internal", doc_type.default_contact_code)


def test_constants(db):
    constants = {(name, entity): (value_, kind) for name, entity, value_, kind in
                 rows(db, "SELECT name, entity, value, type FROM llx_const")}
    assert constants["MAIN_VERSION_LAST_UPGRADE", 0][0] == "23.0.0"
    assert constants["MAIN_SECURITY_HASH_ALGO", 1][0] == "password_hash"
    assert constants["MAIN_INFO_SOCIETE_NOM", 1][0] == demo.COMPANY_NAME
    for module in {doc_type.module for doc_type in doctypes.DOC_TYPES} | {"SOCIETE", "AGENDA"}:
        assert constants[f"MAIN_MODULE_{module}", 1] == ("1", "chaine")


def test_sales_representatives(db):
    reps = sales_reps(db)
    inactive = {row[0] for row in rows(db, "SELECT rowid FROM llx_user WHERE statut = 0")}
    customers = [row[0] for row in rows(db, "SELECT rowid FROM llx_societe"
                                        " WHERE entity = 1 AND client > 0")]
    without = [socid for socid in customers if not reps[socid]]
    assert 0.05 <= len(without) / len(customers) <= 0.2
    assert sum(1 for socid in customers if len(reps[socid]) >= 2) >= 10
    only_inactive = [socid for socid in customers if reps[socid] and reps[socid] <= inactive]
    assert len(only_inactive) >= 3
    assert value(db, "SELECT COUNT(*) FROM llx_societe_commerciaux"
                 " WHERE fk_c_type_contact_code <> 'SALESREPTHIRD'") == 0


def test_every_document_type_is_populated_realistically(seeded):
    db, _, today = seeded
    kinds = {socid: (client, supplier, entity) for socid, client, supplier, entity
             in rows(db, "SELECT rowid, client, fournisseur, entity FROM llx_societe")}
    total = 0
    for doc_type in doctypes.DOC_TYPES:
        table = "llx_" + doc_type.table
        date_column = doc_type.date_column or "NULL"
        records = rows(db, f"SELECT ref, entity, fk_soc, {doc_type.status_column},"
                       f" {date_column} FROM {table}")
        main = [record for record in records if record[1] == 1]
        assert len(main) >= 100, doc_type.element
        total += len(main)
        refs = [(record[0], record[1]) for record in records]
        assert len(set(refs)) == len(refs)
        pattern = re.compile(REF_PREFIXES[doc_type.element] + r"\d{4}-\d{4}|\(PROV\d+\)")
        statuses = set()
        for ref, entity, socid, status, day in records:
            assert pattern.fullmatch(ref), ref
            statuses.add(status)
            if socid is None:
                assert doc_type.element == "project"
                continue
            client, supplier, soc_entity = kinds[socid]
            assert soc_entity == entity
            if doc_type.element in SUPPLIER_ELEMENTS:
                assert supplier == 1
            elif doc_type.element == "propal":
                assert client > 0
            else:
                assert client in (1, 3)
            if day:
                assert today - timedelta(days=3 * 365) <= date.fromisoformat(day[:10]) <= today
        assert statuses <= set(doc_type.statuses), doc_type.element
        assert len(statuses) >= 3, doc_type.element
        if doc_type.date_column:
            assert any(record[4] is None for record in main), doc_type.element
    assert total >= 5000
    assert value(db, "SELECT COUNT(*) FROM llx_facture WHERE type <> 0") == 0
    assert value(db, "SELECT COUNT(*) FROM llx_facture WHERE paye = 1 AND fk_statut <> 2") == 0
    paid = value(db, "SELECT COUNT(*) FROM llx_facture WHERE paye = 1")
    assert paid >= 0.9 * value(db, "SELECT COUNT(*) FROM llx_facture WHERE fk_statut = 2")
    assert value(db, "SELECT COUNT(*) FROM llx_projet WHERE title IS NULL OR title = ''") == 0
    assert value(db, "SELECT COUNT(*) FROM llx_propal WHERE entity = 2") > 0


def test_follow_up_contacts_are_mostly_consistent(db):
    reps = sales_reps(db)
    inactive = {row[0] for row in rows(db, "SELECT rowid FROM llx_user WHERE statut = 0")}
    checked = 0
    kinds = defaultdict(int)
    for doc_type in doctypes.DOC_TYPES:
        found = follow_ups(db, doc_type)
        for rowid, socid in rows(db, f"SELECT rowid, fk_soc FROM llx_{doc_type.table}"
                                 " WHERE entity = 1 AND fk_soc IS NOT NULL"):
            checked += 1
            have, want = found[rowid], reps[socid]
            if have == want:
                continue
            if not have:
                kinds["missing"] += 1
            elif have & inactive:
                kinds["inactive user"] += 1
            elif have > want:
                kinds["extra"] += 1
            else:
                kinds["former rep"] += 1
    share = sum(kinds.values()) / checked
    assert 0.08 <= share <= 0.2, share
    assert all(kinds[kind] >= 20 for kind in ("missing", "inactive user", "extra", "former rep"))
    assert value(db, "SELECT COUNT(*) FROM llx_element_contact WHERE statut <> 4") == 0


def test_other_roles_are_present_for_the_tool_to_ignore(db):
    orphans = value(db, "SELECT COUNT(*) FROM llx_element_contact ec LEFT JOIN"
                    " llx_c_type_contact t ON t.rowid = ec.fk_c_type_contact WHERE t.rowid IS NULL")
    assert orphans == 0
    external = rows(db, "SELECT t.element, t.code, p.fk_soc, d.fk_soc FROM llx_element_contact ec"
                    " JOIN llx_c_type_contact t ON t.rowid = ec.fk_c_type_contact"
                    " JOIN llx_socpeople p ON p.rowid = ec.fk_socpeople"
                    " JOIN llx_propal d ON d.rowid = ec.element_id"
                    " WHERE t.source = 'external' AND t.element = 'propal'")
    assert len(external) >= 20
    assert all(contact_soc == doc_soc for _, _, contact_soc, doc_soc in external)
    for element, code in (("contrat", "SALESREPSIGN"), ("project", "PROJECTCONTRIBUTOR"),
                          ("facture", "BILLING"), ("commande", "CUSTOMER")):
        source = "external" if code in ("BILLING", "CUSTOMER") else "internal"
        count = value(db, "SELECT COUNT(*) FROM llx_element_contact WHERE fk_c_type_contact = ?",
                      type_id(db, element, source, code))
        assert count >= 10, (element, code)
    for doc_type in doctypes.DOC_TYPES:
        follow_type = type_id(db, doc_type.element, "internal", doc_type.default_contact_code)
        dangling = value(db, f"SELECT COUNT(*) FROM llx_element_contact ec"
                         f" LEFT JOIN llx_{doc_type.table} d ON d.rowid = ec.element_id"
                         f" WHERE ec.fk_c_type_contact = ? AND d.rowid IS NULL", follow_type)
        assert dangling == 0


def test_demo_scenario(seeded):
    db, _, today = seeded
    scenario = demo.DEMO_SCENARIO
    socid = scenario["thirdparty_rowid"]
    assert value(db, "SELECT nom FROM llx_societe WHERE rowid = ?", socid) == \
        scenario["thirdparty_name"]
    users = {login: (rowid, status) for rowid, login, status
             in rows(db, "SELECT rowid, login, statut FROM llx_user")}
    old_rep, new_rep = users[scenario["from_login"]], users[scenario["to_login"]]
    assert old_rep[1] == 1 and new_rep[1] == 1
    assert sales_reps(db)[socid] == {new_rep[0]}
    two_years_ago = (today - timedelta(days=730)).isoformat()
    recent = older = 0
    for element in scenario["elements"]:
        doc_type = doctypes.get(element)
        found = follow_ups(db, doc_type)
        for rowid, day in rows(db, f"SELECT rowid, {doc_type.date_column}"
                               f" FROM llx_{doc_type.table} WHERE fk_soc = ?", socid):
            assert found[rowid] == {old_rep[0]}
            if day >= two_years_ago:
                recent += 1
            else:
                older += 1
    assert recent >= 20 and older >= 3
    open_docs = value(db, "SELECT COUNT(*) FROM llx_propal"
                      " WHERE fk_soc = ? AND fk_statut IN (0, 1)", socid)
    assert open_docs >= 2


def test_other_prefix_gives_the_same_data(seeded, tmp_path):
    reference, _, today = seeded
    try:
        other, _ = build(tmp_path / "d.sqlite", "dlb_", today=today)
        assert "dlb_propal" in other.get_tables() and "llx_propal" not in other.get_tables()
        for table, columns in (("societe", "rowid, nom, code_client, datec"),
                               ("element_contact", "element_id, fk_c_type_contact, fk_socpeople"),
                               ("facture", "rowid, ref, fk_soc, datef, fk_statut")):
            query = "SELECT {} FROM {}{} ORDER BY 1, 2, 3"
            assert rows(other, query.format(columns, "dlb_", table)) == \
                rows(reference, query.format(columns, "llx_", table))
        other.close()
    finally:
        models.database.initialize(reference)
        models.bind("llx_")


def test_entity_and_today_parameters(tmp_path):
    day = datetime(2024, 2, 29, 15, 0)
    try:
        database, _ = build(tmp_path / "e.sqlite", "llx_", entity=3, today=day)
        assert value(database, "SELECT MAX(datep) FROM llx_propal") <= "2024-02-29"
        assert value(database, "SELECT COUNT(*) FROM llx_societe WHERE entity = 3") >= 300
        assert value(database, "SELECT COUNT(*) FROM llx_societe WHERE entity = 1") == 0
        assert value(database, "SELECT entity FROM llx_user WHERE login = 'admin'") == 0
        database.close()
    finally:
        models.bind("llx_")
