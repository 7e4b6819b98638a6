"""The consistency report and a portfolio in headless Chromium under uWSGI, on the demo
(README): Rossi Arredamenti moved from Andrea Colombo to Giulia Ferrari, its documents
still name Colombo.

Open the report, follow a line to its fix, apply it, and see the report's count drop.
Every expectation is computed with plain SQL on the SQLite copy the server runs on.
"""
import re
import sqlite3
from collections import defaultdict
from datetime import date

from autocontact.dolibarr.demo import DEMO_PASSWORD, DEMO_SCENARIO

from browser import login, shot

TID = DEMO_SCENARIO["thirdparty_rowid"]
# Where the document types live and which date places them in a period (FACTS.md).
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


def query(live_server, sql, *params):
    with sqlite3.connect(live_server.database_path) as connection:
        return connection.execute(sql, params).fetchall()


def period():
    today = date.today()
    try:
        start = today.replace(year=today.year - 2)
    except ValueError:  # 29 February
        start = today.replace(year=today.year - 2, day=28)
    return start.isoformat(), today.isoformat()


def user_id(live_server, login_name):
    [(rowid,)] = query(live_server, "SELECT rowid FROM llx_user WHERE login = ?", login_name)
    return rowid


def documents_of(live_server, thirdparty_id, date_from, date_to):
    """Every document of the thirdparty in the period: (element, id) -> its followers."""
    found = {}
    for element, (table, column, code) in TYPES.items():
        followers = defaultdict(set)
        for element_id, person in query(
                live_server, "SELECT ec.element_id, ec.fk_socpeople FROM llx_element_contact ec"
                " JOIN llx_c_type_contact t ON t.rowid = ec.fk_c_type_contact"
                " WHERE t.element = ? AND t.code = ? AND t.source = 'internal'", element, code):
            followers[element_id].add(person)
        for rowid, day in query(live_server, f"SELECT rowid, {column} FROM {table}"
                                             " WHERE fk_soc = ? AND entity = 1", thirdparty_id):
            if day and date_from <= str(day)[:10] <= date_to:
                found[element, rowid] = followers[rowid]
    return found


def active_reps(live_server, thirdparty_id):
    return {user for (user,) in query(
        live_server, "SELECT sc.fk_user FROM llx_societe_commerciaux sc JOIN llx_user u"
        " ON u.rowid = sc.fk_user WHERE sc.fk_soc = ? AND u.statut = 1", thirdparty_id)}


def number(text):
    return int(text.strip().replace(",", ""))


def report_url(live_server, date_from, date_to):
    return live_server.url(f"/reports/consistency?date_from={date_from}&date_to={date_to}")


def total_not_matching(page):
    return number(page.locator("#documents-by-type tr[data-type=all] [data-figure=not_matching]")
                  .inner_text())


def test_report_line_to_its_fix_and_the_count_drops(live_server, browser_page):
    page = browser_page
    date_from, date_to = period()
    colombo = user_id(live_server, DEMO_SCENARIO["from_login"])
    ferrari = user_id(live_server, DEMO_SCENARIO["to_login"])
    assert active_reps(live_server, TID) == {ferrari}
    docs = documents_of(live_server, TID, date_from, date_to)
    wrong = {key for key, followers in docs.items() if followers != {ferrari}}
    followed_by_colombo = {key for key, followers in docs.items() if colombo in followers}
    assert len(wrong) >= 27 and followed_by_colombo

    login(page, live_server.base_url, "admin", DEMO_PASSWORD)

    # Colombo's portfolio: Rossi is among the thirdparties he follows but no longer represents.
    page.goto(live_server.url(f"/portfolio/{colombo}?date_from={date_from}&date_to={date_to}"))
    assert page.locator("h1").inner_text() == f"Portfolio of {DEMO_SCENARIO['from_name']}"
    line = page.locator(f"#portfolio-not-represented tr[data-thirdparty='{TID}']")
    assert number(line.locator("[data-figure=documents]").inner_text()) == \
        len(followed_by_colombo)
    assert page.locator("#chart-types svg[role=img]").is_visible()
    shot(page, "portfolio")

    # The report: Rossi's line shows its documents that do not match Ferrari.
    page.goto(report_url(live_server, date_from, date_to))
    assert page.locator("h1").inner_text() == "Consistency report"
    line = page.locator(f"#not-matching-by-thirdparty tr[data-thirdparty='{TID}']")
    assert number(line.locator("[data-figure=documents]").inner_text()) == len(wrong)
    assert line.locator(".chip").all_inner_texts() == [DEMO_SCENARIO["to_name"]]
    before = total_not_matching(page)
    assert page.locator("#chart-months svg[role=img] rect").count() > 0
    shot(page, "report")
    page.evaluate("window.noPageLoad = true")

    # Follow the line to its fix: the document update dialog, the period filled in.
    line.get_by_role("link", name=f"Update the document contacts of "
                                  f"{DEMO_SCENARIO['thirdparty_name']}").click()
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("#dialog-title").wait_for()
    assert dialog.locator("#dialog-title").inner_text() == \
        f"Update document contacts — {DEMO_SCENARIO['thirdparty_name']}"
    assert dialog.locator("#date_from").input_value() == date_from
    assert dialog.locator("#date_to").input_value() == date_to
    assert dialog.locator("input[name=mode][value=sync]").is_checked()
    dialog.get_by_role("button", name="Preview", exact=True).click()
    dialog.locator("caption", has_text="What will change").wait_for()
    dialog.get_by_role("button", name=f"Apply to {len(wrong)} documents", exact=True).click()
    dialog.locator("caption", has_text="What changed").wait_for()
    shot(page, "report-fix-applied")
    dialog.locator("p > button[data-close-dialog]", has_text="Close").click()
    page.locator("dialog#dialog").wait_for(state="hidden")

    # The report refreshed itself: Rossi's line is gone, the total dropped by as much.
    page.locator(f"#not-matching-by-thirdparty tr[data-thirdparty='{TID}']").wait_for(
        state="detached")
    assert total_not_matching(page) == before - len(wrong)
    assert page.evaluate("window.noPageLoad") is True
    after = documents_of(live_server, TID, date_from, date_to)
    assert all(followers == {ferrari} for followers in after.values())
    shot(page, "report-after-fix")


def test_report_line_to_the_list_and_the_count_drops(live_server, browser_page):
    page = browser_page
    date_from, date_to = period()
    [(without,)] = query(live_server, "SELECT COUNT(*) FROM llx_societe s WHERE s.entity = 1"
                                      " AND NOT EXISTS (SELECT 1 FROM llx_societe_commerciaux sc"
                                      " WHERE sc.fk_soc = s.rowid)")
    assert without
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    page.goto(report_url(live_server, date_from, date_to))
    line = page.locator("tr[data-line=without_sales_rep]")
    assert number(line.locator("td.num").inner_text()) == without

    # The line selects those thirdparties in the list; assign them a rep.
    line.get_by_role("link", name="Select them in the list").click()
    page.wait_for_url(re.compile(r"/thirdparties\?"))
    assert page.is_checked("#scope-filter")
    assert page.locator("#results p.count").inner_text().startswith(f"{without:,} thirdpart")
    page.locator("#results .actions").get_by_role("button", name="Assign…", exact=True).click()
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("#dialog-title").wait_for()
    assert f"{without:,} thirdparties selected." in dialog.inner_text()
    dialog.locator("#user_ids").select_option(str(user_id(live_server, "gferrari")))
    dialog.get_by_role("button", name="Preview").click()
    dialog.get_by_role("button", name=re.compile(r"^Confirm")).click()
    dialog.locator(".message-success").wait_for()

    page.goto(report_url(live_server, date_from, date_to))
    assert number(page.locator("tr[data-line=without_sales_rep] td.num").inner_text()) == 0
    [(left,)] = query(live_server, "SELECT COUNT(*) FROM llx_societe s WHERE s.entity = 1"
                                   " AND NOT EXISTS (SELECT 1 FROM llx_societe_commerciaux sc"
                                   " WHERE sc.fk_soc = s.rowid)")
    assert left == 0
