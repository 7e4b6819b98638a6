"""The thirdparty list, its mass-action dialog, the card and the journal entry."""
import pytest
from playhouse.test_utils import count_queries

from autocontact.dolibarr import doctypes, models
from autocontact.services import settings as settings_service

from conftest import html
from test_permissions import snapshot
from test_salesreps import reps


def first_ids(db, count=3):
    return [row[0] for row in db.execute_sql(
        f"SELECT rowid FROM llx_societe WHERE entity = 1 ORDER BY rowid LIMIT {count}")]


def test_list_is_a_full_page_and_a_fragment_for_htmx(client, login_as, db):
    login_as("viewer")
    page = html(client.get("/thirdparties?kind=customer"))
    assert page.find("h1").get_text() == "Thirdparties"
    assert page.find("select", id="kind").find("option", selected=True)["value"] == "customer"
    response = client.get("/thirdparties?kind=customer&status=&rep=&q=&sort=name&per_page=25",
                          headers={"HX-Request": "true"})
    fragment = html(response)
    assert fragment.find("html") is None and fragment.find("div", id="results")
    assert response.headers["HX-Push-Url"] == "/thirdparties?kind=customer"
    assert "HX-Request" in response.headers["Vary"]
    customers = db.execute_sql("SELECT COUNT(*) FROM llx_societe WHERE entity = 1"
                               " AND client IN (1, 3)").fetchone()[0]
    assert fragment.find(class_="count").get_text(strip=True).startswith(f"{customers:,} thirdpart")


def test_rows_show_reps_as_chips_with_inactive_marked(client, login_as, db, people):
    tid = first_ids(db, 1)[0]
    gone = people.user("gone.rep", firstname="Gino", lastname="Gone", statut=0)
    models.SalesRepLink.insert(fk_soc=tid, fk_user=gone).execute()
    login_as("viewer")
    page = html(client.get(f"/thirdparties?rep={gone}"))
    row = page.find("tr", id=f"thirdparty-{tid}")
    chip = row.find("span", class_="chip-inactive")
    assert "Gino Gone" in chip.get_text() and "inactive" in chip.get_text()


def test_page_queries_do_not_grow_with_rows(client, login_as):
    login_as("viewer")
    counts = []
    for size in (25, 100):
        with count_queries() as counter:
            assert client.get(f"/thirdparties?per_page={size}").status_code == 200
        counts.append(counter.count)
    assert counts[0] == counts[1]


def test_bad_filter_is_a_400_page(client, login_as):
    login_as("viewer")
    response = client.get("/thirdparties?kind=alien")
    assert response.status_code == 400 and "Unknown kind" in response.get_data(as_text=True)


def test_mass_actions_only_for_editors_and_remove_all_only_when_enabled(client, login_as):
    login_as("viewer")
    assert not html(client.get("/thirdparties")).find(class_="actions")
    client.post("/logout")
    login_as("editor")
    buttons = [b.get_text(strip=True) for b in html(client.get("/thirdparties")).select(".actions button")]
    assert buttons == ["Assign…", "Unassign…", "Transfer…"]
    settings_service.write_constants(1, {"AUTOCONTACT_ALLOW_REMOVE_ALL": "1"})
    buttons = [b.get_text(strip=True) for b in html(client.get("/thirdparties")).select(".actions button")]
    assert "Remove all…" in buttons


def test_assign_dialog_offers_active_internal_users_only(client, login_as, db, people):
    people.user("inactive.one", statut=0)
    people.user("external.one", fk_soc=first_ids(db, 1)[0])
    login_as("editor")
    ids = first_ids(db)
    dialog = html(client.get("/thirdparties/mass/assign", query_string={"ids": ids},
                             headers={"HX-Request": "true"}))
    offered = {o.get_text() for o in dialog.find("select", id="user_ids").find_all("option")}
    assert not any("inactive.one" in text or "external.one" in text for text in offered)
    assert f"{len(ids)} thirdparties selected." in dialog.get_text()


def test_unassign_dialog_offers_reps_present_inactive_included(client, login_as, db, people):
    ids = first_ids(db)
    gone = people.user("gone.rep", firstname="Gino", lastname="Gone", statut=0)
    models.SalesRepLink.insert(fk_soc=ids[0], fk_user=gone).execute()
    login_as("editor")
    dialog = html(client.get("/thirdparties/mass/unassign", query_string={"ids": ids}))
    options = {o["value"]: o.get_text() for o in dialog.find("select", id="user_ids").find_all("option")}
    assert options[str(gone)] == "Gino Gone (inactive)"
    expected = {str(row[0]) for row in db.execute_sql(
        "SELECT DISTINCT fk_user FROM llx_societe_commerciaux WHERE fk_soc IN (%s)"
        % ",".join(map(str, ids)))}
    assert set(options) == expected


def test_empty_selection_says_so(client, login_as):
    login_as("editor")
    response = client.get("/thirdparties/mass/assign", headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "selection is empty" in html(response).find(attrs={"role": "alert"}).get_text()


def test_preview_changes_nothing_then_confirm_applies(client, login_as, db, people):
    ids = first_ids(db)
    rep = people.user("new.rep", firstname="Nora", lastname="New")
    login_as("editor")
    before = snapshot()
    form = {"ids": ids, "user_ids": [rep]}
    preview = client.post("/thirdparties/mass/assign/preview", data=form,
                          headers={"HX-Request": "true"})
    assert preview.status_code == 200 and snapshot() == before
    text = html(preview).get_text(" ", strip=True)
    assert f"{len(ids)} links added" in text.replace(" link s", " links")
    says = [li.get_text(" ", strip=True) for li in html(preview).select("ul.what-happens li")]
    assert says == [f"Add Nora New as sales rep to {len(ids)} thirdparties."]
    confirm = html(preview).find("form")
    assert confirm["hx-post"].endswith("/apply")
    hidden = {(i["name"], i["value"]) for i in confirm.find_all("input", type="hidden")
              if i["name"] != "csrf_token"}
    assert hidden == {("ids", str(i)) for i in ids} | {("user_ids", str(rep)), ("predicted", "3")}
    applied = client.post("/thirdparties/mass/assign/apply", data=form,
                          headers={"HX-Request": "true"})
    assert applied.headers["HX-Trigger"] == "salesreps-changed"
    link = html(applied).find("a", string=lambda s: s and s.startswith("Journal entry #"))
    assert all(rep in reps(db, tid) for tid in ids)
    entry = html(client.get(link["href"]))
    assert entry.find("h1").get_text().startswith("Journal entry #")
    assert len(entry.find("table").find("tbody").find_all("tr")) == len(ids)


def test_filter_scope_sends_the_filter_not_ids(client, login_as, db, people):
    rep = people.user("scope.rep")
    login_as("editor")
    applied = client.post("/thirdparties/mass/assign/apply", data={
        "scope": "filter", "kind": "supplier", "user_ids": [rep]})
    assert applied.status_code == 200
    suppliers = {row[0] for row in db.execute_sql(
        "SELECT rowid FROM llx_societe WHERE entity = 1 AND fournisseur = 1")}
    linked = {row[0] for row in db.execute_sql(
        f"SELECT fk_soc FROM llx_societe_commerciaux WHERE fk_user = {rep}")}
    assert linked == suppliers


def test_invalid_choice_comes_back_in_the_dialog(client, login_as, db, people):
    gone = people.user("gone.rep", statut=0)
    login_as("editor")
    before = snapshot()
    response = client.post("/thirdparties/mass/assign/preview",
                           data={"ids": first_ids(db), "user_ids": [gone]},
                           headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "disabled" in html(response).find(attrs={"role": "alert"}).get_text()
    assert snapshot() == before


def test_card_and_journal_entry_respect_the_entity(client, login_as, db):
    login_as("viewer")
    tid = first_ids(db, 1)[0]
    assert client.get(f"/thirdparties/{tid}").status_code == 200
    other = models.Thirdparty.insert(name="Elsewhere", entity=2).execute()
    assert client.get(f"/thirdparties/{other}").status_code == 404
    assert client.get("/journal/99999999").status_code == 404


@pytest.mark.parametrize("path", ["/thirdparties/mass/promote", "/thirdparties/mass/assign/launch"])
def test_unknown_actions_are_404(client, login_as, path):
    login_as("editor")
    method = client.get if path.count("/") == 3 else client.post
    assert method(path).status_code == 404


def test_dialog_cascade_updates_documents_too(client, login_as, db, people):
    from test_documents import followers
    tid = models.Thirdparty.insert(name="Cascata S.p.A.", entity=1, client=1).execute()
    old, new = people.user("old.rep"), people.user("new.rep")
    models.SalesRepLink.insert(fk_soc=tid, fk_user=old).execute()
    propal = models.DOCUMENT_MODELS["propal"]
    doc = propal.insert({propal.ref: "CASC-1", propal.entity: 1, propal.fk_soc: tid,
                         propal.status: 1, propal.date: "2025-05-05"}).execute()
    type_id = models.ContactType.get(element="propal", code="SALESREPFOLL", source="internal").rowid
    models.ElementContact.insert(statut=4, element_id=doc, fk_c_type_contact=type_id,
                                 fk_socpeople=old).execute()
    login_as("editor")
    form = {"ids": [tid], "from_user_id": old, "to_user_id": new, "documents": "1",
            "date_from": "2025-01-01", "date_to": "2025-12-31", "doc_types": ["propal"],
            "statuses": "all"}
    preview = html(client.post("/thirdparties/mass/transfer/preview", data=form))
    assert "1 to change" in preview.get_text(" ", strip=True)
    hidden = {i["name"] for i in preview.find_all("form")[-1].find_all("input", type="hidden")}
    assert {"documents", "date_from", "date_to", "doc_types", "statuses"} <= hidden
    assert followers(db, "propal", doc) == [old]
    client.post("/thirdparties/mass/transfer/apply", data=form)
    assert followers(db, "propal", doc) == [new]


def test_card_panel_counts_documents_that_differ(client, login_as, db, scenario):
    login_as("viewer")
    page = html(client.get(f"/thirdparties/{scenario['tid']}?date_from=2025-01-01&date_to=2025-12-31"))
    cells = {td["data-type"]: td.get_text(strip=True) for td in page.select("td[data-type]")}
    # Two documents of each type in 2025 (one open, one closed) name rep A, not rep B.
    assert cells["propal"] == cells["commande"] == cells["facture"] == "2"
    assert cells["contrat"] == "2"
    assert not page.find("button", string="Update document contacts")
    assert client.get(f"/thirdparties/{scenario['tid']}/documents").status_code == 403


def test_card_rejects_a_bad_period(client, login_as, scenario):
    login_as("viewer")
    assert client.get(f"/thirdparties/{scenario['tid']}?date_from=2025-02-30").status_code == 400
    assert client.get(f"/thirdparties/{scenario['tid']}?date_from=2025-05-01"
                      "&date_to=2025-01-01").status_code == 400


def test_document_dialog_preview_then_apply(client, login_as, db, scenario):
    from test_documents import followers
    login_as("editor")
    dialog = html(client.get(f"/thirdparties/{scenario['tid']}/documents",
                             headers={"HX-Request": "true"}))
    checked = {i["value"] for i in dialog.select("input[name=doc_types][checked]")}
    assert checked == {d.element for d in doctypes.DOC_TYPES}
    form = {"date_from": "2025-01-01", "date_to": "2025-12-31",
            "doc_types": ["propal", "commande", "facture"], "statuses": "open", "mode": "sync"}
    before = snapshot()
    preview = client.post(f"/thirdparties/{scenario['tid']}/documents/preview", data=form,
                          headers={"HX-Request": "true"})
    assert preview.status_code == 200 and snapshot() == before
    rows = html(preview).select("table")[1].find("tbody").find_all("tr")
    assert len(rows) == 3
    assert all("Andrea Anziani" in r.get_text() and "Beatrice Bassi" in r.get_text() for r in rows)
    applied = client.post(f"/thirdparties/{scenario['tid']}/documents/apply", data=form,
                          headers={"HX-Request": "true"})
    assert applied.headers["HX-Trigger"] == "documents-changed"
    assert followers(db, "propal", scenario["docs"][("propal", "in")]) == [scenario["b"]]
    panel = html(client.get(f"/thirdparties/{scenario['tid']}?date_from=2025-01-01&date_to=2025-12-31",
                            headers={"HX-Request": "true"}))
    assert panel.find("html") is None
    cells = {td["data-type"]: td.get_text(strip=True) for td in panel.select("td[data-type]")}
    assert cells["propal"] == "1"  # the closed one, left alone by "open only"


def test_document_dialog_errors_stay_in_the_dialog(client, login_as, db, scenario):
    login_as("editor")
    before = snapshot()
    response = client.post(f"/thirdparties/{scenario['tid']}/documents/preview",
                           data={"date_from": "2025-05-01", "date_to": "2025-01-01",
                                 "doc_types": ["propal"]}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "before 'date_from'" in html(response).find(attrs={"role": "alert"}).get_text()
    assert snapshot() == before


def test_viewer_lists_the_documents_that_differ_but_cannot_apply(client, login_as, db, scenario):
    login_as("viewer")
    page = html(client.get(f"/thirdparties/{scenario['tid']}?date_from=2025-01-01&date_to=2025-12-31"))
    form = page.select_one("td[data-type=propal] form")
    data = {i["name"]: i["value"] for i in form.find_all("input") if i["name"] != "csrf_token"}
    preview = client.post(form["action"], data=data, headers={"HX-Request": "true"})
    assert preview.status_code == 200
    assert len(html(preview).select("table")[1].find("tbody").find_all("tr")) == 2
    assert not html(preview).find("button", string=lambda s: s and s.startswith("Apply"))
    before = snapshot()
    applied = client.post(form["action"].replace("/preview", "/apply"), data=data)
    assert applied.status_code == 403 and snapshot() == before
