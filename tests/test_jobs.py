"""Long operations run in the background with progress; they stay atomic."""
import json
import os
import select
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from autocontact.dolibarr import models
from autocontact.dolibarr.tool_tables import Batch, Job
from autocontact.services import jobs, salesreps, settings
from autocontact.services.permissions import Actor

from conftest import ROOT, AuthActions, People, html, make_app
from test_documents import followers


def wait_for(client, job_id, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fragment = html(client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"}))
        if not fragment.find("div", class_="job").has_attr("hx-get"):
            return fragment
        time.sleep(0.1)
    raise AssertionError("the job did not end")


def test_large_operation_runs_in_the_background(database_url, tmp_path, password_hash, scenario):
    app = make_app(database_url, tmp_path, AUTOCONTACT_BACKGROUND_ROWS="0")
    people = People(app, password_hash)
    people.user("bg.admin", admin=1)
    newcomer = people.user("bg.newcomer")
    client = app.test_client()
    AuthActions(client).login("bg.admin")
    form = {"ids": [scenario["tid"]], "from_user_id": scenario["b"], "to_user_id": newcomer,
            "documents": "1", "date_from": "2025-01-01", "date_to": "2025-12-31",
            "doc_types": ["propal", "commande", "facture"], "statuses": "all", "predicted": "7"}
    response = client.post("/thirdparties/mass/transfer/apply", data=form,
                           headers={"HX-Request": "true"})
    bar = html(response).find("div", class_="job")
    assert bar["hx-trigger"] == "every 500ms" and html(response).find("progress")
    job_id = int(bar["id"].split("-")[1])
    done = wait_for(client, job_id)
    text = done.get_text(" ", strip=True)
    assert "Done:" in text and "6 documents updated" in text
    job = Job.get_by_id(job_id)
    assert job.state == "done" and job.batch_id and job.done == job.total
    assert followers(models.database, "propal", scenario["docs"][("propal", "in")]) == [newcomer]
    journal = html(client.get("/journal"))
    assert f"#{job.batch_id}" in journal.get_text()


def test_a_failing_job_is_marked_failed_and_changes_nothing(app, db, scenario):
    actor = Actor(user_id=scenario["a"], login="x", full_name="X", roles=frozenset({"editor"}))
    before = sorted(models.SalesRepLink.select().tuples())

    def work(progress):
        with models.database.atomic():
            models.SalesRepLink.delete().execute()
            progress("Deleting everything")
            raise RuntimeError("connection lost")

    job_id = jobs.create(actor, 1, "salesreps", "Doomed", 2)
    jobs.start(app, job_id, 2, work).join(20)
    job = Job.get_by_id(job_id)
    assert job.state == "failed" and "nothing was changed" in job.message
    assert sorted(models.SalesRepLink.select().tuples()) == before


# --- Progress while the operation's transaction is open ------------------------

@dataclass
class Outcome:
    batch_id: int | None = None

    def as_dict(self):
        return {"documents_changed": 0, "contacts_added": 0, "contacts_removed": 0}


def progress_label(client, job_id):
    fragment = html(client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"}))
    label = fragment.find("label")
    return " ".join(label.get_text().split()) if label else None


def wait_until(predicate, seconds=20):
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_progress_is_visible_while_the_operation_holds_its_transaction(app, db, client,
                                                                         login_as, scenario):
    """SQLite's single writer lock is held by the operation: progress still shows."""
    login_as("admin")
    actor = Actor(user_id=scenario["a"], login="x", full_name="X", roles=frozenset({"editor"}))
    gate = threading.Event()

    def work(progress):
        with models.database.atomic():
            models.SalesRepLink.delete().where(
                models.SalesRepLink.fk_soc == scenario["tid"]).execute()
            progress("Removing sales-rep links")
            progress("Thinking it over")
            gate.wait(20)
            return Outcome()

    job_id = jobs.create(actor, 1, "salesreps", "Slow and steady", 3)
    thread = jobs.start(app, job_id, 3, work)
    try:
        wait_until(lambda: progress_label(client, job_id) == "Thinking it over — step 2 of 3")
        running = html(client.get("/journal")).find("section", class_="running")
        assert "Slow and steady — Thinking it over (step 2 of 3)" in " ".join(
            running.get_text().split())
    finally:
        gate.set()
        thread.join(20)
    assert Job.get_by_id(job_id).state == "done"
    assert progress_label(client, job_id) is None  # the summary instead
    assert models.SalesRepLink.select().where(
        models.SalesRepLink.fk_soc == scenario["tid"]).count() == 0


# --- Faults: a worker killed during a job --------------------------------------

KILLED_WORKER = r'''
import sys, threading
from autocontact import create_app
from autocontact.services import jobs, salesreps, settings
from autocontact.services.permissions import Actor

url, instance, actor_id, form = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
app = create_app({"TESTING": True, "ENVIRON": {
    "AUTOCONTACT_DATABASE_URL": url, "SECRET_KEY": "x", "AUTOCONTACT_INSTANCE_PATH": instance}})
database, schema = app.extensions["autocontact.db"], app.extensions["autocontact.schema"]
actor = Actor(user_id=actor_id, login="killed", full_name="Killed", roles=frozenset({"editor"}))
with app.app_context(), database.connection_context():
    request = salesreps.parse_request(__import__("json").loads(form), 1, settings.load(1))
    steps = salesreps.progress_steps(request)
    job_id = jobs.create(actor, 1, "salesreps", "Transfer, killed half-way", steps)
forever = threading.Event()

def pausing(progress):
    def report(phase):
        progress(phase)
        if phase == "Adding contacts":  # links and contacts removed, not committed
            print(job_id, flush=True)
            forever.wait()
    return report

jobs.start(app, job_id, steps, lambda progress: salesreps.run(
    actor, request, 1, schema, progress=pausing(progress)))
forever.wait()
'''


def transfer_form(scenario, to_user):
    return {"action": "transfer", "thirdparty_ids": [scenario["tid"]],
            "from_user_id": scenario["b"], "to_user_id": to_user,
            "documents": {"date_from": "2025-01-01", "date_to": "2025-12-31",
                          "doc_types": ["propal", "commande", "facture"], "statuses": "all"}}


def snapshot():
    return (sorted(models.SalesRepLink.select().tuples()),
            sorted(models.ElementContact.select().tuples()),
            Batch.select().count())


def run_until_paused(database_url, tmp_path, actor_id, form):
    """A worker process running the job, paused mid-transaction: (process, job id)."""
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_WORKER, database_url, str(tmp_path / "instance"),
         str(actor_id), json.dumps(form)],
        cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT)), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)
    ready, _, _ = select.select([process.stdout], [], [], 60)
    line = process.stdout.readline() if ready else ""
    if not line.strip().isdecimal():
        process.kill()
        raise AssertionError(f"the worker did not start its job:\n{process.communicate()[1]}")
    return process, int(line)


def test_a_worker_killed_during_a_job(app, db, client, login_as, scenario, tmp_path):
    """SIGKILL mid-transaction: nothing changed, the job failed with a clear message,
    the journal no longer lists it as running, and the operation runs again."""
    login_as("admin")
    admin = models.User.get(models.User.login.startswith("admin-")).rowid
    newcomer = People(app, models.User.get_by_id(admin).pass_crypted).user("bg.newcomer")
    before = snapshot()
    process, job_id = run_until_paused(app.config["DATABASE_URL"], tmp_path, admin,
                                       transfer_form(scenario, newcomer))
    try:
        # The progress its worker writes (from a thread of its own, a moment later).
        wait_until(lambda: jobs.get(job_id, 1).phase == "Adding contacts")
        job = jobs.get(job_id, 1)
        assert job.state == "running" and job.owner_pid == process.pid
        assert [j.id for j in jobs.running(1)] == [job_id]
    finally:
        process.kill()
        process.wait(20)

    fragment = html(client.get(f"/jobs/{job_id}", headers={"HX-Request": "true"}))
    assert not fragment.find("div", class_="job").has_attr("hx-get")  # polling stops
    assert fragment.find(role="alert").get_text(strip=True) == jobs.INTERRUPTED
    job = Job.get_by_id(job_id)
    assert (job.state, job.message) == ("failed", jobs.INTERRUPTED)
    assert jobs.running(1) == []
    assert html(client.get("/journal")).find("section", class_="running") is None
    assert snapshot() == before

    # Run it again: this time it goes through.
    actor = Actor(user_id=admin, login="admin", full_name="Admin", roles=frozenset({"editor"}))
    request = salesreps.parse_request(transfer_form(scenario, newcomer), 1, settings.load(1))
    steps = salesreps.progress_steps(request)
    again = jobs.create(actor, 1, "salesreps", "Transfer, again", steps)
    jobs.start(app, again, steps, lambda progress: salesreps.run(
        actor, request, 1, app.extensions["autocontact.schema"], progress=progress)).join(30)
    assert Job.get_by_id(again).state == "done"
    assert followers(models.database, "propal", scenario["docs"][("propal", "in")]) == [newcomer]


def test_jobs_whose_worker_is_gone_are_failed(app, db, client, login_as):
    """Owner process gone on this host, or no heartbeat for too long elsewhere."""
    login_as("admin")
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True)
    dead_pid = int(finished.stdout)
    now = datetime.now().replace(microsecond=0)
    long_ago = now - timedelta(seconds=jobs.STALE_AFTER_SECONDS + 5)

    def job(label, host, pid, heartbeat):
        return Job.insert(entity=1, user_id=1, kind="salesreps", label=label, state="running",
                          phase="Removing sales-rep links", total=3, done=1, created_at=long_ago,
                          updated_at=heartbeat, owner_host=host, owner_pid=pid).execute()

    dead_here = job("Worker killed", jobs.HOST, dead_pid, now)
    silent_elsewhere = job("Host gone quiet", "another-host", 4242, long_ago)
    alive_elsewhere = job("Busy elsewhere", "another-host", 4242, now)
    alive_here = job("Busy here", jobs.HOST, os.getpid(), now)

    assert [j.id for j in jobs.running(1)] == [alive_here, alive_elsewhere]
    running = " ".join(html(client.get("/journal")).find(
        "section", class_="running").get_text().split())
    assert "Busy here" in running and "Busy elsewhere" in running
    assert "Worker killed" not in running and "Host gone quiet" not in running
    for job_id in (dead_here, silent_elsewhere):
        page = html(client.get(f"/jobs/{job_id}/page"))
        assert page.find(role="alert").get_text(strip=True) == jobs.INTERRUPTED
        assert Job.get_by_id(job_id).state == "failed"
    assert jobs.get(alive_elsewhere, 1).state == "running"


def test_a_job_marked_failed_while_it_runs_cannot_commit(app, db, scenario, monkeypatch):
    """If a reader judged it dead (a heartbeat that stopped), it must not come back."""
    actor = Actor(user_id=scenario["a"], login="x", full_name="X", roles=frozenset({"editor"}))
    before = snapshot()
    gate = threading.Event()

    def work(progress):
        progress("Waiting for its turn")
        gate.wait(20)
        with models.database.atomic():
            models.SalesRepLink.delete().execute()
            return Outcome()

    job_id = jobs.create(actor, 1, "salesreps", "Presumed dead", 2)
    thread = jobs.start(app, job_id, 2, work)
    monkeypatch.setattr(jobs, "STALE_AFTER_SECONDS", -1)
    assert jobs.get(job_id, 1).state == "failed"
    gate.set()
    thread.join(20)
    job = Job.get_by_id(job_id)
    assert (job.state, job.message) == ("failed", jobs.INTERRUPTED)
    assert snapshot() == before


def test_a_killed_process_not_yet_reaped_counts_as_gone():
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert jobs._process_alive(process.pid)
        process.kill()
        wait_until(lambda: open(f"/proc/{process.pid}/stat").read().split(") ")[1][0] == "Z")
        assert not jobs._process_alive(process.pid)  # a zombie until its parent waits
    finally:
        process.kill()
        process.wait()
    assert not jobs._process_alive(process.pid)
