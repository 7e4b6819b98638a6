"""The thirdparty list and its mass-action dialog in headless Chromium, under uWSGI.

Filters live in the URL and swap the results in place; a mass action is a dialog
(choose → preview → confirm) whose outcome refreshes the rows without a page load.
Every expectation is computed from the SQLite copy the server runs on.
"""
import re
import sqlite3
from urllib.parse import parse_qs, urlsplit

from autocontact.dolibarr.demo import DEMO_PASSWORD

from browser import expect_status, login, shot

SEARCH = "milano"
# Societe::getSalesRepresentatives, as Dolibarr reads a thirdparty's sales reps.
DOLIBARR_REPS = ("SELECT DISTINCT u.rowid FROM llx_user u, llx_societe_commerciaux sc"
                 " WHERE sc.fk_soc = ? AND sc.fk_user = u.rowid AND u.entity IN (0,1)")
ACTIVE_INTERNAL = ("SELECT rowid FROM llx_user WHERE entity IN (0, 1) AND statut = 1"
                   " AND (fk_soc IS NULL OR fk_soc = 0) ORDER BY admin, rowid")


def query(live_server, sql, *params):
    with sqlite3.connect(live_server.database_path) as connection:
        return connection.execute(sql, params).fetchall()


def dolibarr_reps(live_server, thirdparty_id):
    return {user_id for (user_id,) in query(live_server, DOLIBARR_REPS, thirdparty_id)}


def full_name(live_server, user_id):
    [(firstname, lastname, user_login)] = query(
        live_server, "SELECT firstname, lastname, login FROM llx_user WHERE rowid = ?", user_id)
    return " ".join(part for part in (firstname, lastname) if part) or user_login


def matching_customers(live_server, text):
    """The list's filter q=text&kind=customer, in plain SQL."""
    like = f"%{text.lower()}%"
    columns = ("nom", "name_alias", "code_client", "code_fournisseur", "town")
    sql = ("SELECT rowid FROM llx_societe WHERE entity = 1 AND client IN (1, 3) AND ("
           + " OR ".join(f"LOWER({column}) LIKE ?" for column in columns) + ") ORDER BY rowid")
    return [rowid for (rowid,) in query(live_server, sql, *[like] * len(columns))]


def squash(text):
    return " ".join(text.split())


def count_text(page):
    return squash(page.locator("#results .count").inner_text())


def wait_count_changes(page, before):
    page.wait_for_function(
        "before => { const c = document.querySelector('#results .count');"
        " return c && c.textContent.replace(/\\s+/g, ' ').trim() !== before; }", arg=before)


def row_ids(page):
    values = page.locator("#results input[name=ids]").evaluate_all("bs => bs.map(b => b.value)")
    return [int(value) for value in values]


def chips(page, thirdparty_id):
    return page.locator(f"#thirdparty-{thirdparty_id} td.chips")


def wait_chips(page, thirdparty_id, present=(), absent=()):
    """Wait until the row's sales-rep chips show ``present`` and none of ``absent``."""
    page.wait_for_function(
        """([id, present, absent]) => {
             const cell = document.querySelector(`#thirdparty-${id} td.chips`);
             if (!cell) return false;
             const names = [...cell.querySelectorAll('.chip')]
               .map(chip => chip.firstChild.textContent.trim());
             return present.every(n => names.includes(n)) && !absent.some(n => names.includes(n));
           }""", arg=[thirdparty_id, list(present), list(absent)])


def open_dialog(page, button_name):
    page.locator("#results .actions").get_by_role("button", name=button_name, exact=True).click()
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("#dialog-title").wait_for()
    return dialog


def preview_and_confirm(page, dialog, thirdparties, added, removed, screenshot=None):
    """Preview, check its numbers, confirm, check the Done message; return the journal href."""
    dialog.get_by_role("button", name="Preview").click()
    summary = dialog.locator("p[role=status]", has_text="This will change")
    summary.wait_for()
    numbers = [int(n.replace(",", "")) for n in summary.locator("strong").all_inner_texts()]
    assert numbers == [thirdparties, added, removed], squash(summary.inner_text())
    if screenshot:
        shot(page, screenshot)
    dialog.get_by_role("button", name=re.compile(r"^Confirm")).click()
    done = dialog.locator(".message-success", has_text="Done:")
    done.wait_for()
    assert (f"Done: {thirdparties:,} thirdparties changed, {added:,} links added, "
            f"{removed:,} removed.") in squash(done.inner_text())
    link = done.get_by_role("link", name=re.compile(r"^Journal entry #\d+$"))
    return link.inner_text(), link.get_attribute("href")


def close_dialog(page, dialog):
    dialog.locator("p > button[data-close-dialog]", has_text="Close").click()
    page.locator("dialog#dialog").wait_for(state="hidden")
    assert page.evaluate("document.getElementById('dialog').open") is False


def test_filter_then_assign_to_all_matching(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Thirdparties").click()
    page.locator("h1", has_text="Thirdparties").wait_for()
    page.evaluate("window.noPageLoad = true")
    expected_ids = matching_customers(live_server, SEARCH)
    assert 1 < len(expected_ids) <= 25, "the demo data should give one page of matches"

    # Search first, then the kind: the search's delayed request cannot land after the kind's.
    before = count_text(page)
    page.fill("#q", SEARCH)
    wait_count_changes(page, before)
    before = count_text(page)
    page.select_option("#kind", "customer")
    wait_count_changes(page, before)
    page.wait_for_load_state("networkidle")
    count = count_text(page)
    assert count == f"{len(expected_ids)} thirdparties match this filter."
    assert sorted(row_ids(page)) == expected_ids
    assert parse_qs(urlsplit(page.url).query) == {"q": [SEARCH], "kind": ["customer"]}
    assert page.evaluate("window.noPageLoad") is True

    # The pushed URL is a real page: reload it and get the same state, in full.
    page.reload()
    assert page.evaluate("window.noPageLoad") is None
    assert page.get_by_role("navigation", name="Main").is_visible()
    assert page.locator("h1").inner_text() == "Thirdparties"
    assert page.input_value("#q") == SEARCH
    assert page.input_value("#kind") == "customer"
    assert count_text(page) == count
    page.evaluate("window.noPageLoad = true")

    # Two active users who represent none of them yet.
    already = set().union(*(dolibarr_reps(live_server, tid) for tid in expected_ids))
    candidates = [uid for (uid,) in query(live_server, ACTIVE_INTERNAL) if uid not in already]
    users = candidates[:2]
    assert len(users) == 2
    names = [full_name(live_server, uid) for uid in users]

    page.get_by_label(f"Select all {len(expected_ids)} thirdparties matching this filter").check()
    assert page.is_checked("#scope-filter")
    dialog = open_dialog(page, "Assign…")
    assert dialog.locator("#dialog-title").inner_text() == "Assign sales reps"
    assert f"{len(expected_ids)} thirdparties selected." in squash(dialog.inner_text())
    dialog.locator("#user_ids").select_option([str(uid) for uid in users])
    label, href = preview_and_confirm(page, dialog, thirdparties=len(expected_ids),
                                      added=2 * len(expected_ids), removed=0,
                                      screenshot="mass-assign-preview")
    batch_id = int(label.rsplit("#", 1)[1])
    assert href == f"/journal/{batch_id}"

    close_dialog(page, dialog)
    assert page.evaluate("window.noPageLoad") is True
    for tid in expected_ids:
        wait_chips(page, tid, present=names)
        assert dolibarr_reps(live_server, tid) >= set(users), tid
    assert count_text(page) == count
    shot(page, "thirdparties-after-assign")

    page.goto(live_server.url(href))
    assert page.locator("h1").inner_text() == f"Journal entry #{batch_id}"
    entry = squash(page.locator("main").inner_text())
    assert f"{len(expected_ids)} thirdparties, {2 * len(expected_ids)} added, 0 removed" in entry
    assert page.locator("table.data tbody tr").count() == 2 * len(expected_ids)


def test_transfer_two_selected_rows(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    page.goto(live_server.url("/thirdparties"))
    page.evaluate("window.noPageLoad = true")

    # Two rows of the first page that share a rep: that rep hands over both.
    reps = {tid: dolibarr_reps(live_server, tid) for tid in row_ids(page)}
    pairs = [(a, b, user) for a in reps for b in reps if a < b for user in reps[a] & reps[b]]
    first, second, from_user = pairs[0] if pairs else (*list(reps)[:2], min(reps[list(reps)[0]]))
    selected = (first, second)
    handing_over = [tid for tid in selected if from_user in reps[tid]]
    to_user = next(uid for (uid,) in query(live_server, ACTIVE_INTERNAL)
                   if uid != from_user and not any(uid in reps[tid] for tid in selected))
    from_name, to_name = full_name(live_server, from_user), full_name(live_server, to_user)
    [(from_elsewhere,)] = query(
        live_server, "SELECT COUNT(*) FROM llx_societe_commerciaux WHERE fk_user = ?"
        f" AND fk_soc NOT IN ({first}, {second})", from_user)

    for tid in selected:
        page.locator(f"#thirdparty-{tid} input[name=ids]").check()
    dialog = open_dialog(page, "Transfer…")
    assert "2 thirdparties selected." in squash(dialog.inner_text())
    offered = dialog.locator("#from_user_id option").evaluate_all("os => os.map(o => o.value)")
    assert set(offered) == {""} | {str(uid) for tid in selected for uid in reps[tid]}
    dialog.locator("#from_user_id").select_option(str(from_user))
    dialog.locator("#to_user_id").select_option(str(to_user))
    preview_and_confirm(page, dialog, thirdparties=len(handing_over),
                        added=len(handing_over), removed=len(handing_over))
    close_dialog(page, dialog)

    assert page.evaluate("window.noPageLoad") is True
    for tid in selected:
        expected = reps[tid] - {from_user} | ({to_user} if tid in handing_over else set())
        assert dolibarr_reps(live_server, tid) == expected, tid
        if tid in handing_over:
            wait_chips(page, tid, present=[to_name], absent=[from_name])
    [(still_elsewhere,)] = query(
        live_server, "SELECT COUNT(*) FROM llx_societe_commerciaux WHERE fk_user = ?"
        f" AND fk_soc NOT IN ({first}, {second})", from_user)
    assert still_elsewhere == from_elsewhere


def test_unassign_dialog_by_keyboard_only(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    page.goto(live_server.url("/thirdparties"))
    page.focus("#q")
    for _ in range(30):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.matches('input[name=ids]')"):
            break
    else:
        raise AssertionError("Tab never reached a row checkbox")
    tid = page.evaluate("document.activeElement.value")
    page.keyboard.press("Space")
    assert page.is_checked(f"#thirdparty-{tid} input[name=ids]")

    for _ in range(10):  # the toolbar comes before the table: go back to it
        page.keyboard.press("Shift+Tab")
        if page.evaluate("document.activeElement.textContent.trim()") == "Unassign…":
            break
    else:
        raise AssertionError("Shift+Tab never reached the Unassign… button")
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("#dialog-title").wait_for()
    assert dialog.locator("#dialog-title").inner_text() == "Unassign sales reps"
    page.wait_for_function("document.getElementById('dialog').contains(document.activeElement)")
    assert "1 thirdparty selected." in squash(dialog.inner_text())

    page.keyboard.press("Escape")
    page.locator("dialog#dialog").wait_for(state="hidden")
    page.wait_for_function("document.activeElement.textContent.trim() === 'Unassign…'")
    assert page.evaluate("document.activeElement.getAttribute('hx-get')").endswith("/unassign")
    assert page.evaluate("document.getElementById('dialog-body').innerHTML") == ""


def test_viewer_sees_the_list_without_mass_actions(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "cconti", DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Thirdparties").click()
    page.locator("h1", has_text="Thirdparties").wait_for()
    [(total,)] = query(live_server, "SELECT COUNT(*) FROM llx_societe WHERE entity = 1")
    assert count_text(page) == f"{total:,} thirdparties."
    assert page.locator("#results tbody tr").count() == 25
    assert page.locator("#results .actions").count() == 0
    for name in ("Assign…", "Unassign…", "Transfer…", "Remove all…"):
        assert page.get_by_role("button", name=name).count() == 0
    assert page.locator("dialog#dialog[open]").count() == 0
    assert page.locator("input[name=ids], #scope-filter").count() == 0  # nothing to select
    first_id = page.locator("#results tbody tr").first.get_attribute("id").split("-")[1]

    expect_status(page, 403)  # and the dialog's URL refuses a viewer
    response = page.goto(live_server.url(f"/thirdparties/mass/assign?ids={first_id}"))
    assert response.status == 403
    assert page.locator("h1").inner_text() == "403"
