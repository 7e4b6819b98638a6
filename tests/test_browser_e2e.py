"""End to end in headless Chromium under uWSGI: company (LDAP) login, a session that
expires in the middle of a dialog, every screen labelled and readable, and the main
flow in Italian with no English left on the screens."""
import re
import shutil
import sqlite3

import i18n_check
import pytest

from autocontact.dolibarr.demo import DEMO_PASSWORD

from browser import expect_status, login, serve, shot

LDAP_PASSWORD = "Company-pass-7"

# Runs in the page: every control has an accessible name; text contrast is at least
# 4.5:1 (3:1 for large text) against the first opaque background behind it (WCAG AA).
AUDIT = """() => {
  const problems = [];
  const visible = el => el.offsetParent !== null || el.tagName === 'DIALOG';
  const named = el => {
    if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return true;
    if (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) return true;
    if (el.closest('label')) return true;
    if (['BUTTON', 'A', 'SUMMARY'].includes(el.tagName) && el.textContent.trim()) return true;
    return Boolean(el.getAttribute('title'));
  };
  for (const el of document.querySelectorAll(
      'input:not([type=hidden]), select, textarea, button, a[href], summary')) {
    if (visible(el) && !named(el)) problems.push('no accessible name: ' + el.outerHTML.slice(0, 120));
  }
  const rgb = text => (text.match(/[\\d.]+/g) || []).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const background = el => {
    for (; el; el = el.parentElement) {
      const color = rgb(getComputedStyle(el).backgroundColor);
      if (color.length >= 3 && (color.length === 3 || color[3] > 0.5)) return color;
    }
    return [255, 255, 255];
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const seen = new Set();
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!walker.currentNode.textContent.trim() || seen.has(el) || !visible(el)) continue;
    if (el.closest('.visually-hidden, [hidden], option')) continue;
    seen.add(el);
    const style = getComputedStyle(el);
    const [l1, l2] = [luminance(rgb(style.color)), luminance(background(el))];
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const large = parseFloat(style.fontSize) >= 24 || (parseFloat(style.fontSize) >= 18.66 && Number(style.fontWeight) >= 700);
    if (ratio < (large ? 3 : 4.5)) problems.push(`contrast ${ratio.toFixed(2)}: "${el.textContent.trim().slice(0, 40)}"`);
  }
  return problems;
}"""


def audit(page):
    page.wait_for_load_state("networkidle")  # leaving earlier would abort the favicon's load
    problems = page.evaluate(AUDIT)
    assert problems == [], f"{page.url}:\n" + "\n".join(problems)


# --- Company login (LDAP) ------------------------------------------------------------

@pytest.fixture(scope="module")
def ldap_server_app(sqlite_template, tmp_path_factory, ldap_directory):
    """uWSGI configured like a Dolibarr with $dolibarr_main_authentication='ldap,dolibarr'."""
    try:
        ldap_directory.add_user("gferrari", LDAP_PASSWORD, cn="Giulia Ferrari")
    except Exception:  # already there from an earlier module: set the password again
        ldap_directory.set_password("gferrari", LDAP_PASSWORD)
    workdir = tmp_path_factory.mktemp("live-ldap")
    database_path = workdir / "dolibarr.sqlite"
    shutil.copy(sqlite_template, database_path)
    with serve(database_path, workdir,
               AUTOCONTACT_AUTH="ldap,dolibarr",
               AUTOCONTACT_LDAP_HOST=ldap_directory.url,
               AUTOCONTACT_LDAP_DN=ldap_directory.users_dn,
               AUTOCONTACT_LDAP_LOGIN_ATTRIBUTE="uid",
               AUTOCONTACT_LDAP_ADMIN_LOGIN=ldap_directory.service_dn,
               AUTOCONTACT_LDAP_ADMIN_PASS=ldap_directory.service_password) as server:
        yield server


def test_company_login_through_ldap(ldap_server_app, browser_page):
    page = browser_page
    expect_status(page, 401)
    login(page, ldap_server_app.base_url, "gferrari", "not-the-company-password")
    assert page.locator("[role=alert]").is_visible()
    assert page.url.startswith(ldap_server_app.url("/login"))

    login(page, ldap_server_app.base_url, "gferrari", LDAP_PASSWORD)
    # Giulia Ferrari's Dolibarr language is Italian (llx_user.lang = it_IT).
    assert page.locator("h1").inner_text() == "Panoramica"
    assert "Giulia Ferrari" in page.locator("header").inner_text()
    assert page.evaluate("document.documentElement.lang") == "it"
    shot(page, "ldap-login-italian-overview")


# --- A session that expires in a dialog ---------------------------------------------

def _links(live_server):
    with sqlite3.connect(live_server.database_path) as connection:
        return sorted(connection.execute("SELECT rowid, fk_soc, fk_user FROM llx_societe_commerciaux"))


def test_a_session_expiring_mid_dialog_sends_to_login_and_back(live_server, browser_page):
    page = browser_page
    expect_status(page, 401)
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    page.goto(live_server.url("/thirdparties?kind=customer"))
    boxes = page.locator("#results input[name=ids]")
    boxes.nth(0).check()
    boxes.nth(1).check()
    page.locator("#results .actions").get_by_role("button", name="Assign…", exact=True).click()
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("#user_ids").select_option(index=0)
    before = _links(live_server)

    page.context.clear_cookies()  # the session ends (timeout, logout elsewhere, restart)
    with page.expect_navigation():
        dialog.get_by_role("button", name="Preview").click()
    assert page.url.startswith(live_server.url("/login"))
    assert _links(live_server) == before

    page.fill("#login", "admin")
    page.fill("#password", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form.stacked button[type=submit]")
    assert page.url == live_server.url("/thirdparties?kind=customer")
    assert _links(live_server) == before  # nothing was half-done


# --- Every screen: labels, contrast ------------------------------------------------------

SCREENS = ("/", "/thirdparties", "/thirdparties/17", "/journal", "/setup")


def test_every_screen_is_labelled_and_readable(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    for path in SCREENS:
        page.goto(live_server.url(path))
        audit(page)
    page.goto(live_server.url("/thirdparties"))
    page.locator("#results input[name=ids]").first.check()
    page.locator("#results .actions").get_by_role("button", name="Assign…", exact=True).click()
    page.locator("dialog#dialog[open] #dialog-title").wait_for()
    audit(page)


# --- In Italian ------------------------------------------------------------------------

@pytest.fixture
def italian_page(chromium):
    """A page whose browser asks for Italian (Accept-Language: it-IT)."""
    from browser import _PROBLEMS, _Problems
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="it-IT")
    context.set_default_timeout(10_000)
    page = context.new_page()
    problems = _PROBLEMS[page] = _Problems()
    page.on("console", problems.console)
    page.on("pageerror", lambda error: problems.found.append(f"uncaught JS error: {error}"))
    page.on("requestfailed", problems.request_failed)
    yield page
    context.close()
    del _PROBLEMS[page]
    assert not problems.found, "the browser reported:\n" + "\n".join(problems.found)


# Text of the screen without what is data or code: Dolibarr identifiers in <code>, and the
# words of the company's own data (names, towns, groups, Dolibarr's dictionary labels).
SCREEN_TEXT = """() => {
  const parts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (el.closest('code, script, noscript, style, template')) continue;
    if (!el.checkVisibility() && !el.closest('option')) continue;
    parts.push(walker.currentNode.textContent);
  }
  for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
    parts.push(el.getAttribute('aria-label') || '', el.getAttribute('title') || '',
               el.getAttribute('placeholder') || '');
  }
  return parts.join(' ');
}"""
DATA_COLUMNS = {"llx_societe": ("nom", "name_alias", "town"),
                "llx_user": ("firstname", "lastname", "login"),
                "llx_usergroup": ("nom",), "llx_c_type_contact": ("libelle",)}


def data_words(live_server):
    words = set()
    with sqlite3.connect(live_server.database_path) as connection:
        for table, columns in DATA_COLUMNS.items():
            for row in connection.execute(f"SELECT {', '.join(columns)} FROM {table}"):
                words.update(w.lower() for value in row if value
                             for w in re.findall(r"[A-Za-z]{3,}", str(value)))
    return words


def no_english(page, words):
    page.wait_for_load_state("networkidle")
    text = re.sub(r"\b\w+=\S+", " ", page.evaluate(SCREEN_TEXT))  # LDAP DNs are data
    left = i18n_check.english_left(text, words)
    context = [m.group(0) for word in left for m in re.finditer(rf".{{0,40}}\b{word}\b.{{0,40}}", text)]
    assert left == [], f"English left on {page.url}: {left} in {context}"


def test_the_main_flow_in_italian(live_server, italian_page):
    page = italian_page
    words = i18n_check.english_words() - data_words(live_server)
    page.goto(live_server.url("/login"))
    no_english(page, words)
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    assert page.locator("h1").inner_text() == "Panoramica"
    no_english(page, words)
    shot(page, "it-overview")

    page.goto(live_server.url("/thirdparties?kind=customer"))
    no_english(page, words)
    page.locator("#results input[name=ids]").nth(2).check()
    page.locator("#results .actions").get_by_role("button", name="Assegna…", exact=True).click()
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("#user_ids").select_option(index=3)
    dialog.get_by_role("button", name="Anteprima").click()
    dialog.locator("p[role=status]").first.wait_for()
    no_english(page, words)
    shot(page, "it-mass-assign-preview")
    dialog.get_by_role("button", name="Conferma").click()
    done = dialog.locator(".message-success")
    done.wait_for()
    no_english(page, words)
    href = done.get_by_role("link").get_attribute("href")

    page.goto(live_server.url("/thirdparties/17"))
    no_english(page, words)
    shot(page, "it-thirdparty-card")
    page.goto(live_server.url(href))
    no_english(page, words)
    page.get_by_role("button", name="Annulla questa modifica…").click()
    page.get_by_role("button", name="Conferma l'annullamento").click()
    page.locator("#undo-panel .message-success").wait_for()
    no_english(page, words)
    page.goto(live_server.url("/journal"))
    no_english(page, words)
    shot(page, "it-journal")
    page.goto(live_server.url("/setup"))
    no_english(page, words)
    shot(page, "it-setup")


# --- One mass action without the mouse --------------------------------------------------

def _settled(page):
    """htmx has swapped and processed the new content (its forms now post through htmx)."""
    page.wait_for_function(
        "!document.querySelector('.htmx-request, .htmx-swapping, .htmx-settling, .htmx-added')")


def _tab_to(page, predicate, key="Tab", limit=40):
    _settled(page)
    for _ in range(limit):
        page.keyboard.press(key)
        if page.evaluate(f"(() => {{ const el = document.activeElement; return {predicate}; }})()"):
            return
    raise AssertionError(f"{key} never reached: {predicate}")


def test_a_mass_assign_with_the_keyboard_alone(live_server, browser_page):
    page = browser_page
    login(page, live_server.base_url, "admin", DEMO_PASSWORD)
    page.goto(live_server.url("/thirdparties?kind=customer"))
    page.focus("#q")
    _tab_to(page, "el.matches('input[name=ids]')")
    thirdparty_id = int(page.evaluate("document.activeElement.value"))
    page.keyboard.press("Space")
    _tab_to(page, "el.textContent.trim() === 'Assign…'", key="Shift+Tab")
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("#dialog-title").wait_for()
    page.wait_for_function("document.activeElement.id === 'user_ids'")
    page.keyboard.press("ArrowDown")  # selects the first user of the list
    chosen = int(page.evaluate("document.getElementById('user_ids').selectedOptions[0].value"))
    before = set(_links(live_server))
    _tab_to(page, "el.textContent.trim() === 'Preview'")
    page.keyboard.press("Enter")
    dialog.locator("p[role=status]", has_text="This will change").wait_for()
    # The preview takes focus to its first control; Tab goes round the modal dialog.
    if not page.evaluate("document.activeElement.textContent.trim().startsWith('Confirm')"):
        _tab_to(page, "el.textContent.trim().startsWith('Confirm')")
    _settled(page)
    page.keyboard.press("Enter")
    dialog.locator(".message-success", has_text="Done:").wait_for()
    added = set(_links(live_server)) - before
    assert {(soc, user) for _rowid, soc, user in added} == {(thirdparty_id, chosen)}
    page.keyboard.press("Escape")
    page.locator("dialog#dialog").wait_for(state="hidden")
    shot(page, "keyboard-assign-done")
