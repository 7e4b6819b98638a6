"""The journal screen, its filters, CSV exports, the undo panel and the command line."""
import csv
import io
import json

from autocontact.dolibarr import models

from conftest import html


def make_batches(client, scenario, people):
    c = people.user("rep.c", firstname="Carla", lastname="Caruso")
    first = client.post("/api/salesreps", json={
        "action": "assign", "thirdparty_ids": [scenario["tid"]], "user_ids": [c]}).get_json()
    second = client.post("/api/documents/sync", json={
        "thirdparty_ids": [scenario["tid"]], "date_from": "2025-01-01", "date_to": "2025-12-31",
        "doc_types": ["propal"]}).get_json()
    return first["batch_id"], second["batch_id"]


def test_journal_lists_batches_newest_first_with_filters(client, login_as, db, scenario, people):
    login = login_as("admin")
    first, second = make_batches(client, scenario, people)
    page = html(client.get("/journal"))
    ids = [a.get_text() for a in page.select("#results tbody tr td:first-child a")]
    assert ids[:2] == [f"#{second}", f"#{first}"]
    only = html(client.get("/journal?action=assign"))
    assert [a.get_text() for a in only.select("#results tbody tr td:first-child a")] == [f"#{first}"]
    mine = client.get(f"/api/batches?user={login}&thirdparty_id={scenario['tid']}").get_json()
    assert [b["id"] for b in mine["batches"]] == [second, first] and mine["total"] == 2
    assert client.get("/api/batches?user=nobody").get_json()["total"] == 0
    assert client.get("/api/batches?since=2999-01-01").get_json()["total"] == 0
    fragment = html(client.get("/journal?action=documents_sync", headers={"HX-Request": "true"}))
    assert fragment.find("html") is None and fragment.find("div", id="results")


def test_bad_journal_filters_are_400(client, login_as):
    login_as("viewer")
    for query in ("action=drop", "since=yesterday", "thirdparty_id=abc", "limit=0", "limit=5000"):
        response = client.get(f"/api/batches?{query}")
        assert response.status_code == 400, query
        assert response.get_json()["field"] in query
    assert client.get("/journal?since=2025-99-01").status_code == 400


def test_batch_detail_and_csv_exports(client, login_as, db, scenario, people):
    login_as("admin")
    first, second = make_batches(client, scenario, people)
    detail = client.get(f"/api/batches/{second}").get_json()
    assert detail["action"] == "documents_sync" and detail["params"]["doc_types"] == ["propal"]
    documents = {row["document"] for row in detail["rows"]}
    assert documents == {"T-propal-in", "T-propal-in_closed"}
    rows = list(csv.DictReader(io.StringIO(client.get(f"/journal/{first}.csv").get_data(as_text=True))))
    assert [row["change"] for row in rows] == ["added"]
    listing = client.get("/journal/export.csv").get_data(as_text=True)
    assert listing.splitlines()[0].startswith("batch,when,user,action")
    page = html(client.get(f"/journal/{second}"))
    assert page.find("h1").get_text() == f"Journal entry #{second}"
    assert len(page.select("table tbody tr")) == 6  # 2 documents: A out, B and C in
    assert client.get("/journal/99999999.csv").status_code == 404


def test_csv_cells_starting_like_formulas_are_quoted(client, login_as, db, scenario, people):
    login_as("admin")
    evil = models.Thirdparty.insert(name="=cmd|' /C calc'!A0", entity=1, client=1).execute()
    rep = people.user("rep.csv")
    batch_id = client.post("/api/salesreps", json={"action": "assign", "thirdparty_ids": [evil],
                                                   "user_ids": [rep]}).get_json()["batch_id"]
    rows = list(csv.DictReader(io.StringIO(client.get(f"/journal/{batch_id}.csv").get_data(as_text=True))))
    assert rows[0]["thirdparty"] == "'=cmd|' /C calc'!A0"


def test_undo_panel_previews_then_confirms(client, login_as, db, scenario, people):
    login_as("admin")
    first, _ = make_batches(client, scenario, people)
    page = html(client.get(f"/journal/{first}"))
    assert page.find("button", string="Undo this change…")
    preview = html(client.post(f"/journal/{first}/undo", headers={"HX-Request": "true"}))
    assert "restores 1 rows" in preview.get_text(" ", strip=True)
    assert models.SalesRepLink.select().where(models.SalesRepLink.fk_soc == scenario["tid"]).count() == 2
    done = client.post(f"/journal/{first}/undo", data={"confirm": "1"}, headers={"HX-Request": "true"})
    assert done.headers["HX-Trigger"] == "journal-changed"
    assert "Undone: 1 rows restored" in html(done).get_text(" ", strip=True)
    assert models.SalesRepLink.select().where(models.SalesRepLink.fk_soc == scenario["tid"]).count() == 1
    assert not html(client.get(f"/journal/{first}")).find("button", string="Undo this change…")
    assert client.post(f"/journal/{first}/undo", data={"confirm": "1"}).status_code == 409


def test_viewers_see_the_journal_but_cannot_undo(client, login_as, db, scenario, people):
    login_as("admin")
    first, _ = make_batches(client, scenario, people)
    client.post("/logout")
    login_as("viewer")
    assert client.get(f"/journal/{first}").status_code == 200
    assert not html(client.get(f"/journal/{first}")).find("button", string="Undo this change…")
    assert client.post(f"/journal/{first}/undo", data={"confirm": "1"}).status_code == 403


def test_card_shows_the_thirdparty_history(client, login_as, db, scenario, people):
    login_as("admin")
    first, second = make_batches(client, scenario, people)
    history = html(client.get(f"/thirdparties/{scenario['tid']}")).find("section", class_="history")
    assert [a.get_text() for a in history.select("li a")] == [f"#{second}", f"#{first}"]


def test_journal_command_line(app, db, scenario, people):
    from autocontact.cli import journal_list, journal_show, journal_undo
    people.user("cli.boss", admin=1)
    client = app.test_client()
    from conftest import AuthActions
    AuthActions(client).login("cli.boss")
    first, _ = make_batches(client, scenario, people)
    runner = app.test_cli_runner()
    listed = [json.loads(line) for line in runner.invoke(journal_list, ["--limit", "5"]).output.splitlines()]
    assert listed[1]["id"] == first
    shown = json.loads(runner.invoke(journal_show, [str(first)]).output)
    assert shown["rows"][0]["change"] == "added"
    undone = json.loads(runner.invoke(journal_undo, [str(first), "--as", "cli.boss"]).output)
    assert undone["rows_restored"] == 1
    again = runner.invoke(journal_undo, [str(first), "--as", "cli.boss"])
    assert again.exit_code == 2 and "already been undone" in again.output
