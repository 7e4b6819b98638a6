"""Concurrency: N clients for T seconds on overlapping thirdparties, through the HTTP API
of a real uWSGI server over MariaDB; then the journal is checked against the tables."""
import random
import threading
import time
from collections import Counter

from . import checks
from .live import Client

DOC_TYPES = ["propal", "commande", "facture"]
PERIOD = {"date_from": "2000-01-01", "date_to": "2030-12-31"}
ALLOWED = {200, 409, 503}   # 409/503: a deadlock or lock wait, reported clearly


def pools(connection, size=10):
    """The thirdparties with most documents (so that they overlap), and the users."""
    thirdparties = [r[0] for r in checks.rows(connection, """
        SELECT s.rowid FROM llx_societe s WHERE s.entity = 1 ORDER BY
          (SELECT COUNT(*) FROM llx_propal p WHERE p.fk_soc = s.rowid)
          + (SELECT COUNT(*) FROM llx_commande c WHERE c.fk_soc = s.rowid)
          + (SELECT COUNT(*) FROM llx_facture f WHERE f.fk_soc = s.rowid) DESC, s.rowid
        LIMIT %s""", (size,))]
    active = [r[0] for r in checks.rows(
        connection, "SELECT rowid FROM llx_user WHERE statut = 1 AND fk_soc IS NULL "
                    "AND entity IN (0, 1) AND admin = 0 ORDER BY rowid LIMIT 6")]
    inactive = [r[0] for r in checks.rows(
        connection, "SELECT rowid FROM llx_user WHERE statut = 0 AND fk_soc IS NULL "
                    "AND entity IN (0, 1) ORDER BY rowid LIMIT 2")]
    return thirdparties, active, inactive


class Operations:
    """Random operations; batch ids created are shared so that undos hit real batches."""

    def __init__(self, thirdparties, active, inactive, rng):
        self.thirdparties, self.active, self.inactive = thirdparties, active, inactive
        self.rng = rng

    def pick(self, batches):
        rng = self.rng
        ids = rng.sample(self.thirdparties, rng.randint(1, min(6, len(self.thirdparties))))
        kind = rng.choices(["assign", "unassign", "transfer", "documents", "undo", "cascade"],
                           [25, 15, 15, 20, 15, 10])[0]
        dry_run = rng.random() < 0.1
        if kind == "undo" and batches:
            with batches.lock:
                batch_id = rng.choice(batches.ids[-40:])
            return kind, f"/api/batches/{batch_id}/undo", {"force": rng.random() < 0.3,
                                                          "dry_run": dry_run}
        if kind in ("assign", "cascade", "undo"):
            body = {"action": "assign", "thirdparty_ids": ids,
                    "user_ids": rng.sample(self.active, rng.randint(1, 2)),
                    "replace": rng.random() < 0.3}
            if kind == "cascade":
                body["documents"] = {**PERIOD, "doc_types": DOC_TYPES, "statuses": "all"}
            return "assign", "/api/salesreps", {**body, "dry_run": dry_run}
        if kind == "unassign":
            return kind, "/api/salesreps", {
                "action": "unassign", "thirdparty_ids": ids, "dry_run": dry_run,
                "user_ids": rng.sample(self.active + self.inactive, rng.randint(1, 2))}
        if kind == "transfer":
            source, target = rng.sample(self.active, 2)
            if self.inactive and rng.random() < 0.3:
                source = rng.choice(self.inactive)
            return kind, "/api/salesreps", {
                "action": "transfer", "thirdparty_ids": ids, "from_user_id": source,
                "to_user_id": target, "dry_run": dry_run}
        return kind, "/api/documents/sync", {"thirdparty_ids": ids, **PERIOD,
                                             "doc_types": DOC_TYPES, "mode": "sync",
                                             "statuses": "all", "dry_run": dry_run}


class _Batches:
    def __init__(self):
        self.ids, self.lock = [], threading.Lock()

    def __bool__(self):
        return bool(self.ids)

    def add(self, batch_id):
        with self.lock:
            self.ids.append(batch_id)


def run(server, connection, clients=8, seconds=60.0, seed=11):
    """Hammer ``server``; return the figures and the problems found afterwards."""
    thirdparties, active, inactive = pools(connection)
    since = checks.rows(connection, "SELECT COALESCE(MAX(id), 0) FROM llx_autocontact_batch")[0][0]
    before = checks.snapshot(connection)
    baseline_duplicates = checks.duplicates(connection)
    batches = _Batches()
    statuses, per_kind, failures, refusals = Counter(), Counter(), [], Counter()
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds
    sessions = [Client(server.base_url).login() for _ in range(clients)]

    def worker(number):
        operations = Operations(thirdparties, active, inactive, random.Random(seed * 100 + number))
        while time.monotonic() < deadline:
            kind, path, body = operations.pick(batches)
            status, answer = sessions[number].json("POST", path, body)
            with lock:
                statuses[status] += 1
                per_kind[kind] += 1
                if status not in ALLOWED and not (kind == "undo" and status == 409):
                    failures.append((status, path, body, answer))
            if status in (409, 503):
                with lock:
                    refusals[_refusal(status, answer)] += 1
            if status == 200 and answer.get("batch_id"):
                batches.add(answer["batch_id"])
            if status in (409, 503) and kind != "undo":
                if not answer.get("error"):
                    failures.append((status, path, body, answer))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    replay = checks.replay(connection, before, since_batch=since)
    duplicates = checks.duplicates(connection)
    log = server.log_text()
    retried = log.count(", retrying")
    problems = list(replay.problems)
    if duplicates != baseline_duplicates:
        problems.append(f"duplicates: {duplicates} (before the run: {baseline_duplicates})")
    if statuses.get(500):
        problems.append(f"{statuses[500]} HTTP 500")
    if "Traceback" in log:
        problems.append("a traceback in uWSGI's log")
    problems += [f"unexpected {s} on {p}: {a}" for s, p, _, a in failures[:5]]
    lost_or_duplicated = (0 if replay.ok else max(1, len(replay.problems))) + sum(
        duplicates.values()) - sum(baseline_duplicates.values())
    return {
        "clients": clients, "seconds": round(elapsed, 1), "requests": sum(statuses.values()),
        "operations": dict(per_kind), "statuses": dict(sorted(statuses.items())),
        "deadlocks_retried_by_the_server": retried,
        "refused": dict(sorted(refusals.items())),
        "batches_applied": replay.batches, "rows_checked": replay.rows_checked,
        "http_500": statuses.get(500, 0), "lost_or_duplicated_rows": lost_or_duplicated,
        "problems": problems,
    }


def _refusal(status, answer):
    """What a 409/503 was: a deadlock, a lock wait, a lost connection, or an undo refused."""
    message = str(answer.get("error", ""))
    if status == 409 and answer.get("retry"):
        return "deadlock (409, retry)"
    if status == 409:
        return "undo refused (409: already undone, or an undo)"
    if "another operation" in message:
        return "lock wait timeout (503, retry)"
    return "connection lost (503, retry)"
