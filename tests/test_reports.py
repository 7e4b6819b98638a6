"""The consistency report and the portfolios (issue #9), on SQLite and on MariaDB with
Dolibarr's real dump.

Every expected figure is computed here, independently of the services: the raw rows
are read with plain SQL and counted in Python with the rule written out below.
"""
import csv
import io
from collections import Counter, defaultdict
from datetime import date

import pytest
from playhouse.test_utils import count_queries

from autocontact.dolibarr import models
from autocontact.services import reports

from conftest import contact_type_id, html
from test_documents import followers
from test_permissions import snapshot

# Where each document type lives in Dolibarr, the date that places it in a period by
# default, and its follow-up contact code (FACTS.md sections 1 and 2), written out here
# rather than read from the registry.
TYPES = {
    "propal": ("llx_propal", "datep", "SALESREPFOLL"),
    "commande": ("llx_commande", "date_commande", "SALESREPFOLL"),
    "facture": ("llx_facture", "datef", "SALESREPFOLL"),
    "order_supplier": ("llx_commande_fournisseur", "date_commande", "SALESREPFOLL"),
    "invoice_supplier": ("llx_facture_fourn", "datef", "SALESREPFOLL"),
    "supplier_proposal": ("llx_supplier_proposal", "datec", "SALESREPFOLL"),
    "contrat": ("llx_contrat", "date_contrat", "SALESREPFOLL"),
    "fichinter": ("llx_fichinter", "datei", "INTERREPFOLL"),
    "shipping": ("llx_expedition", "date_expedition", "SALESREPFOLL"),
    "project": ("llx_projet", "dateo", "PROJECTLEADER"),
}
WIDE = {"date_from": "2000-01-01", "date_to": "2040-12-31"}   # every document of both datasets
YEAR = {"date_from": "2025-01-01", "date_to": "2025-12-31"}


def rows(db, sql, *params):
    return [tuple(row) for row in db.execute_sql(sql.replace("?", db.param), params).fetchall()]


class World:
    """Dolibarr's rows, read with plain SQL, and the report's rules applied in Python."""

    def __init__(self, db, date_from, date_to, entity=1):
        self.users = {rowid: (statut, fk_soc, user_entity) for rowid, statut, fk_soc, user_entity
                      in rows(db, "SELECT rowid, statut, fk_soc, entity FROM llx_user")}
        self.active = {u for u, (statut, fk_soc, user_entity) in self.users.items()
                       if statut == 1 and not fk_soc and user_entity in (0, entity)}
        self.links = rows(db, "SELECT fk_soc, fk_user FROM llx_societe_commerciaux")
        self.thirdparties = {t for (t,) in rows(db, "SELECT rowid FROM llx_societe WHERE entity = ?",
                                                entity)}
        self.reps = defaultdict(set)          # thirdparty -> active reps
        for soc, user in self.links:
            if user in self.active:
                self.reps[soc].add(user)
        self.docs = {}                         # (element, id) -> (fk_soc, 'YYYY-MM-DD', followers)
        for element, (table, column, code) in TYPES.items():
            [(type_id,)] = rows(db, "SELECT rowid FROM llx_c_type_contact WHERE element = ?"
                                    " AND code = ? AND source = 'internal' AND active = 1",
                                element, code)
            people = defaultdict(set)
            for element_id, person in rows(db, "SELECT element_id, fk_socpeople FROM"
                                               " llx_element_contact WHERE fk_c_type_contact = ?",
                                           type_id):
                people[element_id].add(person)
            for rowid, soc, day in rows(db, f"SELECT rowid, fk_soc, {column} FROM {table}"
                                            " WHERE entity = ?", entity):
                day = str(day)[:10] if day else None
                if day and date_from <= day <= date_to:
                    self.docs[element, rowid] = (soc, day, people[rowid])

    def not_matching(self, key):
        soc, _, people = self.docs[key]
        return soc is not None and bool(self.reps[soc]) and people != self.reps[soc]

    def by_type(self, element):
        mine = [key for key in self.docs if key[0] == element]
        soc = {key: self.docs[key][0] for key in mine}
        return {
            "documents": len(mine),
            "not_matching": sum(self.not_matching(key) for key in mine),
            "inactive_follow_up": sum(any(self.users.get(p, (1,))[0] == 0
                                          for p in self.docs[key][2]) for key in mine),
            "without_follow_up": sum(not self.docs[key][2] for key in mine),
            "thirdparty_without_active_rep": sum(soc[key] is not None and not self.reps[soc[key]]
                                                 for key in mine),
            "without_thirdparty": sum(soc[key] is None for key in mine),
        }

    def thirdparty_figures(self):
        linked = defaultdict(set)
        for soc, user in self.links:
            linked[soc].add(user)
        mine = self.thirdparties
        return {"total": len(mine),
                "without_sales_rep": sum(1 for t in mine if not linked[t]),
                "only_inactive_sales_reps": sum(1 for t in mine if linked[t] and not any(
                    self.users.get(u, (0,))[0] == 1 for u in linked[t]))}


@pytest.fixture
def viewer(login_as):
    return login_as("viewer")


@pytest.fixture
def editor(login_as):
    return login_as("editor")


def report(client, **params):
    response = client.get("/api/reports/consistency", query_string={"per_page": 1000, **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def user_name(db, user_id):
    [(first, last, login)] = rows(db, "SELECT firstname, lastname, login FROM llx_user"
                                      " WHERE rowid = ?", user_id)
    return " ".join(p for p in (first, last) if p) or login


# --- the report's figures -----------------------------------------------------------

@pytest.mark.parametrize("period", [WIDE, YEAR], ids=["wide", "2025"])
def test_report_figures_equal_an_independent_count(client, viewer, db, scenario, people, period):
    # More cases beside the scenario: a disabled rep's documents, one without a follow-up,
    # a thirdparty with two reps where only one follows.
    gone = people.user("rep.gone", statut=0, lastname="Gone")
    other = models.Thirdparty.insert(name="Second S.p.A.", entity=1, client=1).execute()
    models.SalesRepLink.insert(fk_soc=other, fk_user=scenario["a"]).execute()
    models.SalesRepLink.insert(fk_soc=other, fk_user=scenario["b"]).execute()
    propal = models.DOCUMENT_MODELS["propal"]
    for ref, who in (("X-1", [scenario["a"]]), ("X-2", [gone]), ("X-3", []),
                     ("X-4", [scenario["a"], scenario["b"]])):
        doc = propal.insert({propal.ref: ref, propal.entity: 1, propal.fk_soc: other,
                             propal.status: 1, propal.date: "2025-04-02"}).execute()
        for person in who:
            models.ElementContact.insert(statut=4, element_id=doc, fk_socpeople=person,
                                         fk_c_type_contact=contact_type_id("propal")).execute()

    body = report(client, **period)
    world = World(db, period["date_from"], period["date_to"])
    assert body["date_from"] == period["date_from"] and body["date_to"] == period["date_to"]
    assert body["doc_types"] == list(TYPES)
    assert body["thirdparties"] == world.thirdparty_figures()

    by_type = {row["doc_type"]: row for row in body["documents_by_type"]}
    for element in TYPES:
        expected = world.by_type(element)
        assert {key: by_type[element][key] for key in expected} == expected, element
    assert sum(row["not_matching"] for row in by_type.values()) == \
        body["documents_totals"]["not_matching"] > 0

    wrong = [key for key in world.docs if world.not_matching(key)]
    per_thirdparty = Counter(world.docs[key][0] for key in wrong)
    table = body["not_matching_by_thirdparty"]
    assert table["total"] == len(per_thirdparty)
    assert {row["thirdparty_id"]: row["documents"] for row in table["rows"]} == per_thirdparty
    for row in table["rows"]:
        assert sum(row["per_type"].values()) == row["documents"]
    assert [row["documents"] for row in table["rows"]] == sorted(per_thirdparty.values(),
                                                                 reverse=True)

    per_rep = Counter(rep for key in wrong for rep in world.reps[world.docs[key][0]])
    assert {row["user_id"]: row["documents"] for row in body["not_matching_by_sales_rep"]} == \
        per_rep
    thirdparties_of = defaultdict(set)
    for key in wrong:
        for rep in world.reps[world.docs[key][0]]:
            thirdparties_of[rep].add(world.docs[key][0])
    assert {row["user_id"]: row["thirdparties"] for row in body["not_matching_by_sales_rep"]} \
        == {rep: len(socs) for rep, socs in thirdparties_of.items()}

    per_month = Counter(world.docs[key][1][:7] for key in wrong)
    months = {row["month"]: row["documents"] for row in body["not_matching_by_month"]}
    assert {month: count for month, count in months.items() if count} == per_month
    assert len(months) == len(reports.months(date.fromisoformat(period["date_from"]),
                                             date.fromisoformat(period["date_to"])))

    inactive = {u for u, (statut, _, _) in world.users.items() if statut == 0}
    per_inactive = Counter(p for key in world.docs for p in world.docs[key][2] if p in inactive)
    assert {row["user_id"]: row["documents"] for row in body["inactive_follow_up_by_user"]} == \
        per_inactive
    assert per_inactive[gone] == 1
    per_user = Counter(p for key in world.docs for p in world.docs[key][2] if p in world.users)
    assert {row["user_id"]: row["documents"] for row in body["documents_by_follow_up_user"]} == \
        per_user

    disabled = {u for u, (statut, *_) in world.users.items() if statut == 0}
    linked = Counter(soc_user[1] for soc_user in set(world.links)
                     if soc_user[1] in disabled and soc_user[0] in world.thirdparties)
    assert {row["user_id"]: row["thirdparties"] for row in body["inactive_sales_reps"]} == linked


def test_the_report_matches_the_thirdparty_card(client, viewer, scenario):
    body = report(client, doc_types="propal,commande,facture,contrat", **YEAR)
    [row] = [r for r in body["not_matching_by_thirdparty"]["rows"]
             if r["thirdparty_id"] == scenario["tid"]]
    card = html(client.get(f"/thirdparties/{scenario['tid']}", query_string=YEAR))
    cells = {td["data-type"]: int(td.get_text(strip=True)) for td in card.select("td[data-type]")}
    assert row["per_type"] == {e: cells[e] for e in ("propal", "commande", "facture", "contrat")}
    assert row["documents"] == 8
    assert row["sales_reps"] == [{"user_id": scenario["b"], "name": "Beatrice Bassi",
                                  "active": True}]


def test_a_fixed_number_of_queries_whatever_the_types(app, db, scenario):
    from autocontact.services import settings as settings_service
    settings = settings_service.load(1)
    counts = []
    for elements in (["propal"], list(TYPES)):
        parsed = reports.parse_request({"doc_types": elements, **YEAR}, 1, settings)
        with count_queries() as counter:
            reports.consistency_report(parsed, 1)
        counts.append(counter.count)
    # The active users; by type and month; by rep; by thirdparty and its page's sales
    # reps; the follow-up users; the two thirdparty figures.
    assert counts[0] == counts[1] == 8, counts


# --- the report's page ----------------------------------------------------------------

def test_report_page_shows_the_figures_and_leads_to_the_fixes(client, editor, db, scenario):
    page = html(client.get("/reports/consistency", query_string=YEAR))
    body = report(client, **YEAR)
    cells = {tr["data-type"]: tr.select_one("[data-figure=not_matching]").get_text(strip=True)
             for tr in page.select("#documents-by-type tr[data-type]")}
    expected = {row["doc_type"]: f"{row['not_matching']:,}" for row in body["documents_by_type"]}
    expected["all"] = f"{body['documents_totals']['not_matching']:,}"
    assert cells == expected
    line = page.select_one(f"#not-matching-by-thirdparty tr[data-thirdparty='{scenario['tid']}']")
    assert line.select_one("[data-figure=documents]").get_text(strip=True) == "8"
    fix = line.find("a", class_="button")
    assert fix["hx-get"] == fix["href"] and fix["hx-target"] == "#dialog-body"

    # The fix: the document update dialog of that thirdparty, the period filled in.
    dialog = html(client.get(fix["href"], headers={"HX-Request": "true"}))
    assert dialog.find("input", id="date_from")["value"] == YEAR["date_from"]
    assert dialog.find("input", id="date_to")["value"] == YEAR["date_to"]
    form = {"date_from": YEAR["date_from"], "date_to": YEAR["date_to"], "mode": "sync",
            "statuses": "all", "doc_types": [i["value"] for i in dialog.select(
                "input[name=doc_types][checked]")]}
    applied = client.post(f"/thirdparties/{scenario['tid']}/documents/apply", data=form,
                          headers={"HX-Request": "true"})
    assert applied.headers["HX-Trigger"] == "documents-changed"
    after = html(client.get("/reports/consistency", query_string=YEAR,
                            headers={"HX-Request": "true", "HX-Trigger": "report"}))
    assert after.find("html") is None and after.select_one("#report")
    assert not after.select(f"#not-matching-by-thirdparty tr[data-thirdparty='{scenario['tid']}']")
    total = after.select_one("#documents-by-type tr[data-type=all] [data-figure=not_matching]")
    assert int(total.get_text(strip=True).replace(",", "")) == \
        body["documents_totals"]["not_matching"] - 8


def test_report_lines_for_thirdparties_lead_to_the_filtered_list(client, editor, db, scenario):
    page = html(client.get("/reports/consistency", query_string=YEAR))
    link = page.select_one("tr[data-line=without_sales_rep] a")
    assert link["href"].startswith("/thirdparties?") and "rep=none" in link["href"]
    listed = html(client.get(link["href"]))
    assert listed.find("input", id="scope-filter").has_attr("checked")
    body = report(client, **YEAR)
    count = listed.select_one("p.count").get_text(" ", strip=True)
    assert count.startswith(f"{body['thirdparties']['without_sales_rep']:,} thirdpart")


def test_report_fix_for_a_sales_rep_updates_the_documents_of_their_thirdparties(
        client, editor, db, scenario):
    page = html(client.get("/reports/consistency", query_string=YEAR))
    line = page.select_one(f"#not-matching-by-rep tr[data-user='{scenario['b']}']")
    fix = line.find("a", class_="button")
    dialog = html(client.get(fix["href"], headers={"HX-Request": "true"}))
    assert dialog.find(id="dialog-title").get_text(strip=True) == \
        "Update document contacts — 1 thirdparty"
    hidden = {i["name"]: i["value"] for i in dialog.select("form input[type=hidden]")}
    assert hidden["scope"] == "filter" and hidden["rep"] == str(scenario["b"])
    form = {**hidden, "date_from": YEAR["date_from"], "date_to": YEAR["date_to"],
            "mode": "sync", "statuses": "all", "doc_types": list(TYPES)}
    form.pop("csrf_token")
    preview = client.post("/thirdparties/documents/preview", data=form,
                          headers={"HX-Request": "true"})
    assert preview.status_code == 200
    assert "8 documents to change" in " ".join(html(preview).get_text().split())
    applied = client.post("/thirdparties/documents/apply", data=form,
                          headers={"HX-Request": "true"})
    assert applied.headers["HX-Trigger"] == "documents-changed"
    assert followers(db, "propal", scenario["docs"][("propal", "in")]) == [scenario["b"]]
    assert followers(db, "propal", scenario["docs"][("propal", "before")]) == [scenario["a"]]
    after = report(client, **YEAR)
    assert scenario["b"] not in {row["user_id"] for row in after["not_matching_by_sales_rep"]}


def test_viewers_see_the_report_without_fixes(client, viewer, scenario):
    page = html(client.get("/reports/consistency", query_string=YEAR))
    assert page.select("#documents-by-type tbody tr")
    assert not page.select("#report a.button")
    assert client.get("/thirdparties/documents", query_string={"scope": "filter"}).status_code \
        == 403
    before = snapshot()
    response = client.post("/thirdparties/documents/apply",
                           data={"scope": "filter", "doc_types": ["propal"], **YEAR})
    assert response.status_code == 403 and snapshot() == before


def test_charts_are_svg_with_their_figures_in_text(client, viewer, scenario):
    page = html(client.get("/reports/consistency", query_string=YEAR))
    for chart_id in ("chart-months", "chart-users"):
        svg = page.select_one(f"#{chart_id} svg")
        assert svg["role"] == "img" and svg.find("title").get_text()
        assert svg.select("rect") and svg.find("desc").get_text()
        assert page.select(f"#{chart_id} ul.legend li")
    body = report(client, **YEAR)
    months = page.select("#not-matching-by-month tbody tr")
    assert len(months) == 12
    assert sum(int(tr.find("td").get_text(strip=True).replace(",", "")) for tr in months) == \
        body["documents_totals"]["not_matching"]


def test_report_htmx_requests_get_the_block_and_push_the_url(client, viewer):
    response = client.get("/reports/consistency", query_string={**YEAR, "doc_types": "propal"},
                          headers={"HX-Request": "true"})
    assert html(response).find("html") is None
    assert response.headers["HX-Push-Url"].startswith("/reports/consistency?date_from=2025-01-01")
    bad = client.get("/reports/consistency", query_string={"date_from": "2025-02-30"},
                     headers={"HX-Request": "true"})
    assert bad.status_code == 400
    assert "not a real date" in html(bad).find(attrs={"role": "alert"}).get_text()
    full = client.get("/reports/consistency", query_string={"date_to": "1999-01-01"})
    assert full.status_code == 400 and html(full).find("form", id="report-filters")


def test_every_report_table_exports_as_csv(client, viewer, db, scenario, people):
    models.Thirdparty.update(name="=HYPERLINK(\"x\")").where(
        models.Thirdparty.rowid == scenario["tid"]).execute()
    gone = people.user("rep.gone", statut=0)   # so that every table has a line
    models.ElementContact.insert(statut=4, element_id=scenario["docs"][("propal", "in")],
                                 fk_socpeople=gone,
                                 fk_c_type_contact=contact_type_id("propal")).execute()
    page = html(client.get("/reports/consistency", query_string=YEAR))
    links = {a["href"] for a in page.select("#report a.csv")}
    from autocontact.web.reports import TABLES
    assert {link.split("?")[0].rsplit("/", 1)[1][:-4] for link in links} == set(TABLES)
    for link in links:
        response = client.get(link)
        assert response.status_code == 200 and response.mimetype == "text/csv"
        table = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
        assert table[0]
        if "not_matching_by_thirdparty" in link:
            [row] = [r for r in table[1:] if r[0] == str(scenario["tid"])]
            assert row[1] == "'=HYPERLINK(\"x\")" and row[3] == "8"
    assert client.get("/reports/consistency/nothing.csv").status_code == 404


@pytest.mark.parametrize("params, field", [
    ({"date_from": "2025-1-1"}, "date_from"),
    ({"date_from": "2025-02-30"}, "date_from"),
    ({"date_to": "tomorrow"}, "date_to"),
    ({"date_from": "2025-05-01", "date_to": "2025-01-01"}, "date_to"),
    ({"date_from": "0001-01-01", "date_to": "9999-12-31"}, "date_to"),
    ({"date_from": "２０２５-01-01"}, "date_from"),
    ({"doc_types": "propal,invoice"}, "doc_types"),
    ({"page": "0"}, "page"),
    ({"page": "x"}, "page"),
    ({"per_page": "1001"}, "per_page"),
    ({"date_form": "2025-01-01"}, "date_form"),
])
def test_report_api_refuses_bad_input(client, viewer, params, field):
    response = client.get("/api/reports/consistency", query_string=params)
    assert response.status_code == 400
    assert response.get_json()["field"] == field and response.get_json()["error"]


def test_report_needs_a_login(client):
    assert client.get("/api/reports/consistency").status_code == 401
    assert client.get("/reports/consistency").status_code == 302


# --- Dolibarr's modules ---------------------------------------------------------------

def switch_module(db, module, value):
    models.Constant.delete().where(models.Constant.name == f"MAIN_MODULE_{module}",
                                   models.Constant.entity == 1).execute()
    models.Constant.insert(name=f"MAIN_MODULE_{module}", entity=1, value=value).execute()


def test_a_disabled_module_hides_its_document_type(client, login_as, db, scenario):
    login_as("admin")
    switch_module(db, "PROPALE", "0")

    setup = html(client.get("/setup"))
    row = setup.select_one("tr[data-type=propal]")
    assert row.select_one("[data-availability=unavailable]")
    assert row.select_one("[data-module=off]") and "MAIN_MODULE_PROPALE" in row.get_text()
    assert setup.select_one("tr[data-type=commande] [data-module=on]")
    settings = client.get("/api/settings").get_json()
    assert settings["availability"]["propal"]["available"] is False
    assert "MAIN_MODULE_PROPALE" in settings["availability"]["propal"]["reason"]
    assert settings["availability"]["commande"] == {
        "module_constant": "MAIN_MODULE_COMMANDE", "module_enabled": True, "available": True,
        "reason": None}

    dialog = html(client.get(f"/thirdparties/{scenario['tid']}/documents"))
    assert "propal" not in {i["value"] for i in dialog.select("input[name=doc_types]")}
    assert dialog.select_one("input[value=propal][disabled]")
    mass = html(client.get("/thirdparties/mass/transfer", query_string={"ids": scenario["tid"]}))
    assert "propal" not in {i["value"] for i in mass.select("input[name=doc_types]")}
    card = html(client.get(f"/thirdparties/{scenario['tid']}", query_string=YEAR))
    assert "propal" not in {td["data-type"] for td in card.select("td[data-type]")}

    before = snapshot()
    refused = client.post("/api/documents/sync", json={
        "thirdparty_ids": [scenario["tid"]], "doc_types": ["propal"], **YEAR})
    assert refused.status_code == 400
    assert refused.get_json()["field"] == "doc_types"
    assert "MAIN_MODULE_PROPALE" in refused.get_json()["error"]
    refused = client.post("/api/salesreps", json={
        "action": "transfer", "thirdparty_ids": [scenario["tid"]], "from_user_id": scenario["b"],
        "to_user_id": scenario["a"], "documents": {"doc_types": ["propal"], **YEAR}})
    assert refused.status_code == 400 and "disabled" in refused.get_json()["error"]
    assert client.get("/api/reports/consistency",
                      query_string={"doc_types": "propal"}).status_code == 400
    assert snapshot() == before
    body = report(client, **YEAR)
    assert "propal" not in body["doc_types"]
    assert [item["doc_type"] for item in body["unavailable_doc_types"]] == ["propal"]
    page = html(client.get("/reports/consistency", query_string=YEAR))
    assert not page.select("#documents-by-type tr[data-type=propal]")

    # Setup forces it: a journaled setting, and the type is back.
    forced = client.put("/api/settings", json={
        "doc_types": {"propal": {"force_when_module_disabled": True}}})
    assert forced.status_code == 200, forced.get_json()
    assert forced.get_json()["doc_types"]["propal"]["force_when_module_disabled"] is True
    [(value,)] = rows(db, "SELECT value FROM llx_const WHERE name = 'AUTOCONTACT_DOC_PROPAL_FORCE'"
                          " AND entity = 1")
    assert value == "1"
    batch = client.get("/api/batches", query_string={"action": "settings"}).get_json()
    assert "DOC_PROPAL_FORCE" in batch["batches"][0]["summary"]
    assert client.post("/api/documents/sync", json={
        "thirdparty_ids": [scenario["tid"]], "doc_types": ["propal"], "dry_run": True,
        **YEAR}).status_code == 200
    assert "propal" in report(client, **YEAR)["doc_types"]


def test_the_module_switch_is_forced_from_the_setup_form(client, login_as, db):
    login_as("admin")
    switch_module(db, "FICHEINTER", "")
    page = html(client.get("/setup"))
    form = page.find("form", action="/setup/doc_types")
    data = {}
    for field in form.select("input, select"):
        if field.name == "select":
            chosen = field.find("option", selected=True) or field.find("option")
            data[field["name"]] = chosen["value"] if chosen else ""
        elif field.get("type") == "checkbox":
            if field.has_attr("checked"):
                data.setdefault(field["name"], []).append(field["value"])
        elif field.get("name") and field["name"] != "csrf_token":
            data[field["name"]] = field.get("value", "")
    data["fichinter-force"] = "1"
    saved = client.post("/setup/doc_types", data=data, headers={"HX-Request": "true"})
    assert saved.status_code == 200
    row = html(saved).select_one("tr[data-type=fichinter]")
    assert not row.select_one("[data-availability=unavailable]")
    assert row.find("input", attrs={"name": "fichinter-force"}).has_attr("checked")


def test_without_any_module_constant_nothing_is_hidden(app, db):
    from autocontact.services import settings as settings_service
    models.Constant.delete().where(models.Constant.name.startswith("MAIN_MODULE_")).execute()
    settings = settings_service.load(1)
    assert settings.modules is None
    assert all(settings.available(element) for element in TYPES)
    switch_module(db, "SOCIETE", "1")
    settings = settings_service.load(1)
    assert not settings.available("propal")


# --- portfolios -------------------------------------------------------------------------

def followed_by(db, user_id, date_from, date_to):
    """(element, id) -> thirdparty of the documents a user follows in the period."""
    found = {}
    for element, (table, column, code) in TYPES.items():
        for rowid, day, soc in rows(
                db, f"SELECT d.rowid, d.{column}, d.fk_soc FROM {table} d"
                    " JOIN llx_element_contact ec ON ec.element_id = d.rowid"
                    " JOIN llx_c_type_contact t ON t.rowid = ec.fk_c_type_contact"
                    " WHERE t.element = ? AND t.code = ? AND t.source = 'internal'"
                    " AND ec.fk_socpeople = ? AND d.entity = 1", element, code, user_id):
            if day and date_from <= str(day)[:10] <= date_to:
                found[element, rowid] = soc
    return found


def represented_by(db, user_id):
    return {t for (t,) in rows(db, "SELECT DISTINCT s.rowid FROM llx_societe s JOIN"
                                   " llx_societe_commerciaux sc ON sc.fk_soc = s.rowid"
                                   " WHERE sc.fk_user = ? AND s.entity = 1", user_id)}


def portfolio(client, user_id, **params):
    """The API's portfolio, with every page of its document list."""
    pages = []
    while not pages or len(pages[-1]["documents"]["rows"]) == 1000:
        response = client.get(f"/api/users/{user_id}/portfolio", query_string={
            "per_page": 1000, "document_page": len(pages) + 1, **params})
        assert response.status_code == 200, response.get_json()
        pages.append(response.get_json())
    body = pages[0]
    body["documents"]["rows"] = [row for page in pages for row in page["documents"]["rows"]]
    return body


def test_portfolio_lists_exactly_the_reps_thirdparties_and_documents(client, viewer, db,
                                                                   scenario):
    # The busiest rep of the dataset, and the scenario's two reps.
    [(busiest,)] = rows(db, "SELECT sc.fk_user FROM llx_societe_commerciaux sc JOIN llx_user u"
                            " ON u.rowid = sc.fk_user WHERE (u.fk_soc IS NULL OR u.fk_soc = 0)"
                            " AND u.entity IN (0, 1) GROUP BY sc.fk_user"
                            " ORDER BY COUNT(*) DESC, sc.fk_user LIMIT 1")
    for user_id in (busiest, scenario["a"], scenario["b"]):
        body = portfolio(client, user_id, **WIDE)
        assert body["user"]["user_id"] == user_id
        thirdparties = {row["thirdparty_id"] for row in body["thirdparties"]["rows"]}
        assert thirdparties == represented_by(db, user_id)
        assert body["thirdparties"]["total"] == len(thirdparties)
        followed = followed_by(db, user_id, WIDE["date_from"], WIDE["date_to"])
        listed = {(row["doc_type"], row["id"]) for row in body["documents"]["rows"]}
        assert listed == set(followed) and body["documents"]["total"] == len(followed)
        per_type = Counter(element for element, _ in followed)
        assert body["documents"]["total"] == len(followed)
        assert {row["doc_type"]: row["documents"] for row in body["documents_by_type"]} == \
            {element: per_type.get(element, 0) for element in TYPES}
        for row in body["documents_by_type"]:
            assert sum(s["documents"] for s in row["per_status"]) == row["documents"]
        elsewhere = Counter(soc for soc in followed.values()
                            if soc is not None and soc not in thirdparties)
        assert {row["thirdparty_id"]: row["documents"] for row in body["not_represented"]} == \
            elsewhere

    body = portfolio(client, scenario["b"], **YEAR)
    [row] = body["thirdparties"]["rows"]
    assert row["thirdparty_id"] == scenario["tid"] and row["co_reps"] == []
    assert body["documents"]["total"] == 0
    body = portfolio(client, scenario["a"], **YEAR)
    assert body["thirdparties"]["total"] == 0
    assert body["documents_totals"] == {"documents": 8, "on_their_thirdparties": 0,
                                        "on_other_thirdparties": 8, "not_matching": 8}
    [elsewhere] = body["not_represented"]
    assert elsewhere["thirdparty_id"] == scenario["tid"] and elsewhere["documents"] == 8
    assert elsewhere["sales_reps"][0]["user_id"] == scenario["b"]
    propal = next(row for row in body["documents_by_type"] if row["doc_type"] == "propal")
    assert propal["per_status"] == [{"status": 1, "label": "Validated", "documents": 1},
                                    {"status": 3, "label": "Not signed", "documents": 1}]


def test_portfolio_page_and_transfer_prefilled(client, editor, db, scenario):
    page = html(client.get(f"/portfolio/{scenario['b']}", query_string=YEAR))
    assert page.find("h1").get_text(strip=True) == "Portfolio of Beatrice Bassi"
    assert [tr["data-thirdparty"] for tr in page.select("#portfolio-thirdparties tbody tr")] == \
        [str(scenario["tid"])]
    transfer = page.find("a", string="Transfer this portfolio…")
    dialog = html(client.get(transfer["href"], headers={"HX-Request": "true"}))
    assert dialog.find(id="dialog-title").get_text(strip=True) == "Transfer a portfolio"
    assert "1 thirdparty selected." in dialog.get_text()
    assert dialog.select_one("#from_user_id option[selected]")["value"] == str(scenario["b"])
    assert dialog.find("input", id="cascade-from")["value"] == YEAR["date_from"]
    hidden = {i["name"]: i["value"] for i in dialog.select("input[type=hidden]")}
    assert hidden["scope"] == "filter" and hidden["rep"] == str(scenario["b"])

    page = html(client.get(f"/portfolio/{scenario['a']}", query_string=YEAR))
    assert not page.find("a", string="Transfer this portfolio…")   # represents nobody
    [line] = page.select("#portfolio-not-represented tbody tr")
    assert line["data-thirdparty"] == str(scenario["tid"])
    assert len(page.select("#portfolio-documents tbody tr")) == 8
    update_all = page.find("a", string=lambda s: s and s.startswith("Update the documents of"))
    dialog = html(client.get(update_all["href"], headers={"HX-Request": "true"}))
    assert [i["value"] for i in dialog.select("input[name=ids]")] == [str(scenario["tid"])]


def test_portfolio_index_and_csv(client, viewer, db, scenario):
    index = html(client.get("/portfolio"))
    row = index.select_one(f"#sales-reps tr[data-user='{scenario['b']}']")
    assert row.find("a")["href"] == f"/portfolio/{scenario['b']}"
    page = html(client.get(f"/portfolio/{scenario['a']}", query_string=YEAR))
    links = {a["href"] for a in page.select("#portfolio-body a.csv")}
    from autocontact.web.portfolio import TABLES
    assert {link.split("?")[0].rsplit("/", 1)[1][:-4] for link in links} == \
        set(TABLES) - {"thirdparties"}   # rep A represents nobody: no thirdparty table
    documents = next(link for link in links if "/documents.csv" in link)
    table = list(csv.reader(io.StringIO(client.get(documents).get_data(as_text=True))))
    assert table[0][:3] == ["doc_type", "id", "ref"] and len(table) == 9
    thirdparties = client.get(f"/portfolio/{scenario['b']}/thirdparties.csv")
    assert list(csv.reader(io.StringIO(thirdparties.get_data(as_text=True))))[1][0] == \
        str(scenario["tid"])


@pytest.mark.parametrize("path, status", [
    ("/api/users/999999/portfolio", 404),
    ("/api/users/{me}/portfolio?date_from=2025-13-01", 400),
    ("/api/users/{me}/portfolio?document_page=-1", 400),
    ("/api/users/{me}/portfolio?doc_types=nope", 400),
    ("/api/users/{me}/portfolio?page=2", 400),
    ("/api/users/0/portfolio", 404),
    ("/portfolio/999999", 404),
    ("/portfolio/{me}?date_to=2025-02-30", 400),
    ("/portfolio/{me}/nothing.csv", 404),
])
def test_portfolio_bad_input(client, viewer, people, path, status):
    me = people.user("someone")
    response = client.get(path.format(me=me))
    assert response.status_code == status
    if path.startswith("/api/"):
        assert response.get_json()["error"]


def test_portfolio_of_an_external_user_is_a_404(client, viewer, people, db):
    [(soc,)] = rows(db, "SELECT MIN(rowid) FROM llx_societe")
    external = people.user("portal.user", fk_soc=soc)
    assert client.get(f"/api/users/{external}/portfolio").status_code == 404


def test_report_fixes_for_disabled_users(client, editor, db, scenario, people):
    gone = people.user("rep.gone", statut=0, firstname="Gina", lastname="Gone")
    models.SalesRepLink.insert(fk_soc=scenario["tid"], fk_user=gone).execute()
    models.ElementContact.insert(statut=4, element_id=scenario["docs"][("commande", "in")],
                                 fk_socpeople=gone,
                                 fk_c_type_contact=contact_type_id("commande")).execute()
    page = html(client.get("/reports/consistency", query_string=YEAR))

    # Still a sales rep: select their thirdparties in the list, or transfer them.
    line = page.select_one(f"#inactive-sales-reps tr[data-user='{gone}']")
    assert line.find("td", class_="num").get_text(strip=True) == "1"
    listed = line.find("a", string="Select them in the list")["href"]
    assert f"rep={gone}" in listed and "select=all" in listed
    transfer = html(client.get(line.find("a", class_="button")["href"],
                               headers={"HX-Request": "true"}))
    assert transfer.select_one("#from_user_id option[selected]")["value"] == str(gone)

    # Still a follow-up contact: replace them, every thirdparty, the period filled in.
    line = page.select_one(f"#inactive-follow-up tr[data-user='{gone}']")
    dialog = html(client.get(line.find("a", class_="button")["href"],
                             headers={"HX-Request": "true"}))
    assert dialog.select_one("input[name=mode][value=replace]").has_attr("checked")
    assert dialog.select_one("#from_user_id option[selected]")["value"] == str(gone)
    assert dialog.find("input", id="date_from")["value"] == YEAR["date_from"]
    form = {"scope": "filter", "mode": "replace", "from_user_id": gone,
            "to_user_id": scenario["b"], "statuses": "all", "doc_types": ["commande"], **YEAR}
    applied = client.post("/thirdparties/documents/apply", data=form,
                          headers={"HX-Request": "true"})
    assert applied.status_code == 200 and applied.headers["HX-Trigger"] == "documents-changed"
    assert followers(db, "commande", scenario["docs"][("commande", "in")]) == \
        sorted([scenario["a"], scenario["b"]])
    after = report(client, **YEAR)
    assert gone not in {row["user_id"] for row in after["inactive_follow_up_by_user"]}
