"""The journal in headless Chromium, under uWSGI: undo a mass assign, filter, viewer.

An editor assigns two sales reps to every thirdparty matching a search, finds that
change as the newest journal entry, undoes it from its page and gets exactly the
rows of before back (row ids included). The journal's filters live in the URL and
carry over to the CSV export. A viewer reads the journal but is offered no undo.
Every expectation is computed from the SQLite copy the server runs on.
"""
import re
import sqlite3
from urllib.parse import parse_qs, urlsplit

from autocontact.dolibarr.demo import DEMO_PASSWORD

from browser import login, shot

SEARCH = "milano"
ACTIVE_INTERNAL = ("SELECT rowid FROM llx_user WHERE entity IN (0, 1) AND statut = 1"
                   " AND (fk_soc IS NULL OR fk_soc = 0) ORDER BY admin, rowid")
ALL_LINKS = "SELECT * FROM llx_societe_commerciaux ORDER BY rowid"


def query(live_server, sql, *params):
    with sqlite3.connect(live_server.database_path) as connection:
        return connection.execute(sql, params).fetchall()


def squash(text):
    return " ".join(text.split())


def main_nav(page):
    return page.get_by_role("navigation", name="Main")


def count_text(page):
    return squash(page.locator("#results .count").inner_text())


def row_ids(page):
    values = page.locator("#results input[name=ids]").evaluate_all("bs => bs.map(b => b.value)")
    return [int(value) for value in values]


def chips_by_row(page):
    """The sales-rep chips of every visible row, as the user reads them."""
    return dict(page.locator("#results tbody tr").evaluate_all(
        """rows => rows.map(row => [row.id,
             row.querySelector('td.chips').textContent.replace(/\\s+/g, ' ').trim()])"""))


def wait_for_search(page, text):
    """Type a search in the thirdparty filter and wait for the results it gives."""
    before = count_text(page)
    page.fill("#q", text)
    page.wait_for_function(
        "before => { const c = document.querySelector('#results .count');"
        " return c && c.textContent.replace(/\\s+/g, ' ').trim() !== before; }", arg=before)
    page.wait_for_load_state("networkidle")


def journal_rows(page):
    """The journal list's rows as dicts: id, who, action, state (as displayed)."""
    rows = page.locator("#results table.data tbody tr").evaluate_all(
        "rows => rows.map(row => [...row.cells].map(cell => cell.textContent.trim()))")
    return [{"id": int(cells[0].lstrip("#")), "who": cells[2], "action": cells[3],
             "rows": int(cells[5].replace(",", "")), "state": cells[6]} for cells in rows]


def open_journal(page):
    main_nav(page).get_by_role("link", name="Journal", exact=True).click()
    page.locator("h1", has_text="Journal").wait_for()
    assert page.locator("h1").inner_text() == "Journal"


def test_undo_an_assign_from_the_journal(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    main_nav(page).get_by_role("link", name="Thirdparties").click()
    page.locator("h1", has_text="Thirdparties").wait_for()
    page.evaluate("window.noPageLoad = true")
    wait_for_search(page, SEARCH)
    ids = row_ids(page)
    assert 1 < len(ids) <= 25, "the demo data should give one page of matches"
    assert count_text(page) == f"{len(ids)} thirdparties match this filter."
    filtered_url = page.url
    chips_before = chips_by_row(page)
    assert set(chips_before) == {f"thirdparty-{tid}" for tid in ids}
    links_before = query(live_server, ALL_LINKS)

    # Two active users who represent none of the matching thirdparties yet.
    already = {user for (_, soc, user, *_rest) in links_before if soc in ids}
    users = [uid for (uid,) in query(live_server, ACTIVE_INTERNAL) if uid not in already][:2]
    assert len(users) == 2

    page.get_by_label(f"Select all {len(ids)} thirdparties matching this filter").check()
    page.locator("#results .actions").get_by_role("button", name="Assign…", exact=True).click()
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("#dialog-title").wait_for()
    dialog.locator("#user_ids").select_option([str(uid) for uid in users])
    dialog.get_by_role("button", name="Preview").click()
    dialog.locator("p[role=status]", has_text="This will change").wait_for()
    dialog.get_by_role("button", name=re.compile(r"^Confirm")).click()
    done = dialog.locator(".message-success", has_text="Done:")
    done.wait_for()
    assign_id = int(done.get_by_role("link", name=re.compile(r"^Journal entry #\d+$"))
                    .inner_text().rsplit("#", 1)[1])
    dialog.locator("p > button[data-close-dialog]", has_text="Close").click()
    page.locator("dialog#dialog").wait_for(state="hidden")
    added = 2 * len(ids)
    assert len(query(live_server, ALL_LINKS)) == len(links_before) + added
    assert page.evaluate("window.noPageLoad") is True

    # The journal, newest first: the assign on top.
    open_journal(page)
    entries = journal_rows(page)
    assert entries[0] == {"id": assign_id, "who": "admin", "action": "assign",
                          "rows": added, "state": "applied"}
    shot(page, "journal")

    page.locator("#results table.data").get_by_role("link", name=f"#{assign_id}",
                                                    exact=True).click()
    page.locator("h1", has_text=f"Journal entry #{assign_id}").wait_for()
    assert page.url == live_server.url(f"/journal/{assign_id}")
    identity = squash(page.locator("dl.identity").inner_text())
    assert f"{len(ids)} thirdparties, {added} added, 0 removed" in identity
    rows = page.locator("table.data tbody tr")
    assert rows.count() == added
    hrefs = rows.locator("td:nth-child(2) a").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))")
    linked = {int(href.rsplit("/", 1)[1]) for href in hrefs}
    assert linked == set(ids)
    assert set(rows.locator("td:first-child").all_inner_texts()) == {"added"}

    # Undo: first what it would restore, then for real.
    page.evaluate("window.noPageLoad = true")
    panel = page.locator("#undo-panel")
    panel.get_by_role("button", name="Undo this change…").click()
    preview = panel.locator("p[role=status]", has_text="Undoing restores")
    preview.wait_for()
    assert squash(preview.inner_text()) == f"Undoing restores {added} rows."
    assert len(query(live_server, ALL_LINKS)) == len(links_before) + added  # nothing yet
    panel.get_by_role("button", name="Confirm undo").click()
    undone = page.locator("#undo-panel .message-success", has_text="Undone:")
    undone.wait_for()
    assert squash(undone.inner_text()).startswith(
        f"Undone: {added} rows restored. Journal entry #")
    undo_link = undone.get_by_role("link", name=re.compile(r"^Journal entry #\d+$"))
    undo_id = int(undo_link.inner_text().rsplit("#", 1)[1])
    assert undo_id > assign_id
    assert undo_link.get_attribute("href") == f"/journal/{undo_id}"
    assert page.get_by_role("button", name="Undo this change…").count() == 0
    assert page.evaluate("window.noPageLoad") is True
    shot(page, "journal-undo")

    # Exactly as before: the chips on screen and the rows in Dolibarr, row ids included.
    assert query(live_server, ALL_LINKS) == links_before
    page.goto(filtered_url)
    assert page.input_value("#q") == SEARCH
    assert sorted(row_ids(page)) == sorted(ids)
    assert chips_by_row(page) == chips_before

    open_journal(page)
    entries = journal_rows(page)
    assert entries[0] == {"id": undo_id, "who": "admin", "action": "undo",
                          "rows": added, "state": "applied"}
    assign = next(entry for entry in entries if entry["id"] == assign_id)
    assert assign["state"] == "undone"

    # The undone entry offers no second undo; the undo's own entry names what it undoes.
    page.goto(live_server.url(f"/journal/{assign_id}"))
    assert page.locator("dl.identity .state").inner_text() == "undone"
    assert page.get_by_role("button", name="Undo this change…").count() == 0
    page.goto(live_server.url(f"/journal/{undo_id}"))
    assert f"undoes #{assign_id}" in squash(page.locator("dl.identity").inner_text())


def test_filter_the_journal_by_action(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    open_journal(page)
    [(undos,)] = query(live_server,
                       "SELECT COUNT(*) FROM llx_autocontact_batch WHERE action = 'undo'")
    [(total,)] = query(live_server, "SELECT COUNT(*) FROM llx_autocontact_batch")
    assert undos >= 1, "the previous test leaves an undo in this module's database"
    assert total > undos
    page.evaluate("window.noPageLoad = true")

    before = count_text(page)
    page.select_option("#j-action", "undo")
    page.locator("#journal-filters").get_by_role("button", name="Filter").click()
    page.wait_for_function(
        "before => { const c = document.querySelector('#results .count');"
        " return c && c.textContent.replace(/\\s+/g, ' ').trim() !== before; }", arg=before)
    page.wait_for_load_state("networkidle")
    assert page.evaluate("window.noPageLoad") is True
    assert count_text(page).startswith(f"{undos} entr{'y' if undos == 1 else 'ies'}.")
    entries = journal_rows(page)
    assert len(entries) == undos
    assert {entry["action"] for entry in entries} == {"undo"}
    # The form sends its empty fields too (user=&since=...): only the action has a value.
    assert urlsplit(page.url).path == "/journal"
    assert parse_qs(urlsplit(page.url).query) == {"action": ["undo"]}

    csv_link = page.locator("#results .count").get_by_role("link", name="Download as CSV")
    href = csv_link.get_attribute("href")
    assert urlsplit(href).path == "/journal/export.csv"
    assert parse_qs(urlsplit(href).query) == {"action": ["undo"]}
    response = page.request.get(live_server.url(href))
    assert response.status == 200
    assert response.headers["content-type"].startswith("text/csv")
    lines = response.text().splitlines()
    assert lines[0].startswith("batch,when,user,action")
    assert len(lines) == 1 + undos
    assert all(line.split(",")[3] == "undo" for line in lines[1:])

    # The pushed URL is a real page: reload it and get the same filter.
    page.reload()
    assert page.input_value("#j-action") == "undo"
    assert [entry["id"] for entry in journal_rows(page)] == [entry["id"] for entry in entries]


def test_viewer_reads_the_journal_without_undo(live_server, browser_page):
    page = browser_page
    [(latest,)] = query(live_server, "SELECT MAX(id) FROM llx_autocontact_batch")
    assert latest is not None
    login(page, live_server.base_url, "cconti", DEMO_PASSWORD)
    open_journal(page)
    entries = journal_rows(page)
    assert entries and entries[0]["id"] == latest
    page.locator("#results table.data").get_by_role("link", name=f"#{latest}", exact=True).click()
    page.locator("h1", has_text=f"Journal entry #{latest}").wait_for()
    assert page.locator("#undo-panel").count() == 1
    assert page.get_by_role("button", name="Undo this change…").count() == 0
    assert page.locator("#undo-panel form").count() == 0
    # Even on an entry that an editor could undo.
    applied = [entry["id"] for entry in entries if entry["state"] == "applied"
               and entry["action"] != "settings"]
    for batch_id in applied[:2]:
        page.goto(live_server.url(f"/journal/{batch_id}"))
        assert page.locator("h1").inner_text() == f"Journal entry #{batch_id}"
        assert page.get_by_role("button", name="Undo this change…").count() == 0
