"""The document engine through POST /api/documents/sync, on SQLite and MariaDB."""
import pytest
from playhouse.test_utils import count_queries

from autocontact.dolibarr import doctypes, models
from autocontact.dolibarr.tool_tables import BatchContact
from autocontact.services import settings as settings_service

from conftest import TYPES, contact_type_id
from test_permissions import snapshot


def followers(db, element, doc_id, code="SALESREPFOLL"):
    """Internal contacts of a document with the SQL of CommonObject::liste_contact."""
    rows = db.execute_sql(
        "SELECT ec.fk_socpeople FROM llx_element_contact ec"
        " JOIN llx_c_type_contact tc ON ec.fk_c_type_contact = tc.rowid"
        f" WHERE ec.element_id = {int(doc_id)} AND tc.element = '{element}'"
        f" AND tc.source = 'internal' AND tc.active = 1 AND tc.code = '{code}'"
        " ORDER BY ec.fk_socpeople").fetchall()
    return [row[0] for row in rows]


@pytest.fixture
def editor(login_as):
    return login_as("editor")


def sync(client, **payload):
    body = {"date_from": "2025-01-01", "date_to": "2025-12-31", "doc_types": list(TYPES),
            **payload}
    return client.post("/api/documents/sync", json=body)


def test_sync_moves_the_period_documents_from_a_to_b(client, editor, db, scenario):
    s = scenario
    response = sync(client, thirdparty_ids=[s["tid"]], statuses="open")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["batch_id"] and body["documents_changed"] == 3
    assert (body["contacts_added"], body["contacts_removed"]) == (3, 3)
    assert body["per_type"]["propal"] == {**body["per_type"]["propal"], "examined": 1,
                                          "changed": 1, "added": 1, "removed": 1,
                                          "skipped_status": 1, "without_date": 1}
    for element in TYPES:
        assert followers(db, element, s["docs"][(element, "in")]) == [s["b"]]
        for label in ("in_closed", "before", "undated"):
            assert followers(db, element, s["docs"][(element, label)]) == [s["a"]], label
    # Unselected type, other role and external contact untouched.
    assert followers(db, "contrat", s["docs"][("contrat", "in")]) == [s["a"]]
    assert followers(db, "contrat", s["docs"][("contrat", "in")], "SALESREPSIGN") == [s["a"]]
    assert followers(db, "propal", s["docs"][("propal", "in")], "CUSTOMER") == []  # external
    external = db.execute_sql(
        "SELECT fk_socpeople FROM llx_element_contact WHERE element_id = %d AND fk_c_type_contact = %d"
        % (s["docs"][("propal", "in")], contact_type_id("propal", "CUSTOMER", "external"))).fetchall()
    external = [tuple(row) for row in external]
    assert external == [(s["contact"],)]


def test_new_rows_are_written_as_dolibarr_writes_them(client, editor, db, scenario):
    batch_id = sync(client, thirdparty_ids=[scenario["tid"]]).get_json()["batch_id"]
    added = BatchContact.get(batch_id=batch_id, change="+", element="propal")
    row = models.ElementContact.get_by_id(added.ec_rowid)
    assert (row.statut, row.fk_socpeople, row.fk_c_type_contact) == \
           (4, scenario["b"], contact_type_id("propal"))
    assert row.datecreate is not None


def test_all_statuses_includes_closed_documents(client, editor, db, scenario):
    body = sync(client, thirdparty_ids=[scenario["tid"]], statuses="all").get_json()
    assert body["documents_changed"] == 6
    assert followers(db, "facture", scenario["docs"][("facture", "in_closed")]) == [scenario["b"]]


def test_replace_mode_only_touches_user_a(client, editor, db, scenario, people):
    c = people.user("rep.c")
    other = people.user("rep.other")
    doc = scenario["docs"][("propal", "in")]
    models.ElementContact.insert(statut=4, element_id=doc, fk_c_type_contact=contact_type_id("propal"),
                                 fk_socpeople=other).execute()
    body = sync(client, thirdparty_ids=[scenario["tid"]], mode="replace", statuses="open",
                from_user_id=scenario["a"], to_user_id=c, doc_types=["propal"]).get_json()
    assert (body["contacts_removed"], body["contacts_added"]) == (1, 1)
    assert followers(db, "propal", doc) == sorted([c, other])


def test_sync_without_active_rep_leaves_documents_and_says_so(client, editor, db, scenario):
    models.SalesRepLink.delete().where(models.SalesRepLink.fk_soc == scenario["tid"]).execute()
    before = snapshot()
    body = sync(client, thirdparty_ids=[scenario["tid"]]).get_json()
    assert body["documents_changed"] == 0 and body["thirdparties_without_active_rep"] == 1
    assert body["batch_id"] is None and snapshot() == before


def test_dry_run_changes_nothing_and_reports_the_same(client, editor, db, scenario):
    before = snapshot()
    dry = sync(client, thirdparty_ids=[scenario["tid"]], dry_run=True).get_json()
    assert dry["batch_id"] is None and snapshot() == before
    real = sync(client, thirdparty_ids=[scenario["tid"]]).get_json()
    assert {**dry, "batch_id": None} == {**real, "batch_id": None}


def test_filter_selection(client, editor, db, scenario):
    body = sync(client, filter={"rep": str(scenario["b"])}, statuses="open").get_json()
    assert body["documents_changed"] == 3


@pytest.mark.parametrize("changes, field", [
    ({"date_from": "2025-13-01"}, "date_from"),
    ({"date_from": "01/01/2025"}, "date_from"),
    ({"date_to": "2024-12-31"}, "date_to"),
    ({"doc_types": ["invoice"]}, "doc_types"),
    ({"doc_types": []}, "doc_types"),
    ({"doc_types": "propal"}, "doc_types"),
    ({"mode": "merge"}, "mode"),
    ({"statuses": "closed"}, "statuses"),
    ({"mode": "replace", "from_user_id": "a"}, "to_user_id"),
    ({"mode": "replace", "to_user_id": "b"}, "from_user_id"),
    ({"mode": "replace", "from_user_id": "a", "to_user_id": "gone"}, "to_user_id"),
    ({"mode": "replace", "from_user_id": "a", "to_user_id": "outside"}, "to_user_id"),
    ({"dry_run": "no"}, "dry_run"),
    ({"thirdparty_ids": []}, "thirdparty_ids"),
])
def test_bad_input_is_refused_and_changes_nothing(client, editor, db, scenario, people, changes, field):
    users = {"a": scenario["a"], "b": scenario["b"], "gone": people.user("gone", statut=0),
             "outside": people.user("outside", fk_soc=scenario["tid"])}
    changes = {k: users.get(v, v) if isinstance(v, str) and k.endswith("user_id") else v
               for k, v in changes.items()}
    before = snapshot()
    response = sync(client, **{"thirdparty_ids": [scenario["tid"]], **changes})
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["field"] == field
    assert snapshot() == before


def test_disabled_type_and_missing_contact_type_are_refused(client, editor, db, scenario):
    settings_service.write_constants(1, {"AUTOCONTACT_DOC_PROPAL_ENABLED": "0"})
    response = sync(client, thirdparty_ids=[scenario["tid"]])
    assert response.status_code == 400 and "disabled in setup" in response.get_json()["error"]
    settings_service.write_constants(1, {"AUTOCONTACT_DOC_PROPAL_ENABLED": "1"})
    models.ContactType.update(active=0).where(models.ContactType.rowid == contact_type_id("facture")).execute()
    response = sync(client, thirdparty_ids=[scenario["tid"]])
    assert response.status_code == 400 and "dictionary" in response.get_json()["error"]


def test_viewers_cannot_apply(client, login_as, db, scenario):
    login_as("viewer")
    before = snapshot()
    assert sync(client, thirdparty_ids=[scenario["tid"]]).status_code == 403
    assert snapshot() == before


def test_statement_count_independent_of_documents_and_thirdparties(app, db, scenario, people):
    from autocontact.services import documents
    from autocontact.services.permissions import Actor
    actor = Actor(user_id=scenario["a"], login="x", full_name="X", roles=frozenset({"editor"}))
    settings = settings_service.load(1)
    all_ids = [row[0] for row in db.execute_sql("SELECT rowid FROM llx_societe WHERE entity = 1")]
    counts = []
    for ids in ([scenario["tid"]], all_ids):
        request = documents.parse_request(
            {"thirdparty_ids": ids, "date_from": "2000-01-01", "date_to": "2030-12-31",
             "doc_types": [d.element for d in doctypes.DOC_TYPES]}, 1, settings)
        with count_queries() as counter:
            outcome = documents.run(actor, request, 1)
        assert outcome.total("examined") > 0
        counts.append(counter.count)
    assert counts[0] == counts[1]


def test_preview_writes_nothing_and_its_statements_do_not_grow(app, db, scenario, people):
    """A preview (dry run) only reads (its selection goes to a temporary table, rolled
    back), with a number of statements bounded by the number of document types, whatever
    the number of documents and thirdparties."""
    from autocontact.services import documents
    from autocontact.services.permissions import Actor
    actor = Actor(user_id=scenario["a"], login="x", full_name="X", roles=frozenset({"viewer"}))
    settings = settings_service.load(1)
    all_ids = [row[0] for row in db.execute_sql("SELECT rowid FROM llx_societe WHERE entity = 1")]
    elements = [d.element for d in doctypes.DOC_TYPES]
    before = snapshot()
    for ids in ([scenario["tid"]], all_ids):
        request = documents.parse_request(
            {"thirdparty_ids": ids, "date_from": "2000-01-01", "date_to": "2030-12-31",
             "doc_types": elements}, 1, settings)
        with count_queries() as counter:
            outcome = documents.run(actor, request, 1, dry_run=True)
        assert outcome.total("changed") > 0 and outcome.documents
        written = [q.msg[0] for q in counter.get_queries()
                   if q.msg[0].split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")]
        assert len(written) == 1 and "autocontact_preview_selection" in written[0]
        # per type: changes, documents examined, page, refs, page changes, contacts
        assert counter.count <= 6 * len(elements) + 6
    assert snapshot() == before


def test_mass_action_can_update_the_documents_in_the_same_operation(client, editor, db, scenario,
                                                                     people):
    """Transfer B → C on the thirdparty and sync its documents: one batch, one transaction."""
    c = people.user("rep.c", firstname="Carlo", lastname="Conti")
    body = client.post("/api/salesreps", json={
        "action": "transfer", "thirdparty_ids": [scenario["tid"]],
        "from_user_id": scenario["b"], "to_user_id": c,
        "documents": {"date_from": "2025-01-01", "date_to": "2025-12-31",
                      "doc_types": list(TYPES), "statuses": "open"}}).get_json()
    assert (body["links_added"], body["links_removed"]) == (1, 1)
    assert body["documents"]["documents_changed"] == 3
    assert body["documents"]["batch_id"] == body["batch_id"]
    for element in TYPES:
        assert followers(db, element, scenario["docs"][(element, "in")]) == [c]
        assert followers(db, element, scenario["docs"][(element, "before")]) == [scenario["a"]]
    rows = BatchContact.select().where(BatchContact.batch_id == body["batch_id"]).count()
    assert rows == 6


def test_mass_action_cascade_bad_input_changes_nothing(client, editor, db, scenario, people):
    before = snapshot()
    response = client.post("/api/salesreps", json={
        "action": "assign", "thirdparty_ids": [scenario["tid"]], "user_ids": [scenario["a"]],
        "documents": {"date_from": "2025-01-01", "date_to": "2024-01-01", "doc_types": ["propal"]}})
    assert response.status_code == 400
    assert response.get_json()["field"] == "documents.date_to"
    assert snapshot() == before


def test_far_dates_are_fine(client, editor, db, scenario):
    response = sync(client, thirdparty_ids=[scenario["tid"]], date_from="0001-01-01",
                    date_to="9999-12-31", dry_run=True)
    assert response.status_code == 200 and response.get_json()["documents_changed"] == 9
    assert client.get("/api/batches?until=9999-12-31").status_code == 200
    assert client.get(f"/thirdparties/{scenario['tid']}?date_to=9999-12-31").status_code == 200


def test_transfer_by_filter_with_documents(client, editor, db, scenario, people):
    """The README's example: transfer a portfolio found by a rep filter, documents too."""
    c = people.user("rep.c")
    body = client.post("/api/salesreps", json={
        "action": "transfer", "filter": {"rep": str(scenario["b"])},
        "from_user_id": scenario["b"], "to_user_id": c,
        "documents": {"date_from": "2025-01-01", "date_to": "2025-12-31", "doc_types": list(TYPES)}}).get_json()
    assert body["selected"] == 1 and body["documents"]["documents_changed"] == 6
    assert followers(db, "propal", scenario["docs"][("propal", "in")]) == [c]


def test_documents_dated_on_the_first_and_last_day_are_in_the_period(client, editor, db, scenario):
    """Inclusive bounds on DATE columns (SQLite once compared '2025-03-01' as text with
    '2025-03-01 00:00:00' and left the first day out)."""
    body = sync(client, thirdparty_ids=[scenario["tid"]], date_from="2025-03-01",
                date_to="2025-06-01", dry_run=True).get_json()
    assert body["per_type"]["propal"]["examined"] == 2  # dated 2025-03-01 and 2025-06-01
