"""The benchmark of issue #8: autocontact's bulk operations on a large Dolibarr.

For each backend (MariaDB, then SQLite) and each operation, in a fresh
subprocess (so that its peak RSS is its own), this times:

* the service, through the same functions the web screens and the API call
  (``salesreps.parse_request/run``, ``documents.parse_request/run``,
  ``thirdparties.parse_filter/list_page``), journal included: the median of
  ``--runs`` dry runs (a dry run does every write, journal included, and rolls
  back), then one real run, which is then undone with ``undo.undo`` (timed too);
* (a) the minimal hand-written SQL making the same change without a journal
  (a few INSERT ... SELECT / DELETE in one transaction, rolled back), median of
  ``--runs``; its row counts are checked against the service's;
* (b) a per-row loop the way Dolibarr's object code works (per document: SELECT
  the document, DELETE the old contact row, INSERT the new one; per thirdparty:
  SELECT it, del_commercial / add_commercial), one autocommitted statement at a
  time, on a sample of ``size.sample`` documents (and thirdparties), extrapolated
  linearly to the operation's size; the sample's changes are then reverted.

The dataset is generated first if needed (bench/generate.py; cached). After each
real run and each loop the dataset's fingerprint is checked against the generated
one. ``python -m bench.run`` (the full run, also writes docs/benchmarks.md),
``python -m bench.run --smoke`` (tiny dataset, one run, < 60 s).
"""
import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

from bench import generate
from bench.generate import (
    DOC_BASE, DOC_TABLES, PREFIX, REP_A, REP_B, REP_C, REP_D, ROOT, SIZES, soc_id, user_id,
)

DOCS = ROOT / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:results:begin -->", "<!-- bench:results:end -->"
ENTITY = 1
TWO_YEARS = ("2024-01-01", "2025-12-31")
ALL_YEARS = ("2021-01-01", "2025-12-31")
DOC_TYPES = [element for element, *_ in DOC_TABLES]
DATE_COLUMNS = {element: date_col for element, _t, date_col, *_ in DOC_TABLES}
TABLES = {element: table for element, table, *_ in DOC_TABLES}
OPS = ("assign", "transfer", "sync_10k", "sync_one", "preview_one", "list_first", "list_last")
WRITES = ("assign", "transfer", "sync_10k", "sync_one")
RESULT_TAG = "BENCH-RESULT "


def labels(size):
    big, docs_one = size.big_thirdparties, size.special_groups * 4
    assign = size.thirdparties // 5
    return {
        "assign": f"assign 2 reps to {assign:,} thirdparties (id list)",
        "transfer": "transfer rep A → B (filter rep=A) + their documents, 2 years",
        "sync_10k": f"document sync, {big:,} thirdparties, 2 years",
        "sync_one": f"document sync, 1 thirdparty with {docs_one:,} documents (5 years)",
        "preview_one": "its preview (documents.run dry_run=True, page 1)",
        "list_first": "thirdparty list, filter rep=A, page 1",
        "list_last": "thirdparty list, filter rep=A, last page",
    }


# --- the scenarios ---------------------------------------------------------------

class Scenario:
    """Who and what each operation is about, for a dataset size."""

    def __init__(self, size):
        self.size = size
        n = size.thirdparties
        self.assign_ids = [soc_id(t) for t in range(2 * n // 5 + 1, 3 * n // 5 + 1)]
        self.sync_ids = [soc_id(t) for t in range(1, size.big_thirdparties + 1)]
        self.special = soc_id(size.special_thirdparty)
        self.a, self.b, self.c, self.d = (user_id(u) for u in (REP_A, REP_B, REP_C, REP_D))

    def payload(self, op):
        if op == "assign":
            return {"action": "assign", "thirdparty_ids": self.assign_ids,
                    "user_ids": [self.c, self.d]}
        if op == "transfer":
            return {"action": "transfer", "filter": {"rep": str(self.a)},
                    "from_user_id": self.a, "to_user_id": self.b,
                    "documents": {"date_from": TWO_YEARS[0], "date_to": TWO_YEARS[1],
                                  "doc_types": DOC_TYPES}}
        if op == "sync_10k":
            return {"thirdparty_ids": self.sync_ids, "date_from": TWO_YEARS[0],
                    "date_to": TWO_YEARS[1], "doc_types": DOC_TYPES, "mode": "sync"}
        if op in ("sync_one", "preview_one"):
            return {"thirdparty_ids": [self.special], "date_from": ALL_YEARS[0],
                    "date_to": ALL_YEARS[1], "doc_types": DOC_TYPES, "mode": "sync"}
        return {"rep": str(self.a)}


# --- measuring -----------------------------------------------------------------

def proc_status(key):
    """A value in kB from /proc/self/status (VmRSS, VmHWM), as MB."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    return None


def reset_peak():
    """Reset VmHWM to the current RSS (Linux >= 4.0), so a peak is one phase's own."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


class StatementLog:
    """peewee query hook: every statement's SQL and duration during a run."""

    def __init__(self, database):
        self.database, self.events, self.active = database, [], False
        database.query_hooks.append(self)

    def __call__(self, event):
        if self.active:
            self.events.append((event.sql, event.params, event.duration))

    def run(self, function):
        self.events, self.active = [], True
        try:
            return function()
        finally:
            self.active = False


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def run_sql(database, sql, params=()):
    """execute_sql with %s placeholders on both backends (SQLite's driver wants ?)."""
    if params and not isinstance(getattr(database, "obj", database), _mysql_class()):
        sql = sql.replace("%s", "?")
    return database.execute_sql(sql, params or ())


def _mysql_class():
    from peewee import MySQLDatabase
    return MySQLDatabase


# --- (a): the minimal hand-written SQL --------------------------------------------

class Sql:
    """The hand-written statements, on the app's own connection (same driver)."""

    def __init__(self, database, backend):
        self.database, self.backend = database, backend
        self.mariadb = backend == "mariadb"

    def execute(self, sql, params=()):
        return run_sql(self.database, sql, params)

    def rowcount(self, sql, params=()):
        return self.execute(sql, params).rowcount

    def one(self, sql, params=()):
        return self.execute(sql, params).fetchone()

    def ids(self, ids):
        return "(" + ",".join(str(int(i)) for i in ids) + ")"

    @staticmethod
    def active_rep(soc, user=None):
        return (f"EXISTS (SELECT 1 FROM {PREFIX}societe_commerciaux sc JOIN {PREFIX}user u "
                f"ON u.rowid = sc.fk_user WHERE sc.fk_soc = {soc}"
                + (f" AND sc.fk_user = {user}" if user else "")
                + " AND u.statut = 1 AND (u.fk_soc IS NULL OR u.fk_soc = 0) AND u.entity IN (0, 1))")

    def scope(self, element, selection, period):
        column = DATE_COLUMNS[element]
        end = date.fromordinal(date.fromisoformat(period[1]).toordinal() + 1).isoformat()
        return (f"d.entity = {ENTITY} AND d.fk_soc IN {selection} "
                f"AND d.{column} >= '{period[0]}' AND d.{column} < '{end}'")

    def removal_where(self, element, type_id, selection, period):
        return (f"ec.fk_c_type_contact = {type_id} AND {self.scope(element, selection, period)} "
                f"AND {self.active_rep('d.fk_soc')} "
                f"AND NOT {self.active_rep('d.fk_soc', 'ec.fk_socpeople')}")

    def addition_select(self, element, type_id, selection, period, columns):
        return (f"SELECT DISTINCT {columns} FROM {PREFIX}{TABLES[element]} d "
                f"JOIN {PREFIX}societe_commerciaux sc ON sc.fk_soc = d.fk_soc "
                f"JOIN {PREFIX}user u ON u.rowid = sc.fk_user "
                f"WHERE {self.scope(element, selection, period)} AND u.statut = 1 "
                f"AND (u.fk_soc IS NULL OR u.fk_soc = 0) AND u.entity IN (0, 1) "
                f"AND NOT EXISTS (SELECT 1 FROM {PREFIX}element_contact x WHERE "
                f"x.element_id = d.rowid AND x.fk_c_type_contact = {type_id} "
                f"AND x.fk_socpeople = sc.fk_user)")

    def sync_documents(self, type_ids, selection, period):
        """Sync follow-up contacts: per type one DELETE and one INSERT ... SELECT."""
        removed = added = 0
        now = datetime.now().replace(microsecond=0).isoformat(" ")
        for element in DOC_TYPES:
            table, type_id = TABLES[element], type_ids[element]
            where = self.removal_where(element, type_id, selection, period)
            if self.mariadb:
                removed += self.rowcount(
                    f"DELETE ec FROM {PREFIX}element_contact ec JOIN {PREFIX}{table} d "
                    f"ON d.rowid = ec.element_id WHERE {where}")
            else:
                removed += self.rowcount(
                    f"DELETE FROM {PREFIX}element_contact WHERE rowid IN (SELECT ec.rowid FROM "
                    f"{PREFIX}element_contact ec JOIN {PREFIX}{table} d ON d.rowid = ec.element_id "
                    f"WHERE {where})")
        for element in DOC_TYPES:
            type_id = type_ids[element]
            added += self.rowcount(
                f"INSERT INTO {PREFIX}element_contact (datecreate, statut, element_id, "
                f"fk_c_type_contact, fk_socpeople) "
                + self.addition_select(element, type_id, selection, period,
                                       f"'{now}', 4, d.rowid, {type_id}, sc.fk_user"))
        return removed + added

    def preview(self, type_ids, selection, period, per_page=50):
        """Read-only: what a sync would change (counts per type) and the first page."""
        total = 0
        for element in DOC_TYPES:
            type_id, table = type_ids[element], TABLES[element]
            total += self.one(
                f"SELECT COUNT(*) FROM {PREFIX}element_contact ec JOIN {PREFIX}{table} d "
                f"ON d.rowid = ec.element_id WHERE "
                + self.removal_where(element, type_id, selection, period))[0]
            total += self.one("SELECT COUNT(*) FROM ("
                              + self.addition_select(element, type_id, selection, period,
                                                     "d.rowid, sc.fk_user") + ") t")[0]
        page = []
        for element in sorted(DOC_TYPES):
            if len(page) >= per_page:
                break
            type_id, table = type_ids[element], TABLES[element]
            differs = (f"(EXISTS (SELECT 1 FROM {PREFIX}element_contact ec WHERE "
                       f"ec.element_id = d.rowid AND ec.fk_c_type_contact = {type_id} AND "
                       f"{self.active_rep('d.fk_soc')} AND NOT "
                       f"{self.active_rep('d.fk_soc', 'ec.fk_socpeople')}) OR EXISTS (SELECT 1 "
                       f"FROM {PREFIX}societe_commerciaux sc JOIN {PREFIX}user u ON u.rowid = "
                       f"sc.fk_user WHERE sc.fk_soc = d.fk_soc AND u.statut = 1 AND "
                       f"(u.fk_soc IS NULL OR u.fk_soc = 0) AND u.entity IN (0, 1) AND NOT EXISTS "
                       f"(SELECT 1 FROM {PREFIX}element_contact x WHERE x.element_id = d.rowid "
                       f"AND x.fk_c_type_contact = {type_id} AND x.fk_socpeople = sc.fk_user)))")
            rows = self.execute(
                f"SELECT d.rowid, d.ref, d.{DATE_COLUMNS[element]}, d.fk_statut FROM "
                f"{PREFIX}{table} d WHERE {self.scope(element, selection, period)} AND {differs} "
                f"ORDER BY d.rowid LIMIT {per_page - len(page)}").fetchall()
            if rows:
                self.execute(
                    f"SELECT ec.element_id, ec.fk_socpeople, u.firstname, u.lastname FROM "
                    f"{PREFIX}element_contact ec JOIN {PREFIX}user u ON u.rowid = ec.fk_socpeople "
                    f"WHERE ec.fk_c_type_contact = {type_id} AND ec.element_id IN "
                    f"{self.ids(r[0] for r in rows)}").fetchall()
            page += rows
        return total

    def assign(self, ids, users):
        return self.rowcount(
            f"INSERT INTO {PREFIX}societe_commerciaux (fk_soc, fk_user) SELECT s.rowid, u.rowid "
            f"FROM {PREFIX}societe s CROSS JOIN {PREFIX}user u WHERE s.rowid IN {self.ids(ids)} "
            f"AND s.entity = {ENTITY} AND u.rowid IN {self.ids(users)} AND NOT EXISTS (SELECT 1 "
            f"FROM {PREFIX}societe_commerciaux x WHERE x.fk_soc = s.rowid AND x.fk_user = u.rowid)")

    def transfer(self, a, b, type_ids, period):
        ids = [row[0] for row in self.execute(
            f"SELECT s.rowid FROM {PREFIX}societe s WHERE s.entity = {ENTITY} AND EXISTS "
            f"(SELECT 1 FROM {PREFIX}societe_commerciaux sc WHERE sc.fk_soc = s.rowid "
            f"AND sc.fk_user = {a})").fetchall()]
        if not ids:
            return 0
        selection = self.ids(ids)
        changed = self.rowcount(
            f"INSERT INTO {PREFIX}societe_commerciaux (fk_soc, fk_user) SELECT s.rowid, {b} FROM "
            f"{PREFIX}societe s WHERE s.rowid IN {selection} AND NOT EXISTS (SELECT 1 FROM "
            f"{PREFIX}societe_commerciaux x WHERE x.fk_soc = s.rowid AND x.fk_user = {b})")
        changed += self.rowcount(f"DELETE FROM {PREFIX}societe_commerciaux WHERE fk_user = {a} "
                                 f"AND fk_soc IN {selection}")
        return changed + self.sync_documents(type_ids, selection, period)

    def list_page(self, rep, page, per_page=25):
        where = (f"s.entity = {ENTITY} AND EXISTS (SELECT 1 FROM {PREFIX}societe_commerciaux sc "
                 f"WHERE sc.fk_soc = s.rowid AND sc.fk_user = {int(rep)})")
        total = self.one(f"SELECT COUNT(*) FROM {PREFIX}societe s WHERE {where}")[0]
        rows = self.execute(
            f"SELECT s.rowid, s.nom, s.name_alias, s.code_client, s.code_fournisseur, s.client, "
            f"s.fournisseur, s.town, s.zip, s.email, s.status, s.datec FROM {PREFIX}societe s "
            f"WHERE {where} ORDER BY s.nom, s.rowid LIMIT {per_page} "
            f"OFFSET {(page - 1) * per_page}").fetchall()
        if rows:
            self.execute(
                f"SELECT u.rowid, u.login, u.firstname, u.lastname, u.statut, sc.fk_soc FROM "
                f"{PREFIX}user u JOIN {PREFIX}societe_commerciaux sc ON sc.fk_user = u.rowid "
                f"WHERE sc.fk_soc IN {self.ids(r[0] for r in rows)} AND u.entity IN (0, 1) "
                f"ORDER BY u.lastname, u.firstname, u.rowid").fetchall()
        return total


# --- (b): the per-row loop, Dolibarr style -----------------------------------------

class Loop:
    """One autocommitted statement at a time; records what it did to revert it."""

    def __init__(self, database):
        self.database = database
        self.inserted_contacts, self.deleted_contacts = [], []
        self.inserted_links, self.deleted_links = [], []

    def execute(self, sql, params=()):
        return run_sql(self.database, sql, params)

    def documents(self, changes):
        """changes: [(element, element_id, removed rows, added users, type id)]."""
        now = datetime.now().replace(microsecond=0).isoformat(" ")
        for element, element_id, removed, added, type_id in changes:
            self.execute(f"SELECT * FROM {PREFIX}{TABLES[element]} WHERE rowid = %s",
                         (element_id,)).fetchall()
            for row in removed:
                self.execute(f"DELETE FROM {PREFIX}element_contact WHERE rowid = %s", (row[0],))
                self.deleted_contacts.append(row)
            for user in added:
                cursor = self.execute(
                    f"INSERT INTO {PREFIX}element_contact (datecreate, statut, element_id, "
                    f"fk_c_type_contact, fk_socpeople) VALUES (%s, 4, %s, %s, %s)",
                    (now, element_id, type_id, user))
                self.inserted_contacts.append(cursor.lastrowid)

    def links(self, changes):
        """changes: [(fk_soc, removed rows, added users)] as del_/add_commercial do it."""
        for fk_soc, removed, added in changes:
            self.execute(f"SELECT * FROM {PREFIX}societe WHERE rowid = %s", (fk_soc,)).fetchall()
            for row in removed:      # del_commercial
                self.execute(f"DELETE FROM {PREFIX}societe_commerciaux WHERE fk_soc = %s "
                             f"AND fk_user = %s", (fk_soc, row[2]))
                self.deleted_links.append(row)
            for user in added:       # add_commercial: DELETE then INSERT
                self.execute(f"DELETE FROM {PREFIX}societe_commerciaux WHERE fk_soc = %s "
                             f"AND fk_user = %s", (fk_soc, user))
                cursor = self.execute(f"INSERT INTO {PREFIX}societe_commerciaux (fk_soc, fk_user) "
                                      f"VALUES (%s, %s)", (fk_soc, user))
                self.inserted_links.append(cursor.lastrowid)

    def preview(self, documents, fk_soc):
        """Read-only, per document: the document and its contacts (CommonObject::liste_contact)."""
        self.execute(f"SELECT u.rowid, u.lastname FROM {PREFIX}user u JOIN "
                     f"{PREFIX}societe_commerciaux sc ON sc.fk_user = u.rowid WHERE sc.fk_soc = %s "
                     f"AND u.entity IN (0, 1) ORDER BY u.lastname", (fk_soc,)).fetchall()
        for element, element_id in documents:
            self.execute(f"SELECT * FROM {PREFIX}{TABLES[element]} WHERE rowid = %s",
                         (element_id,)).fetchall()
            self.execute(
                f"SELECT ec.rowid, ec.statut, ec.fk_socpeople, tc.code, tc.libelle, u.lastname "
                f"FROM {PREFIX}element_contact ec JOIN {PREFIX}c_type_contact tc ON tc.rowid = "
                f"ec.fk_c_type_contact LEFT JOIN {PREFIX}user u ON u.rowid = ec.fk_socpeople "
                f"WHERE ec.element_id = %s AND tc.element = %s AND tc.source = 'internal' "
                f"AND tc.active = 1 ORDER BY ec.rowid", (element_id, element)).fetchall()

    def revert(self):
        """Put back exactly what the loop changed (untimed, one transaction)."""
        with self.database.atomic():
            for rowid in self.inserted_contacts:
                self.execute(f"DELETE FROM {PREFIX}element_contact WHERE rowid = %s", (rowid,))
            for row in self.deleted_contacts:
                self.execute(f"INSERT INTO {PREFIX}element_contact (rowid, element_id, "
                             f"fk_c_type_contact, fk_socpeople, statut, datecreate) "
                             f"VALUES (%s, %s, %s, %s, %s, %s)", tuple(row))
            for rowid in self.inserted_links:
                self.execute(f"DELETE FROM {PREFIX}societe_commerciaux WHERE rowid = %s", (rowid,))
            for row in self.deleted_links:
                self.execute(f"INSERT INTO {PREFIX}societe_commerciaux (rowid, fk_soc, fk_user, "
                             f"import_key, fk_c_type_contact_code) VALUES (%s, %s, %s, %s, %s)",
                             tuple(row))


def change_sets(batch_id):
    """What a real run changed, from its journal: per document and per thirdparty."""
    from autocontact.dolibarr.tool_tables import BatchContact, BatchSalesRep
    documents = {}
    for row in (BatchContact.select().where(BatchContact.batch_id == batch_id)
                .order_by(BatchContact.element, BatchContact.element_id, BatchContact.id)):
        entry = documents.setdefault((row.element, row.element_id),
                                     [row.element, row.element_id, [], [], row.fk_c_type_contact])
        if row.change == "-":
            datecreate = str(row.datecreate) if row.datecreate else None
            entry[2].append((row.ec_rowid, row.element_id, row.fk_c_type_contact,
                             row.fk_socpeople, row.statut, datecreate))
        else:
            entry[3].append(row.fk_socpeople)
    links = {}
    for row in (BatchSalesRep.select().where(BatchSalesRep.batch_id == batch_id)
                .order_by(BatchSalesRep.fk_soc, BatchSalesRep.id)):
        entry = links.setdefault(row.fk_soc, [row.fk_soc, [], []])
        if row.change == "-":
            entry[1].append((row.link_rowid, row.fk_soc, row.fk_user, row.import_key,
                             row.type_code or "SALESREPTHIRD"))
        else:
            entry[2].append(row.fk_user)
    return list(documents.values()), list(links.values())


# --- one operation, in its own process ---------------------------------------------

def worker(backend_name, op, size, runs):
    from autocontact import create_app
    from autocontact.dolibarr.models import DOCUMENT_MODELS, database
    from autocontact.services import documents, salesreps, settings as settings_service
    from autocontact.services import thirdparties, undo
    from autocontact.services.permissions import Actor

    db = generate.backend(backend_name, size)
    instance = ROOT / "bench" / "cache" / "instance"
    app = create_app({"TESTING": True, "ENVIRON": {
        "AUTOCONTACT_DATABASE_URL": db.url, "SECRET_KEY": "bench",
        "AUTOCONTACT_INSTANCE_PATH": str(instance)}})
    schema = app.extensions["autocontact.schema"]
    scenario = Scenario(size)
    result = {"backend": backend_name, "op": op, "runs": runs}

    with app.app_context(), database.connection_context():
        admin = database.execute_sql(
            f"SELECT rowid FROM {PREFIX}user WHERE admin = 1 AND statut = 1 ORDER BY rowid "
            f"LIMIT 1").fetchone()[0]
        actor = Actor(user_id=admin, login="bench", full_name="Bench",
                      roles=frozenset({"viewer", "editor", "manager"}))
        log = StatementLog(database)
        sql = Sql(database, backend_name)
        type_ids = {element: documents_type_id(element) for element in DOC_TYPES}
        marker = generate.read_marker(lambda q, a=None: run_sql(database, q, a).fetchall())
        expected_fingerprint = marker["fingerprint"]

        def current_fingerprint():
            return generate.fingerprint(lambda q, a=None: run_sql(database, q, a).fetchall())

        def set_state(state):
            with database.atomic():
                generate.write_marker(lambda q, a=None: run_sql(database, q, a), {"state": state})

        # -- the service, as a request would run it
        def service(dry_run):
            settings = settings_service.load(ENTITY)
            payload = scenario.payload(op)
            if op in ("assign", "transfer"):
                request = salesreps.parse_request(payload, ENTITY, settings)
                outcome = salesreps.run(actor, request, ENTITY, schema, dry_run=dry_run)
                rows = outcome.links_added + outcome.links_removed
                docs_changed = 0
                if outcome.documents is not None:
                    rows += outcome.documents.total("added") + outcome.documents.total("removed")
                    docs_changed = outcome.documents.total("changed")
                return {"rows": rows, "batch_id": outcome.batch_id, "thirdparties":
                        outcome.thirdparties, "documents_changed": docs_changed,
                        "selected": outcome.selected}
            if op in ("sync_10k", "sync_one", "preview_one"):
                request = documents.parse_request(payload, ENTITY, settings)
                outcome = documents.run(actor, request, ENTITY, dry_run=dry_run, page=1)
                return {"rows": outcome.total("added") + outcome.total("removed"),
                        "batch_id": outcome.batch_id,
                        "documents_changed": outcome.total("changed"),
                        "documents_examined": outcome.total("examined"),
                        "page_rows": len(outcome.documents)}
            criteria = thirdparties.parse_filter(payload)
            if op == "list_last":
                pages = thirdparties.list_page(criteria, ENTITY).pages
                criteria = thirdparties.parse_filter({**payload, "page": str(pages)})
            started = time.perf_counter()  # the last page's own time, without finding it
            page = thirdparties.list_page(criteria, ENTITY)
            return {"rows": 0, "listed": len(page.rows), "total": page.total,
                    "page": criteria.page, "_own": time.perf_counter() - started}

        reset_peak()
        result["rss_start_mb"] = proc_status("VmRSS")
        times, profiles, outcome = [], [], None
        list_runs = max(runs, 5) if op.startswith("list") else runs
        for _ in range(list_runs):
            elapsed, outcome = timed(lambda: log.run(lambda: service(dry_run=True)))
            times.append(outcome.pop("_own", elapsed))
            profiles.append(list(log.events))
        result["service_times"] = times
        result["service"] = statistics.median(times)
        result["outcome"] = outcome
        result["statements"] = len(profiles[-1])
        result["top_statements"] = top_statements(profiles)

        if op in WRITES:
            set_state("dirty")
            elapsed, real = timed(lambda: service(dry_run=False))
            result["real_run"] = elapsed
            result["real_outcome"] = real
            result["peak_service_mb"] = proc_status("VmHWM")
            doc_changes, link_changes = change_sets(real["batch_id"])
            reset_peak()
            elapsed, undone = timed(lambda: undo.undo(actor, real["batch_id"], ENTITY, schema))
            result["undo"] = elapsed
            result["undo_rows"] = undone.rows_restored
            result["undo_conflicts"] = undone.conflict_count
            result["peak_undo_mb"] = proc_status("VmHWM")
            result["restored"] = current_fingerprint() == expected_fingerprint
            if result["restored"]:
                set_state("clean")
        else:
            result["peak_service_mb"] = proc_status("VmHWM")
            doc_changes = link_changes = []

        # -- (a) the minimal SQL, rolled back
        def minimal():
            with database.atomic() as transaction:
                if op == "assign":
                    rows = sql.assign(scenario.assign_ids, [scenario.c, scenario.d])
                elif op == "transfer":
                    rows = sql.transfer(scenario.a, scenario.b, type_ids, TWO_YEARS)
                elif op == "sync_10k":
                    rows = sql.sync_documents(type_ids, sql.ids(scenario.sync_ids), TWO_YEARS)
                elif op == "sync_one":
                    rows = sql.sync_documents(type_ids, sql.ids([scenario.special]), ALL_YEARS)
                elif op == "preview_one":
                    rows = sql.preview(type_ids, sql.ids([scenario.special]), ALL_YEARS)
                else:
                    page = 1 if op == "list_first" else outcome["page"]
                    rows = sql.list_page(scenario.a, page)
                transaction.rollback()
            return rows
        minimal_times, minimal_rows = [], None
        for _ in range(list_runs):
            elapsed, minimal_rows = timed(minimal)
            minimal_times.append(elapsed)
        result["minimal"] = statistics.median(minimal_times)
        result["minimal_times"] = minimal_times
        result["minimal_rows"] = minimal_rows

        # -- (b) the per-row loop on a sample, extrapolated
        loop = Loop(database)
        sample = size.sample
        if op in WRITES:
            set_state("dirty")
            doc_sample, link_sample = doc_changes[:sample], link_changes[:sample]
            loop_docs = timed(lambda: loop.documents(doc_sample))[0] if doc_sample else 0.0
            loop_links = timed(lambda: loop.links(link_sample))[0] if link_sample else 0.0
            loop.revert()
            estimate = 0.0
            if doc_sample:
                estimate += loop_docs / len(doc_sample) * len(doc_changes)
            if link_sample:
                estimate += loop_links / len(link_sample) * len(link_changes)
            result["loop"] = estimate
            result["loop_sample"] = {"documents": len(doc_sample), "of_documents": len(doc_changes),
                                     "thirdparties": len(link_sample),
                                     "of_thirdparties": len(link_changes),
                                     "seconds": loop_docs + loop_links}
            result["restored_after_loop"] = current_fingerprint() == expected_fingerprint
            if result["restored_after_loop"] and result.get("restored"):
                set_state("clean")
        elif op == "preview_one":
            in_scope = []
            for element in DOC_TYPES:
                model = DOCUMENT_MODELS[element]
                in_scope += [(element, rowid) for (rowid,) in model.select(model.rowid).where(
                    model.fk_soc == scenario.special).order_by(model.rowid).tuples()]
            part = in_scope[:sample]
            seconds = timed(lambda: loop.preview(part, scenario.special))[0]
            result["loop"] = seconds / len(part) * len(in_scope)
            result["loop_sample"] = {"documents": len(part), "of_documents": len(in_scope),
                                     "seconds": seconds}
        if backend_name == "mariadb" and op not in ("list_first", "list_last"):
            result["explain"] = explain(database, profiles[-1])
    print(RESULT_TAG + json.dumps(result, default=str), flush=True)


def documents_type_id(element):
    from autocontact.dolibarr.models import ContactType
    return ContactType.get((ContactType.element == element) & (ContactType.source == "internal")
                           & (ContactType.code == "SALESREPFOLL")).rowid


def normalise(sql):
    return " ".join(sql.split())


def top_statements(profiles, limit=4):
    """The slowest statements, median duration over the runs (matched by position)."""
    per_position = {}
    for events in profiles:
        for index, (sql, _params, duration) in enumerate(events):
            per_position.setdefault(index, (sql, []))[1].append(duration)
    rows = [(statistics.median(durations), index, sql)
            for index, (sql, durations) in per_position.items()]
    rows.sort(reverse=True)
    return [{"position": index, "seconds": seconds, "sql": normalise(sql)[:1500]}
            for seconds, index, sql in rows[:limit]]


def explain(database, events, limit=2):
    """EXPLAIN of the slowest data statements of the last dry run (plans only)."""
    slowest = sorted(events, key=lambda e: -e[2])
    plans = []
    for sql, params, duration in slowest:
        head = sql.lstrip().split(None, 1)[0].upper()
        if head not in ("SELECT", "INSERT", "DELETE", "UPDATE"):
            continue
        try:
            cursor = database.execute_sql("EXPLAIN " + sql, params)
            columns = [c[0] for c in cursor.description]
            plans.append({"seconds": duration, "sql": normalise(sql)[:1500],
                          "plan": [dict(zip(columns, row)) for row in cursor.fetchall()]})
        except Exception as error:  # some statements cannot be explained outside their run
            plans.append({"seconds": duration, "sql": normalise(sql)[:300], "error": str(error)})
        if len(plans) >= limit:
            break
    return plans


# --- the report ----------------------------------------------------------------

def ms(seconds):
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.1f} ms"
    return f"{seconds:.2f} s" if seconds < 100 else f"{seconds:.0f} s"


def ratio(value):
    return "–" if value is None else (f"{value:.1f}×" if value < 100 else f"{value:.0f}×")


def evaluate(result):
    """The targets of issue #8 for one MariaDB result: [(target, value, met)]."""
    checks = []
    op, service = result["op"], result["service"]
    if op.startswith("list"):
        checks.append(("list page ≤ 50 ms", ms(service), service <= 0.050))
    else:
        over_a = service / result["minimal"]
        checks.append(("≤ 2× (a)", ratio(over_a), over_a <= 2))
        if result.get("loop"):
            speedup = result["loop"] / service
            checks.append(("≥ 20× faster than (b)", ratio(speedup), speedup >= 20))
    if op == "sync_10k":
        peak = result["peak_service_mb"]
        checks.append(("peak RSS ≤ 300 MB", f"{peak:.0f} MB", peak <= 300))
    return checks


def rows_cell(result):
    outcome = result["outcome"]
    if result["op"].startswith("list"):
        return f"{outcome['total']:,} listed, page {outcome['page']}"
    text = f"{outcome['rows']:,}"
    details = []
    if outcome.get("documents_changed"):
        details.append(f"{outcome['documents_changed']:,} docs")
    if outcome.get("thirdparties"):
        details.append(f"{outcome['thirdparties']:,} tps")
    if result["op"] == "preview_one":
        details.append(f"{outcome['documents_examined']:,} examined")
    if result.get("minimal_rows") is not None and result["minimal_rows"] != outcome["rows"]:
        details.append(f"**(a) changes {result['minimal_rows']:,}**")
    return text + (f" ({', '.join(details)})" if details else "")


def table(results, runs, size):
    names = labels(size)
    lines = [
        f"| backend | operation | rows changed | service (median of {runs} dry runs) | real run "
        f"| (a) minimal SQL | service ÷ (a) | (b) per-row loop, extrapolated | (b) ÷ service "
        f"| peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        service = result["service"]
        loop = result.get("loop")
        lines.append(
            f"| {result['backend']} | {names[result['op']]} | {rows_cell(result)} | {ms(service)} "
            f"| {ms(result.get('real_run'))} | {ms(result['minimal'])} "
            f"| {ratio(service / result['minimal'])} | {ms(loop)} "
            f"| {ratio(loop / service) if loop else '–'} | {result['peak_service_mb']:.0f} MB |")
    return "\n".join(lines)


def undo_table(results, size):
    names = labels(size)
    lines = ["| backend | undo of the real run of | rows restored | time | peak RSS | dataset restored |",
             "|---|---|---|---|---|---|"]
    for result in results:
        if "undo" in result:
            restored = result["restored"] and result.get("restored_after_loop", True)
            lines.append(f"| {result['backend']} | {names[result['op']]} | {result['undo_rows']:,} "
                         f"| {ms(result['undo'])} | {result['peak_undo_mb']:.0f} MB "
                         f"| {'yes' if restored else '**NO**'} |")
    return "\n".join(lines)


def targets_table(results, size):
    names = labels(size)
    lines = ["| operation (MariaDB) | target | measured | met |", "|---|---|---|---|"]
    for result in results:
        if result["backend"] != "mariadb":
            continue
        for target, value, met in evaluate(result):
            lines.append(f"| {names[result['op']]} | {target} | {value} | "
                         f"{'yes' if met else '**no**'} |")
    return "\n".join(lines)


def statements_section(results, size):
    names = labels(size)
    out = []
    for result in results:
        if result["backend"] != "mariadb" or result["op"].startswith("list"):
            continue
        out.append(f"**{names[result['op']]}** — {result['statements']} statements per dry run; "
                   f"slowest:\n")
        for item in result["top_statements"][:3]:
            out.append(f"- {ms(item['seconds'])} (#{item['position'] + 1}): "
                       f"`{item['sql'][:400]}{'…' if len(item['sql']) > 400 else ''}`")
        out.append("")
    return "\n".join(out)


def machine(size):
    with open("/proc/meminfo") as handle:
        mem_kb = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    maria = generate.MariaBackend(size)
    try:
        version, pool, flush = maria.execute(
            "SELECT VERSION(), @@innodb_buffer_pool_size, @@innodb_flush_log_at_trx_commit")[0]
    finally:
        maria.close()
    import peewee
    import sqlite3
    return {
        "cpus": os.cpu_count(), "cpu": cpu, "ram_gb": mem_kb / 1024 / 1024,
        "mariadb": version, "innodb_buffer_pool_mb": int(pool) // (1024 * 1024),
        "innodb_flush_log_at_trx_commit": int(flush), "sqlite": sqlite3.sqlite_version,
        "python": platform.python_version(), "peewee": peewee.__version__,
        "kernel": platform.release(),
    }


def report(results, runs, size, info, generation, command, wall):
    gen_lines = []
    for name, (fresh, recorded) in generation.items():
        total = (recorded or {}).get("total")
        gen_lines.append(f"- {name}: " + (f"generated in {total:.0f} s" if fresh else
                                          f"cached (generated earlier in {total:.0f} s)"
                                          if total else "cached"))
    return "\n".join([
        BEGIN,
        f"Produced by `{command}` on {datetime.now():%Y-%m-%d %H:%M} in {wall / 60:.1f} min "
        f"(dataset *{size.name}*).",
        "",
        f"Machine: {info['cpus']} CPUs ({info['cpu']}), {info['ram_gb']:.0f} GB RAM, Linux "
        f"{info['kernel']}; MariaDB {info['mariadb']} (innodb_buffer_pool_size "
        f"{info['innodb_buffer_pool_mb']} MB, innodb_flush_log_at_trx_commit "
        f"{info['innodb_flush_log_at_trx_commit']}, server defaults) on the same machine; SQLite "
        f"{info['sqlite']}; Python {info['python']}, peewee {info['peewee']}.",
        "",
        "Dataset generation:",
        *gen_lines,
        "",
        table(results, runs, size),
        "",
        "Undo of each real run (undo.undo), and the dataset check after it:",
        "",
        undo_table(results, size),
        "",
        "Targets (MariaDB):",
        "",
        targets_table(results, size),
        "",
        "Slowest statements of the service on MariaDB (median over the dry runs):",
        "",
        statements_section(results, size),
        END,
    ])


DOC_HEADER = """# Benchmarks

Issue #8: autocontact's bulk operations on a large Dolibarr (`make bench`; `bench/`).
The section between the markers below is rewritten by `python -m bench.run`.

"""


def write_docs(section):
    DOCS.parent.mkdir(parents=True, exist_ok=True)
    text = DOCS.read_text() if DOCS.exists() else DOC_HEADER + BEGIN + "\n" + END + "\n"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        tail = rest.split(END, 1)[1]
        text = head + section + tail
    else:
        text += "\n" + section + "\n"
    DOCS.write_text(text)


def clear_journal(name, size):
    """Empty the tool's own journal tables of the bench database (never Dolibarr's)."""
    db = generate.backend(name, size)
    try:
        tables = {row[0] for row in db.execute(
            "SHOW TABLES" if name == "mariadb" else
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        for table in ("autocontact_batch_contact", "autocontact_batch_salesrep",
                      "autocontact_batch_setting", "autocontact_batch"):
            if PREFIX + table in tables:
                db.execute(f"DELETE FROM {PREFIX}{table}")
    finally:
        db.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description="autocontact benchmark (issue #8)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny dataset, one run, no docs: a quick check (< 60 s)")
    parser.add_argument("--runs", type=int, help="timed runs per measure (default 3; smoke 1)")
    parser.add_argument("--backend", choices=("mariadb", "sqlite", "all"), default="all")
    parser.add_argument("--only", help="comma-separated operations: " + ",".join(OPS))
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--worker", nargs=2, metavar=("BACKEND", "OP"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    size = SIZES["smoke" if args.smoke else "full"]
    runs = args.runs or (1 if args.smoke else 3)
    if args.worker:
        worker(args.worker[0], args.worker[1], size, runs)
        return
    started = time.perf_counter()
    backends = ("mariadb", "sqlite") if args.backend == "all" else (args.backend,)
    ops = args.only.split(",") if args.only else list(OPS)
    generation = {}
    for name in backends:
        generation[name] = generate.ensure(name, size)
        clear_journal(name, size)
    results = []
    names = labels(size)
    for name in backends:
        for op in ops:
            command = [sys.executable, "-m", "bench.run", "--worker", name, op, "--runs", str(runs)]
            if args.smoke:
                command.append("--smoke")
            begun = time.perf_counter()
            done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
            lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_TAG)]
            if done.returncode or not lines:
                sys.stderr.write(done.stdout + done.stderr)
                raise SystemExit(f"{name} {op}: the worker failed (exit {done.returncode})")
            result = json.loads(lines[-1][len(RESULT_TAG):])
            results.append(result)
            loop = result.get("loop")
            print(f"{name:7} {names[op]:66} service {ms(result['service']):>9}  "
                  f"(a) {ms(result['minimal']):>9}  (b) {ms(loop):>9}  "
                  f"rows {result['outcome']['rows']:>8,}  peak {result['peak_service_mb']:.0f} MB  "
                  f"[{time.perf_counter() - begun:.0f} s]", flush=True)
            if "restored" in result and not (result["restored"]
                                             and result.get("restored_after_loop", True)):
                raise SystemExit(f"{name} {op}: the dataset was not restored; regenerate it "
                                 f"(python -m bench.generate --force)")
    wall = time.perf_counter() - started
    print()
    print(table(results, runs, size))
    print()
    print(undo_table(results, size))
    if "mariadb" in backends:
        print()
        print(targets_table(results, size))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    if not args.smoke and not args.no_docs and not args.only and args.backend == "all":
        command = "make bench" if os.environ.get("MAKELEVEL") else "python -m bench.run"
        write_docs(report(results, runs, size, machine(size), generation, command, wall))
        print(f"\nwritten to {DOCS.relative_to(ROOT)}")
    print(f"\ntotal {wall:.0f} s")


if __name__ == "__main__":
    main()
