"""Long operations in headless Chromium, under uWSGI: a mass action over the whole
company, its documents included, runs in the background; the dialog's progress bar
moves phase by phase, then the summary comes. A worker killed half-way leaves
nothing changed and a job that says so, and the operation runs again.

The server runs on a copy of the demo whose proposals, orders and invoices are
multiplied (with their follow-up contacts), so that the operation takes seconds on
SQLite, like a real company's history: 200,000 documents to update. On SQLite the
operation holds the only writer lock until it commits; the bar moves all the same.
"""
import os
import re
import shutil
import signal
import sqlite3
import time
from datetime import date, timedelta
from urllib.parse import urlencode

import pytest

from autocontact.dolibarr.demo import DEMO_PASSWORD
from autocontact.services.jobs import INTERRUPTED

from browser import login, serve, shot

COPIES = 60                      # the demo's ~3,750 sales documents become ~230,000
OFFSET = 1_000_000               # copy k of document n is document n + k * OFFSET
ENLARGED = (("llx_propal", "propal"), ("llx_commande", "commande"), ("llx_facture", "facture"))
LONG = 180_000                   # ms: a preview or an operation over the whole company
ACTIVE_INTERNAL = ("SELECT rowid FROM llx_user WHERE entity IN (0, 1) AND statut = 1"
                   " AND (fk_soc IS NULL OR fk_soc = 0) ORDER BY admin, rowid")


def enlarge(path, copies):
    """Copy every proposal, order and invoice ``copies`` times, follow-up contacts too."""
    series = "WITH RECURSIVE k(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM k WHERE n < ?) "
    with sqlite3.connect(path) as connection:
        for table, element in ENLARGED:
            columns = [row[1] for row in connection.execute(f"PRAGMA table_info({table})")
                       if row[1] not in ("rowid", "ref")]
            names = ", ".join(f"`{name}`" for name in columns)
            values = ", ".join(f"d.`{name}`" for name in columns)
            connection.execute(
                f"{series} INSERT INTO {table} (rowid, ref, {names})"
                f" SELECT d.rowid + k.n * {OFFSET}, d.ref || '-' || k.n, {values}"
                f" FROM {table} d, k WHERE d.rowid < {OFFSET}", (copies,))
            connection.execute(
                f"{series} INSERT INTO llx_element_contact"
                " (datecreate, statut, element_id, fk_c_type_contact, fk_socpeople)"
                f" SELECT ec.datecreate, ec.statut, ec.element_id + k.n * {OFFSET},"
                " ec.fk_c_type_contact, ec.fk_socpeople FROM llx_element_contact ec"
                " JOIN llx_c_type_contact t ON t.rowid = ec.fk_c_type_contact, k"
                f" WHERE t.element = ? AND ec.element_id < {OFFSET}", (copies, element))


@pytest.fixture(scope="module")
def large_server(sqlite_template, tmp_path_factory):
    """uWSGI over the enlarged demo; anything over 1,000 rows runs in the background."""
    workdir = tmp_path_factory.mktemp("large")
    database_path = workdir / "dolibarr.sqlite"
    shutil.copy(sqlite_template, database_path)
    enlarge(database_path, COPIES)
    with serve(database_path, workdir, AUTOCONTACT_BACKGROUND_ROWS="1000") as server:
        yield server


def query(server, sql, *params):
    with sqlite3.connect(server.database_path) as connection:
        return connection.execute(sql, params).fetchall()


def free_users(server):
    """Active internal users who represent no thirdparty: assigning them changes everything."""
    taken = {user for (user,) in query(server, "SELECT fk_user FROM llx_societe_commerciaux")}
    return [user for (user,) in query(server, ACTIVE_INTERNAL) if user not in taken]


def period():
    today = date.today()
    return today - timedelta(days=4 * 365), today


def squash(text):
    return " ".join(text.split())


def numbers(text):
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*", text)]


def fingerprint(server):
    """What the operation would change, summed: equal before and after means untouched."""
    return (query(server, "SELECT COUNT(*), SUM(rowid), SUM(element_id * 31 + fk_socpeople)"
                          " FROM llx_element_contact"),
            query(server, "SELECT COUNT(*), SUM(rowid), SUM(fk_soc * 31 + fk_user)"
                          " FROM llx_societe_commerciaux"),
            query(server, "SELECT COUNT(*) FROM llx_autocontact_batch"))


# The job's block in the page, read at each animation frame until it differs from the
# last state seen: every fragment the 500 ms poll swaps in is observed.
NEXT_STATE = """last => {
  const job = document.querySelector(`${last.scope} .job`);
  if (!job) return null;
  const label = job.querySelector('label'), bar = job.querySelector('progress');
  const state = {phase: label && label.textContent.replace(/\\s+/g, ' ').trim(),
                 value: bar && Number(bar.getAttribute('value')),
                 max: bar && Number(bar.getAttribute('max')),
                 done: !!job.querySelector('.message-success'),
                 failed: !!job.querySelector('.message-error')};
  const key = JSON.stringify(state);
  return key !== last.key ? {key, state} : null;
}"""


def watch(page, scope, on_state=None):
    """Every distinct state of the job's block until it ends; returns them in order."""
    states, key = [], ""
    while True:
        seen = page.wait_for_function(NEXT_STATE, arg={"scope": scope, "key": key},
                                      timeout=LONG).json_value()
        key, state = seen["key"], seen["state"]
        states.append(state)
        if on_state:
            on_state(state, states)
        if state["done"] or state["failed"]:
            return states


def fetch(page, path, form=None):
    """A request made from the page the way htmx makes them: (status, body)."""
    return page.evaluate("""async ([path, form]) => {
      const headers = {"HX-Request": "true",
                       ...JSON.parse(document.body.getAttribute("hx-headers"))};
      const init = form === null ? {headers} : {method: "POST", body: form,
        headers: {...headers, "Content-Type": "application/x-www-form-urlencoded"}};
      const response = await fetch(path, init);
      return [response.status, await response.text()];
    }""", [path, form])


def test_progress_bar_moves_then_the_summary(large_server, browser_page):
    page = browser_page
    user = free_users(large_server)[0]
    date_from, date_to = period()
    login(page, large_server.base_url, "admin", DEMO_PASSWORD)
    page.goto(large_server.url("/thirdparties"))
    [thirdparties] = numbers(page.locator("label.select-all").inner_text())
    page.get_by_label(f"Select all {thirdparties:,} thirdparties matching this filter").check()
    page.locator("#results .actions").get_by_role("button", name="Assign…", exact=True).click()
    dialog = page.locator("dialog#dialog[open]")
    dialog.locator("#dialog-title").wait_for()
    dialog.locator("#user_ids").select_option(str(user))
    dialog.locator("details.cascade summary").click()
    dialog.get_by_label("Make the follow-up contacts of their documents match").check()
    dialog.locator("#cascade-from").fill(date_from.isoformat())
    dialog.locator("#cascade-to").fill(date_to.isoformat())

    dialog.get_by_role("button", name="Preview").click()
    summary = dialog.locator("p[role=status]", has_text="This will change")
    summary.wait_for(timeout=LONG)
    assert numbers(" ".join(summary.locator("strong").all_inner_texts())) == [
        thirdparties, thirdparties, 0]
    cascade = squash(dialog.locator("p", has_text="Their documents").inner_text())
    documents, added, removed = numbers(cascade)[:3]
    assert documents > 100_000, cascade

    dialog.get_by_role("button", name=re.compile(r"^Confirm")).click()

    def screenshot_mid_way(state, states):
        running = [s for s in states if not (s["done"] or s["failed"])]
        if not state["done"] and len(running) == 3:
            shot(page, "job-progress")
    states = watch(page, "#dialog", screenshot_mid_way)

    running, end = states[:-1], states[-1]
    phases = [state["phase"] for state in running]
    assert end["done"], states
    assert len(running) >= 3, f"the bar should move at least twice before the end: {states}"
    assert [state["value"] for state in running] == sorted(state["value"] for state in running)
    assert len({state["value"] for state in running}) >= 3, phases
    assert all(re.fullmatch(r".+ — step \d+ of \d+", phase) for phase in phases), phases
    assert running[0]["max"] == running[-1]["max"] > 20

    done = dialog.locator(".job .message-success")
    text = squash(done.inner_text())
    assert text.startswith(f"Done: {thirdparties:,} thirdparties changed, {thirdparties:,} "
                           f"links added, 0 removed; {documents:,} documents updated "
                           f"({added:,} contacts added, {removed:,} removed)."), text
    link = done.get_by_role("link", name=re.compile(r"^Journal entry #\d+$"))
    batch_id = int(link.inner_text().rsplit("#", 1)[1])
    assert link.get_attribute("href") == f"/journal/{batch_id}"
    shot(page, "job-done")

    [(changed, contacts_added)] = query(
        large_server, "SELECT documents_changed, contacts_added FROM llx_autocontact_batch"
                      " WHERE id = ?", batch_id)
    assert (changed, contacts_added) == (documents, added)
    [(represented,)] = query(
        large_server, "SELECT COUNT(*) FROM llx_societe_commerciaux WHERE fk_user = ?", user)
    assert represented == thirdparties
    link.click()
    page.locator("h1", has_text=f"Journal entry #{batch_id}").wait_for()


def test_a_worker_killed_mid_operation(large_server, browser_page):
    page = browser_page
    user = free_users(large_server)[0]
    date_from, date_to = period()
    login(page, large_server.base_url, "admin", DEMO_PASSWORD)
    form = urlencode([("scope", "filter"), ("q", ""), ("kind", ""), ("status", ""), ("rep", ""),
                      ("user_ids", user), ("documents", "1"), ("date_from", date_from),
                      ("date_to", date_to), ("statuses", "all"), ("predicted", "999999")]
                     + [("doc_types", element) for _, element in ENLARGED])
    before = fingerprint(large_server)

    def start():
        status, body = fetch(page, "/thirdparties/mass/assign/apply", form)
        assert status == 200, body
        return int(re.search(r'id="job-(\d+)"', body).group(1))

    def step(job_id):
        found = re.search(r"step (\d+) of (\d+)", fetch(page, f"/jobs/{job_id}")[1])
        return int(found.group(1)) if found else None

    job_id = start()
    # Wait until it has removed contacts (not committed), then freeze and kill its worker.
    removed_contacts = 3 + len(ENLARGED) + 1  # sales-rep steps, finding, removing
    deadline = time.monotonic() + LONG / 1000
    while (reached := step(job_id)) is None or reached <= removed_contacts:
        assert reached is not None, "the job ended before it could be killed"
        assert time.monotonic() < deadline, "the job is stuck"
    [(worker,)] = query(large_server,
                        "SELECT owner_pid FROM llx_autocontact_job WHERE id = ?", job_id)
    os.kill(worker, signal.SIGSTOP)
    try:
        page.goto(large_server.url("/journal"))
        running = page.locator("section.running")
        assert "Assign sales reps" in running.inner_text()
        assert running.get_by_role("link").get_attribute("href") == f"/jobs/{job_id}/page"
    finally:
        os.kill(worker, signal.SIGKILL)

    page.goto(large_server.url(f"/jobs/{job_id}/page"))
    assert squash(page.locator(".job [role=alert]").inner_text()) == INTERRUPTED
    assert page.locator(".job[hx-get]").count() == 0  # no more polling
    shot(page, "job-interrupted")
    assert fingerprint(large_server) == before
    [(state,)] = query(large_server, "SELECT state FROM llx_autocontact_job WHERE id = ?", job_id)
    assert state == "failed"
    page.goto(large_server.url("/journal"))
    assert page.locator("section.running").count() == 0

    # The same operation again, without restarting anything: it goes through.
    again = start()
    page.goto(large_server.url(f"/jobs/{again}/page"))
    assert watch(page, "main")[-1]["done"]
    done = squash(page.locator(".job .message-success").inner_text())
    thirdparties = numbers(done)[0]
    [(represented,)] = query(
        large_server, "SELECT COUNT(*) FROM llx_societe_commerciaux WHERE fk_user = ?", user)
    assert represented == thirdparties > 300, done
    assert fingerprint(large_server)[2][0][0] == before[2][0][0] + 1  # one journal entry
