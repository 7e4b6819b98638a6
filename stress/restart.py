"""Faults: MariaDB restarted while a long operation runs as a background job.

A private MariaDB server (``live.PrivateMariaDB``: its own datadir and port, never the
shared one) is loaded with Dolibarr's dump, uWSGI runs over it, and a document sync of
one thirdparty with many proposals is started from the screens' form, as a background
job. While it runs, the server is stopped — cleanly (SIGTERM) or killed (SIGKILL, InnoDB
crash recovery at the next start) — and started again. Each time:

- nothing of the operation is in the tables (``CHECKSUM TABLE`` as before);
- the job ends "failed" with its message, as the progress poll shows it;
- while the server is down the app answers 503 (never 500), and after the restart every
  worker answers 200 without restarting uWSGI;
- the same operation then runs to the end (and is undone for the next round).
"""
import random
import re
import time

from . import checks, faults
from .live import Client

JOB = re.compile(r'id="job-(\d+)"')


def _job_state(connection, job_id):
    found = checks.rows(connection, "SELECT state, message, batch_id FROM llx_autocontact_job "
                                    "WHERE id = %s", (job_id,))
    return found[0] if found else (None, None, None)


def start_job(client, tid, body, documents):
    """The document update of the card's dialog, sent as its form does after a preview
    that predicted more rows than AUTOCONTACT_BACKGROUND_ROWS: it becomes a job."""
    status, _, text = client.request(
        "POST", f"/thirdparties/{tid}/documents/apply", headers={"HX-Request": "true"},
        form={"date_from": body["date_from"], "date_to": body["date_to"],
              "doc_types": body["doc_types"], "mode": body["mode"],
              "statuses": body["statuses"], "predicted": str(2 * documents)})
    found = JOB.search(text)
    if status != 200 or not found or 'hx-get="/jobs/' not in text:
        raise RuntimeError(f"the operation did not start as a background job: {status} "
                           f"{text[:300]}")
    return int(found.group(1))


def poll(client, job_id, timeout, statuses=None):
    """Poll the job's progress like its page does, until it ends: (state, text, polls)."""
    began, polls = time.monotonic(), 0
    while time.monotonic() - began < timeout:
        status, _, text = client.request("GET", f"/jobs/{job_id}",
                                         headers={"HX-Request": "true"})
        polls += 1
        if statuses is not None:
            statuses[status] = statuses.get(status, 0) + 1
        if status == 200 and 'hx-get="/jobs/' not in text:
            state = ("done" if "message-success" in text
                     else "failed" if "message-error" in text else "?")
            return state, text, polls
        time.sleep(0.5)
    return "timeout", "", polls


def _message(text):
    found = re.search(r'<p class="message message-error" role="alert">(.*?)</p>', text, re.S)
    return found.group(1).strip() if found else text[:200]


def _undo(client, batch_id, figures, when):
    code, body = client.json("POST", f"/api/batches/{batch_id}/undo", {})
    if code != 200 or body.get("conflict_count"):
        figures["problems"].append(f"undo of {when}: {code} {body}")
        return False
    return True


def _probe(client, figures, key):
    code, _ = client.json("GET", "/api/me")
    figures[key][str(code)] = figures[key].get(str(code), 0) + 1
    if code == 500:
        figures["http_500"] += 1
    return code


def run(server, mariadb, database, restarts=2, documents=100_000, down_seconds=3.0, seed=11):
    """``server``: uWSGI over ``database`` of ``mariadb`` (a live.PrivateMariaDB)."""
    rng = random.Random(seed)
    connection = mariadb.connect(database)
    body = faults.enlarge(connection, documents)
    connection.close()
    tid = body["thirdparty_ids"][0]
    client = Client(server.base_url).login()
    figures = {"documents": documents, "restarts": 0, "how": [], "job_running_at_restart": 0,
               "stop_s": [], "start_s": [], "statuses_while_down": {}, "statuses_after": {},
               "first_200_after_start_s": [], "job_failed_after_restart_s": [],
               "job_messages": [], "unchanged_after_failure": 0, "reruns_ok": 0,
               "requests": 0, "http_500": 0, "problems": []}
    # Undisturbed: how long the job takes; the restarts land at random points of it.
    began = time.monotonic()
    job_id = start_job(client, tid, body, documents)
    state, text, polls = poll(client, job_id, 600)
    duration = time.monotonic() - began
    figures["requests"] += 2 + polls
    connection = mariadb.connect(database)
    _, _, batch_id = _job_state(connection, job_id)
    if batch_id:
        figures["contacts_changed_per_run"] = int(checks.rows(
            connection, "SELECT contacts_added + contacts_removed FROM llx_autocontact_batch "
                        "WHERE id = %s", (batch_id,))[0][0])
    connection.close()
    figures["job_s"] = round(duration, 1)
    if state != "done" or not batch_id or not _undo(client, batch_id, figures, "the first run"):
        figures["problems"].append(f"the undisturbed job ended {state}: {_message(text)}")
        return figures
    for number in range(restarts):
        how = "term" if number % 2 == 0 else "kill"
        connection = mariadb.connect(database)
        before = checks.checksums(connection, faults.TABLES)
        connection.close()
        job_id = start_job(client, tid, body, documents)
        figures["requests"] += 1
        time.sleep(rng.uniform(0.3, 0.7) * duration)
        connection = mariadb.connect(database)
        running = _job_state(connection, job_id)[0] == "running"
        connection.close()
        figures["job_running_at_restart"] += running
        figures["how"].append("SIGTERM" if how == "term" else "SIGKILL")
        figures["stop_s"].append(round(mariadb.stop(how), 1))
        down = time.monotonic()
        while time.monotonic() - down < down_seconds:   # the app while the server is down
            figures["requests"] += 1
            _probe(client, figures, "statuses_while_down")
            time.sleep(0.2)
        figures["start_s"].append(round(mariadb.start(), 1))
        figures["restarts"] += 1
        restarted = time.monotonic()
        while _probe(client, figures, "statuses_after") != 200:
            figures["requests"] += 1
            if time.monotonic() - restarted > 120:
                figures["problems"].append(f"restart {number}: no 200 in 120 s")
                break
            time.sleep(0.2)
        figures["requests"] += 1
        figures["first_200_after_start_s"].append(round(time.monotonic() - restarted, 1))
        statuses = {}
        state, text, polls = poll(client, job_id, 300, statuses)
        figures["requests"] += polls
        figures["http_500"] += statuses.get(500, 0)
        figures["job_failed_after_restart_s"].append(round(time.monotonic() - restarted, 1))
        connection = mariadb.connect(database)
        db_state, db_message, db_batch = _job_state(connection, job_id)
        after = checks.checksums(connection, faults.TABLES)
        connection.close()
        if not running and state == "done":   # it had ended before the restart
            figures["problems"].append(f"restart {number} came after the job ended: "
                                       "lengthen it (--restart-documents)")
            _undo(client, db_batch, figures, f"round {number}")
            continue
        if state != "failed" or db_state != "failed" or db_batch:
            figures["problems"].append(f"restart {number}: the job ended {state} "
                                       f"({db_state}, batch {db_batch}): {_message(text)}")
        else:
            figures["job_messages"].append(_message(text))
            if not db_message:
                figures["problems"].append(f"restart {number}: no message on the job")
        if after == before:
            figures["unchanged_after_failure"] += 1
        else:
            changed = [t for t in before if before[t] != after.get(t)]
            figures["problems"].append(f"restart {number}: tables changed: {changed}")
        for _ in range(16):   # every worker and thread answers, no restart of uWSGI
            figures["requests"] += 1
            if _probe(client, figures, "statuses_after") != 200:
                figures["problems"].append(f"after restart {number}: /api/me not 200")
        # The same operation again, to the end, then put back for the next round.
        rerun = start_job(client, tid, body, documents)
        state, text, polls = poll(client, rerun, 600)
        figures["requests"] += 2 + polls
        connection = mariadb.connect(database)
        _, _, batch_id = _job_state(connection, rerun)
        connection.close()
        if state == "done" and batch_id:
            figures["reruns_ok"] += 1
            _undo(client, batch_id, figures, f"rerun {number}")
            figures["requests"] += 1
        else:
            figures["problems"].append(f"rerun after restart {number}: {state} {_message(text)}")
    if figures["http_500"]:
        figures["problems"].append(f"{figures['http_500']} HTTP 500")
    log = server.log_text()
    figures["request_errors_in_log"] = log.count("unexpected error on")
    # The job's own thread cannot write "failed" on its dead connection: readers mark it
    # once its heartbeat is STALE_AFTER_SECONDS old (services/jobs.py).
    figures["jobs_that_could_not_record_their_end"] = log.count("could not record how it ended")
    errors = {}
    for error in re.findall(r"^(?:peewee|pymysql\.err)\.(\w+: \(\d+, '[^'\n]{0,60})", log, re.M):
        errors[error] = errors.get(error, 0) + 1
    figures["database_errors_in_log"] = errors
    if figures["request_errors_in_log"]:
        figures["problems"].append("an unexpected error (500) in uWSGI's log")
    connection = mariadb.connect(database)
    figures["duplicates"] = checks.duplicates(connection)
    connection.close()
    if any(figures["duplicates"].values()):
        figures["problems"].append(f"duplicates: {figures['duplicates']}")
    return figures
