"""The thirdparty card's document panel and its "Update document contacts" dialog,
in headless Chromium under uWSGI, on the demo scenario (README): Rossi Arredamenti
moved from Andrea Colombo to Giulia Ferrari, its documents still name Colombo.

Every expectation is computed with plain SQL on the SQLite copy the server runs on.
"""
import re
import sqlite3
from datetime import date, timedelta

from autocontact.dolibarr import doctypes
from autocontact.dolibarr.demo import DEMO_PASSWORD, DEMO_SCENARIO

from browser import expect_status, login, shot

TID = DEMO_SCENARIO["thirdparty_rowid"]
ELEMENTS = DEMO_SCENARIO["elements"]            # propal, commande, facture
DATE_COLUMNS = {"propal": "datep", "commande": "date_commande", "facture": "datef"}
LABELS = {element: doctypes.get(element).label for element in ELEMENTS}
BUTTON = "Update document contacts"


def query(live_server, sql, *params):
    with sqlite3.connect(live_server.database_path) as connection:
        return connection.execute(sql, params).fetchall()


def period(today=None):
    """Today minus two years → today."""
    today = today or date.today()
    try:
        start = today.replace(year=today.year - 2)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - 2, day=28)
    return start, today


def card_url(live_server, date_from, date_to):
    return live_server.url(f"/thirdparties/{TID}?date_from={date_from.isoformat()}"
                           f"&date_to={date_to.isoformat()}")


def user_id(live_server, login_name):
    [(rowid,)] = query(live_server, "SELECT rowid FROM llx_user WHERE login = ?", login_name)
    return rowid


def active_reps(live_server):
    return {user for (user,) in query(
        live_server, "SELECT sc.fk_user FROM llx_societe_commerciaux sc"
        " JOIN llx_user u ON u.rowid = sc.fk_user WHERE sc.fk_soc = ? AND u.statut = 1", TID)}


def documents(live_server, element):
    """The thirdparty's documents of one type: id, ref, date and SALESREPFOLL users."""
    table, column = f"llx_{doctypes.get(element).table}", DATE_COLUMNS[element]
    docs = {rowid: {"id": rowid, "ref": ref, "date": str(day)[:10] if day else None,
                    "followers": set()}
            for rowid, ref, day in query(
                live_server, f"SELECT rowid, ref, {column} FROM {table}"
                " WHERE fk_soc = ? AND entity = 1", TID)}
    for element_id, person in query(
            live_server, "SELECT ec.element_id, ec.fk_socpeople FROM llx_element_contact ec"
            " JOIN llx_c_type_contact t ON t.rowid = ec.fk_c_type_contact"
            " WHERE t.element = ? AND t.code = 'SALESREPFOLL' AND t.source = 'internal'"
            f" AND ec.element_id IN (SELECT rowid FROM {table} WHERE fk_soc = ?)", element, TID):
        docs[element_id]["followers"].add(person)
    return list(docs.values())


def in_period(doc, date_from, date_to):
    return doc["date"] is not None and date_from.isoformat() <= doc["date"] <= date_to.isoformat()


def mismatched(live_server, element, date_from, date_to):
    reps = active_reps(live_server)
    return [doc for doc in documents(live_server, element)
            if in_period(doc, date_from, date_to) and doc["followers"] != reps]


def contacts_snapshot(live_server):
    return (query(live_server, "SELECT rowid, element_id, fk_c_type_contact, fk_socpeople"
                               " FROM llx_element_contact ORDER BY rowid"),
            query(live_server, "SELECT COUNT(*) FROM llx_autocontact_batch"))


def squash(text):
    return " ".join(text.split())


def number(text):
    return int(text.strip().replace(",", ""))


def panel_counts(page):
    """"Not matching the sales reps" per document type, as the panel shows them."""
    return page.locator("#consistency td[data-type]").evaluate_all(
        "cells => Object.fromEntries(cells.map(c => [c.dataset.type, c.textContent.trim()]))")


def wait_panel_zero(page, elements):
    page.wait_for_function(
        """elements => elements.every(e => {
             const cell = document.querySelector(`#consistency td[data-type="${e}"]`);
             return cell && cell.textContent.trim() === '0'; })""", arg=list(elements))


def open_dialog(page):
    page.locator("#consistency").get_by_role("button", name=BUTTON, exact=True).click()
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("#dialog-title").wait_for()
    return dialog


def table_rows(table):
    """Each body row of a table as the list of its cells' texts (th and td)."""
    return table.locator("tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.children]"
        ".map(c => c.textContent.replace(/\\s+/g, ' ').trim()))")


def test_update_document_contacts_of_the_scenario(live_server, browser_page):
    page = browser_page
    date_from, date_to = period()
    from_id = user_id(live_server, DEMO_SCENARIO["from_login"])
    to_id = user_id(live_server, DEMO_SCENARIO["to_login"])
    assert active_reps(live_server) == {to_id}, "the scenario: Giulia Ferrari is the only rep"
    wrong = {element: mismatched(live_server, element, date_from, date_to) for element in ELEMENTS}
    expected = {element: len(docs) for element, docs in wrong.items()}
    assert all(expected.values()), expected
    examined = {element: sum(in_period(doc, date_from, date_to)
                             for doc in documents(live_server, element)) for element in ELEMENTS}
    outside = {element: [doc for doc in documents(live_server, element)
                         if not in_period(doc, date_from, date_to)] for element in ELEMENTS}
    assert all(outside.values()), "the scenario has documents older than two years"
    assert all(doc["followers"] == {from_id} for docs in outside.values() for doc in docs)

    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    page.goto(card_url(live_server, date_from, date_to))
    assert page.locator("h1").inner_text().startswith(DEMO_SCENARIO["thirdparty_name"])
    shown = panel_counts(page)
    assert {element: number(shown[element]) for element in ELEMENTS} == expected
    enabled = set(shown)
    for element in ELEMENTS:  # the column before: documents of the type in the period
        cell = page.locator(f"#consistency td[data-type={element}]").evaluate(
            "c => c.previousElementSibling.textContent")
        assert number(cell) == examined[element], element
    page.evaluate("window.noPageLoad = true")

    # The dialog: the card's period, every enabled type, sync mode.
    dialog = open_dialog(page)
    assert dialog.locator("#dialog-title").inner_text() == (
        f"{BUTTON} — {DEMO_SCENARIO['thirdparty_name']}")
    assert dialog.locator("#date_from").input_value() == date_from.isoformat()
    assert dialog.locator("#date_to").input_value() == date_to.isoformat()
    boxes = dialog.locator("input[name=doc_types]").evaluate_all(
        "bs => bs.map(b => [b.value, b.checked])")
    assert {value for value, _ in boxes} == enabled >= set(ELEMENTS)
    assert all(checked for _, checked in boxes), boxes
    assert dialog.locator("input[name=mode][value=sync]").is_checked()
    assert dialog.locator("input[name=statuses][value=all]").is_checked()

    untouched = contacts_snapshot(live_server)
    # Preview: the per-type figures, then the documents, Colombo → Ferrari.
    dialog.get_by_role("button", name="Preview", exact=True).click()
    summary = dialog.locator("table.data", has=page.locator("caption", has_text="What will change"))
    summary.wait_for()
    assert squash(summary.locator("caption").inner_text()) == (
        f"What will change, {date_from.isoformat()} to {date_to.isoformat()}")
    per_type = {row[0]: row[1:] for row in table_rows(summary)}
    for element in ELEMENTS:
        figures = tuple(number(value) for value in per_type[LABELS[element]][:3])
        assert figures == (  # examined, to change, already right
            examined[element], expected[element], examined[element] - expected[element]), element
    total = sum(number(row[1]) for row in per_type.values())
    assert total >= sum(expected.values())
    status = squash(dialog.locator("p[role=status]").inner_text())
    assert status.startswith(f"{total} documents to change:"), status

    listed = dialog.locator("table.data",
                            has=page.locator("caption", has_text="Documents to change"))
    rows = {row[0]: row for row in table_rows(listed)}
    assert len(rows) == min(total, 50)
    for element, docs in wrong.items():
        for doc in docs:
            ref = doc["ref"] or str(doc["id"])
            assert ref in rows, (element, ref)
            assert rows[ref][1] == doc["date"], ref
            assert rows[ref][3:] == [DEMO_SCENARIO["from_name"], DEMO_SCENARIO["to_name"]], \
                rows[ref]
    shot(page, "documents-preview")
    assert contacts_snapshot(live_server) == untouched  # a preview is rolled back

    # Apply, then the outcome and its journal entry.
    dialog.get_by_role("button", name=f"Apply to {total} documents", exact=True).click()
    done = dialog.locator("table.data", has=page.locator("caption", has_text="What changed"))
    done.wait_for()
    changed = {row[0]: number(row[2]) for row in table_rows(done)}
    assert {element: changed[LABELS[element]] for element in ELEMENTS} == expected
    link = dialog.locator("p[role=status]").get_by_role(
        "link", name=re.compile(r"^Journal entry #\d+$"))
    batch_id = int(link.inner_text().rsplit("#", 1)[1])
    assert link.get_attribute("href") == f"/journal/{batch_id}"
    assert squash(dialog.locator("p[role=status]").inner_text()).startswith(
        f"{total} documents changed:")
    shot(page, "documents-done")

    dialog.locator("p > button[data-close-dialog]", has_text="Close").click()
    page.locator("dialog#dialog").wait_for(state="hidden")
    wait_panel_zero(page, ELEMENTS)
    assert page.evaluate("window.noPageLoad") is True
    assert page.locator("#panel-from").input_value() == date_from.isoformat()
    assert page.locator("#panel-to").input_value() == date_to.isoformat()

    # The database: the period's documents follow Ferrari now, older ones still Colombo.
    for element in ELEMENTS:
        by_id = {doc["id"]: doc for doc in documents(live_server, element)}
        for doc in wrong[element]:
            assert by_id[doc["id"]]["followers"] == {to_id}, (element, doc["ref"])
        for doc in outside[element]:
            assert by_id[doc["id"]]["followers"] == {from_id}, (element, doc["ref"])
        assert not mismatched(live_server, element, date_from, date_to)
    [(documents_changed,)] = query(
        live_server, "SELECT documents_changed FROM llx_autocontact_batch WHERE id = ?", batch_id)
    assert documents_changed == total
    shot(page, "card-after-update")


def test_dialog_by_keyboard(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    page.goto(card_url(live_server, *period()))
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == BUTTON:
            break
    else:
        raise AssertionError(f"Tab never reached the {BUTTON} button")
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("#dialog-title").wait_for()
    page.wait_for_function("document.getElementById('dialog').contains(document.activeElement)")

    page.keyboard.press("Escape")
    page.locator("dialog#dialog").wait_for(state="hidden")
    page.wait_for_function(f"document.activeElement.textContent.trim() === {BUTTON!r}")
    assert page.evaluate("document.activeElement.getAttribute('hx-get')").startswith(
        f"/thirdparties/{TID}/documents")
    assert page.evaluate("document.getElementById('dialog-body').innerHTML") == ""


def test_viewer_sees_the_panel_without_the_update(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "cconti", DEMO_PASSWORD)
    page.goto(card_url(live_server, *period()))
    assert page.locator("h1").inner_text().startswith(DEMO_SCENARIO["thirdparty_name"])
    panel = page.locator("#consistency")
    assert panel.is_visible()
    assert set(ELEMENTS) <= set(panel_counts(page))
    assert page.get_by_role("button", name=BUTTON).count() == 0

    expect_status(page, 403)
    response = page.goto(live_server.url(f"/thirdparties/{TID}/documents"))
    assert response.status == 403
    assert page.locator("h1").inner_text() == "403"


def test_invalid_period_is_refused_in_the_dialog(live_server, browser_page):
    page = browser_page
    before = contacts_snapshot(live_server)
    date_from, date_to = period()
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    page.goto(card_url(live_server, date_from, date_to))
    page.evaluate("window.noPageLoad = true")
    dialog = open_dialog(page)
    earlier = (date_from - timedelta(days=1)).isoformat()
    dialog.locator("#date_to").fill(earlier)
    expect_status(page, 400)
    dialog.get_by_role("button", name="Preview", exact=True).click()
    error = dialog.locator(".message-error[role=alert]")
    error.wait_for()
    assert "'date_to' is before 'date_from'" in error.inner_text()
    assert page.locator("dialog#dialog[open]").count() == 1
    assert dialog.locator("#date_from").input_value() == date_from.isoformat()
    assert dialog.locator("#date_to").input_value() == earlier
    assert dialog.get_by_role("button", name=re.compile(r"^Apply")).count() == 0
    assert page.evaluate("window.noPageLoad") is True
    assert contacts_snapshot(live_server) == before
