"""End-to-end smoke test in headless Chromium against the app under uWSGI."""
import json
import re
import sqlite3

from autocontact.dolibarr.demo import DEMO_PASSWORD

from browser import expect_status, login, shot

VALID_DN = "cn=sales-managers,ou=groups,dc=example,dc=com"


def query(live_server, sql, *params):
    with sqlite3.connect(live_server.database_path) as connection:
        return connection.execute(sql, params).fetchall()


def test_admin_sees_the_overview(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    assert page.locator("h1").inner_text() == "Overview"
    [(total,)] = query(live_server, "SELECT COUNT(*) FROM llx_societe WHERE entity = 1")
    card = page.locator(".card", has_text="thirdparties")
    assert re.fullmatch(rf"{total}\s+thirdparties", card.inner_text().strip())
    shot(page, "overview")


def test_setup_shows_errors_in_place_then_saves(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Setup").click()
    section = page.locator("#permissions")
    assert section.get_by_role("heading").inner_text() == "Who may edit, who manages"
    # htmx swaps the section in place; a full page load would drop this marker.
    page.evaluate("window.noPageLoad = true")

    expect_status(page, 400)  # the invalid form answers 400 with the section re-rendered
    section.locator("#manager_ldap_groups").fill("not a dn")
    section.get_by_role("button", name="Save permissions").click()
    error = section.locator("#manager_ldap_groups-error")
    error.wait_for()
    assert "not a valid LDAP DN" in error.inner_text()
    assert section.locator("#manager_ldap_groups").get_attribute("aria-invalid") == "true"
    assert page.evaluate("window.noPageLoad") is True
    shot(page, "setup-error")

    section.locator("#manager_ldap_groups").fill(VALID_DN)
    section.get_by_role("button", name="Save permissions").click()
    section.locator(".section-status .ok", has_text="Saved.").wait_for()
    assert section.locator(".field-error").count() == 0
    assert page.evaluate("window.noPageLoad") is True
    rows = query(live_server, "SELECT value FROM llx_const WHERE name = ? AND entity = 1",
                 "AUTOCONTACT_MANAGER_LDAP_GROUPS")
    assert [json.loads(value) for (value,) in rows] == [[VALID_DN]]


def test_viewer_has_no_setup(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "cconti", DEMO_PASSWORD)
    nav = page.get_by_role("navigation", name="Main")
    assert nav.get_by_role("link", name="Overview").is_visible()
    assert nav.get_by_role("link", name="Setup").count() == 0
    expect_status(page, 403)
    response = page.goto(live_server.url("/setup"))
    assert response.status == 403
    assert page.locator("h1").inner_text() == "403"
    assert "manager" in page.locator(".error-page").inner_text()


def test_wrong_password_is_refused(live_server, browser_page):
    page = browser_page
    expect_status(page, 401)
    login(page, live_server.base_url, "gferrari", "not-the-password")
    assert page.url.startswith(live_server.url("/login"))
    assert page.get_by_role("alert").is_visible()
    assert page.get_by_role("navigation", name="Main").count() == 0
