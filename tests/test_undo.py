"""Undo: every kind of batch is reverted exactly, conflicts are left alone."""
import pytest

from autocontact.dolibarr import models
from autocontact.dolibarr.tool_tables import Batch

from test_documents import TYPES, followers


def table(model):
    """Every row of a table, every column, row ids included."""
    return sorted(model.select().tuples())


def state():
    return {model.__name__: table(model)
            for model in (models.SalesRepLink, models.ElementContact, models.Constant)}


@pytest.fixture
def editor(login_as):
    return login_as("admin")


def undo(client, batch_id, **payload):
    return client.post(f"/api/batches/{batch_id}/undo", json=payload)


def apply_then_undo(client, url, payload):
    before = state()
    response = client.post(url, json=payload) if url != "settings" else \
        client.put("/api/settings", json=payload)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["batch_id"], body
    assert state() != before
    result = undo(client, body["batch_id"])
    assert result.status_code == 200, result.get_json()
    assert result.get_json()["conflicts"] == [] and result.get_json()["rows_restored"] > 0
    assert state() == before
    return body["batch_id"], result.get_json()["batch_id"]


@pytest.mark.parametrize("kind", ["assign", "assign_replace", "unassign", "clear", "transfer"])
def test_sales_rep_actions_are_undone_exactly(client, editor, db, scenario, people, kind):
    from autocontact.services import settings as settings_service
    settings_service.write_constants(1, {"AUTOCONTACT_ALLOW_REMOVE_ALL": "1"})
    c = people.user("rep.c")
    ids = [row[0] for row in db.execute_sql(
        "SELECT rowid FROM llx_societe WHERE entity = 1 ORDER BY rowid LIMIT 8")] + [scenario["tid"]]
    models.SalesRepLink.insert(fk_soc=ids[0], fk_user=scenario["a"], import_key="OLD1").execute()
    payloads = {
        "assign": {"action": "assign", "user_ids": [c, scenario["a"]]},
        "assign_replace": {"action": "assign", "user_ids": [c], "replace": True},
        "unassign": {"action": "unassign", "user_ids": [scenario["a"], scenario["b"]]},
        "clear": {"action": "clear"},
        "transfer": {"action": "transfer", "from_user_id": scenario["b"], "to_user_id": c},
    }
    apply_then_undo(client, "/api/salesreps", {**payloads[kind], "thirdparty_ids": ids})


@pytest.mark.parametrize("mode", ["sync", "replace"])
def test_document_updates_are_undone_exactly(client, editor, db, scenario, people, mode):
    extra = {"mode": "replace", "from_user_id": scenario["a"], "to_user_id": people.user("rep.z")} \
        if mode == "replace" else {}
    apply_then_undo(client, "/api/documents/sync", {
        "thirdparty_ids": [scenario["tid"]], "date_from": "2020-01-01", "date_to": "2030-12-31",
        "doc_types": list(TYPES) + ["contrat"], **extra})


def test_transfer_with_documents_is_undone_exactly(client, editor, db, scenario, people):
    apply_then_undo(client, "/api/salesreps", {
        "action": "transfer", "thirdparty_ids": [scenario["tid"]], "from_user_id": scenario["b"],
        "to_user_id": people.user("rep.c"),
        "documents": {"date_from": "2025-01-01", "date_to": "2025-12-31", "doc_types": list(TYPES)}})


def test_setting_change_is_undone_exactly(client, editor, db):
    client.put("/api/settings", json={"agenda_events": True})
    apply_then_undo(client, "settings", {"agenda_events": False, "allow_remove_all": True,
                                         "doc_types": {"propal": {"closed_statuses": [4]}}})


def test_double_undo_is_refused(client, editor, db, scenario, people):
    body = client.post("/api/salesreps", json={"action": "assign", "thirdparty_ids": [scenario["tid"]],
                                               "user_ids": [people.user("rep.c")]}).get_json()
    assert undo(client, body["batch_id"]).status_code == 200
    again = undo(client, body["batch_id"])
    assert again.status_code == 409 and "already been undone" in again.get_json()["error"]
    assert Batch.get_by_id(body["batch_id"]).state == "undone"
    assert undo(client, 99999999).status_code == 404


def test_dry_run_undo_changes_nothing(client, editor, db, scenario, people):
    body = client.post("/api/salesreps", json={"action": "assign", "thirdparty_ids": [scenario["tid"]],
                                               "user_ids": [people.user("rep.c")]}).get_json()
    before = state()
    dry = undo(client, body["batch_id"], dry_run=True).get_json()
    assert dry["batch_id"] is None and dry["rows_restored"] == 1
    assert state() == before and Batch.get_by_id(body["batch_id"]).state == "applied"


def test_later_changes_are_conflicts_left_alone_unless_forced(client, editor, db, scenario, people):
    c, d = people.user("rep.c"), people.user("rep.d")
    tid = scenario["tid"]
    first = client.post("/api/salesreps", json={"action": "transfer", "thirdparty_ids": [tid],
                                                "from_user_id": scenario["b"], "to_user_id": c}).get_json()
    # Someone in Dolibarr puts B back, and a later batch adds D.
    models.SalesRepLink.insert(fk_soc=tid, fk_user=scenario["b"]).execute()
    client.post("/api/salesreps", json={"action": "assign", "thirdparty_ids": [tid], "user_ids": [d]})
    result = undo(client, first["batch_id"]).get_json()
    assert [x["reason"] for x in result["conflicts"]] == ["removed by the batch, added again since"]
    assert result["rows_restored"] == 1  # C removed; B left as re-added; D untouched
    reps = {row.fk_user for row in models.SalesRepLink.select().where(models.SalesRepLink.fk_soc == tid)}
    assert reps == {scenario["b"], d}
    assert Batch.get_by_id(first["batch_id"]).state == "partly_undone"
    assert undo(client, first["batch_id"]).status_code == 409


def test_forced_undo_restores_the_original_row(client, editor, db, scenario, people):
    tid = scenario["tid"]
    original = models.SalesRepLink.get(fk_soc=tid, fk_user=scenario["b"]).rowid
    first = client.post("/api/salesreps", json={"action": "unassign", "thirdparty_ids": [tid],
                                                "user_ids": [scenario["b"]]}).get_json()
    models.SalesRepLink.insert(fk_soc=tid, fk_user=scenario["b"]).execute()
    result = undo(client, first["batch_id"], force=True).get_json()
    assert result["conflicts"] == []
    assert models.SalesRepLink.get(fk_soc=tid, fk_user=scenario["b"]).rowid == original


def test_contact_changed_in_dolibarr_is_a_conflict(client, editor, db, scenario):
    body = client.post("/api/documents/sync", json={
        "thirdparty_ids": [scenario["tid"]], "date_from": "2025-01-01", "date_to": "2025-12-31",
        "doc_types": ["propal"]}).get_json()
    doc = scenario["docs"][("propal", "in")]
    # Someone disables the new contact in Dolibarr (swapContactStatus 4 -> 5).
    models.ElementContact.update(statut=5).where(models.ElementContact.element_id == doc,
                                                 models.ElementContact.fk_socpeople == scenario["b"]).execute()
    result = undo(client, body["batch_id"]).get_json()
    reasons = sorted(x["reason"] for x in result["conflicts"])
    assert reasons == ["added by the batch, removed or changed since"]
    assert followers(db, "propal", doc) == sorted([scenario["a"], scenario["b"]])


def test_undo_needs_the_right_role(client, login_as, db, scenario, people):
    login_as("manager")
    settings_batch = client.put("/api/settings", json={"agenda_events": True}).get_json()["batch_id"]
    client.post("/logout")
    login_as("editor")
    assert undo(client, settings_batch).status_code == 403
    client.post("/logout")
    login_as("viewer")
    assert undo(client, settings_batch).status_code == 403


def test_undo_is_itself_a_batch_in_the_journal(client, editor, db, scenario, people):
    first, undo_id = apply_then_undo(client, "/api/salesreps", {
        "action": "assign", "thirdparty_ids": [scenario["tid"]], "user_ids": [people.user("rep.c")]})
    listing = client.get("/api/batches?action=undo").get_json()["batches"]
    assert listing[0]["id"] == undo_id and listing[0]["undo_of"] == first
    detail = client.get(f"/api/batches/{undo_id}").get_json()
    assert [row["change"] for row in detail["rows"]] == ["removed"]


def test_agenda_events_only_when_enabled_and_readable_by_dolibarr(client, editor, db, scenario,
                                                                  people):
    from autocontact.services import agenda
    tid, rep = scenario["tid"], people.user("rep.agenda")
    client.post("/api/salesreps", json={"action": "assign", "thirdparty_ids": [tid], "user_ids": [rep]})
    assert agenda.events_for(tid, 1) == []
    client.put("/api/settings", json={"agenda_events": True})
    batch_id = client.post("/api/salesreps", json={"action": "unassign", "thirdparty_ids": [tid],
                                                   "user_ids": [rep]}).get_json()["batch_id"]
    client.post("/api/documents/sync", json={"thirdparty_ids": [tid], "date_from": "2025-01-01",
                                             "date_to": "2025-12-31", "doc_types": ["propal"]})
    undo(client, batch_id)
    events = agenda.events_for(tid, 1)
    assert len(events) == 3
    assert all(f"#{batch_id}" in (e.get("label") or "") + (e.get("note") or "") or "batch" in
               (e.get("label") or "") for e in events)
    rows = db.execute_sql(f"SELECT COUNT(*) FROM llx_actioncomm WHERE fk_soc = {int(tid)}"
                          " AND code = 'AC_AUTOCONTACT'").fetchone()[0]
    assert rows == 3


def test_undo_skips_rows_of_deleted_thirdparties_and_documents(client, editor, db, scenario, people):
    other = models.Thirdparty.insert(name="Soon gone", entity=1, client=1).execute()
    models.SalesRepLink.insert(fk_soc=other, fk_user=scenario["b"]).execute()
    first = client.post("/api/salesreps", json={"action": "unassign", "thirdparty_ids": [scenario["tid"], other],
                                                "user_ids": [scenario["b"]]}).get_json()
    models.Thirdparty.delete().where(models.Thirdparty.rowid == other).execute()
    result = undo(client, first["batch_id"])
    assert result.status_code == 200
    body = result.get_json()
    assert body["rows_restored"] == 1
    assert [c["reason"] for c in body["conflicts"]] == [
        "removed by the batch; the thirdparty or user is gone since"]
    assert models.SalesRepLink.select().where(models.SalesRepLink.fk_soc == other).count() == 0
    docs = client.post("/api/documents/sync", json={
        "thirdparty_ids": [scenario["tid"]], "date_from": "2025-01-01", "date_to": "2025-12-31",
        "doc_types": ["propal"]}).get_json()
    gone = scenario["docs"][("propal", "in")]
    models.DOCUMENT_MODELS["propal"].delete().where(models.DOCUMENT_MODELS["propal"].rowid == gone).execute()
    body = undo(client, docs["batch_id"], force=True).get_json()
    assert [c["reason"] for c in body["conflicts"]] == ["removed by the batch; the document is gone since"]
    restored_on_gone = models.ElementContact.select().where(
        models.ElementContact.element_id == gone, models.ElementContact.fk_socpeople == scenario["a"]).count()
    assert restored_on_gone == 0


def test_an_undo_cannot_be_undone(client, editor, db, scenario, people):
    _, undo_id = apply_then_undo(client, "/api/salesreps", {
        "action": "assign", "thirdparty_ids": [scenario["tid"]], "user_ids": [people.user("rep.q")]})
    response = undo(client, undo_id)
    assert response.status_code == 409 and "run it again" in response.get_json()["error"]
