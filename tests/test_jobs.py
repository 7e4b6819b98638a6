"""Long operations run in the background with progress; they stay atomic."""
import time

from autocontact.dolibarr import models
from autocontact.dolibarr.tool_tables import Job
from autocontact.services import jobs

from conftest import AuthActions, People, html, make_app
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
    from autocontact.services.permissions import Actor
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
