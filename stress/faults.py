"""Faults: the database connection killed (KILL from another session) at random moments
of a large operation served by uWSGI over MariaDB.

Each time: the answer is a clear 503 (or the operation had already committed), the
tables are exactly as before when it failed, the server answers the next requests
without a restart, and the same operation then runs to the end.
"""
import random
import threading
import time

from . import checks
from .live import Client

TABLES = ["llx_societe_commerciaux", "llx_element_contact", "llx_actioncomm",
          "llx_autocontact_batch", "llx_autocontact_batch_salesrep",
          "llx_autocontact_batch_contact", "llx_autocontact_batch_selection"]


def enlarge(connection, documents=20_000):
    """One thirdparty with ``documents`` proposals followed by a former rep: a sync
    removes and adds that many contacts (an operation of several seconds)."""
    tid = checks.rows(connection, "SELECT MIN(rowid) FROM llx_societe WHERE entity = 1")[0][0]
    old, new = [r[0] for r in checks.rows(
        connection, "SELECT rowid FROM llx_user WHERE statut = 1 AND fk_soc IS NULL AND "
                    "entity IN (0, 1) AND admin = 0 ORDER BY rowid LIMIT 2")]
    kind = checks.rows(connection, "SELECT rowid FROM llx_c_type_contact WHERE element = "
                                   "'propal' AND source = 'internal' AND code = 'SALESREPFOLL'")[0][0]
    start = checks.rows(connection, "SELECT COALESCE(MAX(rowid), 0) FROM llx_propal")[0][0]
    checks.rows(connection, f"""
        INSERT INTO llx_propal (rowid, ref, entity, fk_soc, datep, datec, fk_statut)
        SELECT {start} + seq, CONCAT('STRESS-', seq), 1, {tid}, '2025-06-01', NOW(), 1
        FROM seq_1_to_{documents}""")
    checks.rows(connection, f"""
        INSERT INTO llx_element_contact (datecreate, statut, element_id, fk_c_type_contact,
                                         fk_socpeople)
        SELECT NOW(), 4, {start} + seq, {kind}, {old} FROM seq_1_to_{documents}""")
    checks.rows(connection, "DELETE FROM llx_societe_commerciaux WHERE fk_soc = %s", (tid,))
    checks.rows(connection, "INSERT INTO llx_societe_commerciaux (fk_soc, fk_user, "
                            "fk_c_type_contact_code) VALUES (%s, %s, 'SALESREPTHIRD')", (tid, new))
    return {"thirdparty_ids": [tid], "date_from": "2025-01-01", "date_to": "2025-12-31",
            "doc_types": ["propal"], "mode": "sync", "statuses": "all"}


def _statement_of(connection, database, ours):
    """The id of a connection of the app running a statement in ``database`` now."""
    found = checks.rows(connection, "SELECT id, info FROM information_schema.processlist "
                                    "WHERE db = %s AND command = 'Query' AND id <> %s "
                                    "AND info IS NOT NULL", (database, ours))
    return found[0] if found else None


def run(server, mariadb, database, kills=6, seed=5):
    rng = random.Random(seed)
    connection = mariadb.connect(database)
    body = enlarge(connection)
    ours = checks.rows(connection, "SELECT CONNECTION_ID()")[0][0]
    client = Client(server.base_url).login()
    figures = {"kills": 0, "answered_503": 0, "finished_before_the_kill": 0,
               "unchanged_after_failure": 0, "requests_after": 0, "reruns_ok": 0,
               "statements_killed": [], "http_500": 0, "problems": []}
    # How long the operation takes undisturbed: the kills land at random points of it.
    began = time.monotonic()
    code, result = client.json("POST", "/api/documents/sync", body)
    duration = time.monotonic() - began
    figures["operation_s"] = round(duration, 2)
    figures["contacts_changed_per_run"] = result.get("contacts_added", 0) + result.get(
        "contacts_removed", 0)
    if code != 200 or not _undo(client, result, figures, "the first run"):
        figures["problems"].append(f"the undisturbed run answered {code}: {result}")
        return figures
    for number in range(kills):
        before = checks.checksums(connection, TABLES)
        answer = {}
        thread = threading.Thread(target=lambda answer=answer: answer.update(
            zip(("status", "body"), client.json("POST", "/api/documents/sync", body))))
        started = time.monotonic()
        delay = rng.uniform(0.0, duration * 0.9)
        thread.start()
        victim = None
        while thread.is_alive() and time.monotonic() - started < 60:
            found = _statement_of(connection, database, ours)
            if found and time.monotonic() - started >= delay:
                victim = found
                break
            time.sleep(0.005)
        if victim:
            checks.rows(connection, f"KILL {int(victim[0])}")
            figures["kills"] += 1
            figures["statements_killed"].append(victim[1].split("(")[0].split(" SELECT")[0][:60])
        thread.join(120)
        status = answer.get("status")
        figures["http_500"] += status == 500
        if status == 503:
            figures["answered_503"] += 1
            if checks.checksums(connection, TABLES) == before:
                figures["unchanged_after_failure"] += 1
            else:
                figures["problems"].append(f"kill {number}: the tables changed after a 503")
        elif status == 200:   # committed before the kill: put it back for the next round
            figures["finished_before_the_kill"] += 1
            _undo(client, answer["body"], figures, f"round {number}")
        else:
            figures["problems"].append(f"kill {number}: answered {status} {answer.get('body')}")
        for _ in range(8):   # every worker keeps answering, no restart
            figures["requests_after"] += 1
            code, _ = client.json("GET", "/api/me")
            if code != 200:
                figures["problems"].append(f"after kill {number}: /api/me answered {code}")
        if status == 503:   # run it again, to the end, then put it back
            code, result = client.json("POST", "/api/documents/sync", body)
            if code == 200 and result.get("batch_id"):
                figures["reruns_ok"] += 1
                _undo(client, result, figures, f"rerun {number}")
            else:
                figures["problems"].append(f"rerun after kill {number}: {code} {result}")
    if "Traceback" in server.log_text():
        figures["problems"].append("a traceback in uWSGI's log")
    duplicates = checks.duplicates(connection)
    figures["duplicates"] = duplicates
    if any(duplicates.values()):
        figures["problems"].append(f"duplicates: {duplicates}")
    connection.close()
    return figures


def _undo(client, result, figures, when):
    code, body = client.json("POST", f"/api/batches/{result.get('batch_id')}/undo", {})
    if code != 200 or body.get("conflict_count"):
        figures["problems"].append(f"undo of {when}: {code} {body}")
        return False
    return True
