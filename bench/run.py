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
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from bench import generate
from bench.generate import (
    DOC_TABLES,
    PREFIX,
    REP_A,
    REP_B,
    REP_C,
    REP_D,
    ROOT,
    SIZES,
    soc_id,
    user_id,
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
        # SQLite without statistics would start from element_contact's type index (250,000
        # rows); CROSS JOIN is SQLite's way of fixing the join order (documents first).
        self.then = "JOIN" if self.mariadb else "CROSS JOIN"

    def execute(self, sql, params=()):
        return run_sql(self.database, sql, params)

    def rowcount(self, sql, params=()):
        return self.execute(sql, params).rowcount

    def one(self, sql, params=()):
        return self.execute(sql, params).fetchone()

    def ids(self, ids):
        return "(" + ",".join(str(int(i)) for i in ids) + ")"

    # The selection of thirdparties: a literal list when short, else a temporary
    # table with a primary key (what one writes by hand for 10,000 ids: MariaDB
    # turns a literal IN list of more than 1,000 values into a derived table).
    SELECTION = "(SELECT id FROM bench_sel)"

    def drop_selection(self):
        self.execute("DROP TEMPORARY TABLE IF EXISTS bench_sel" if self.mariadb
                     else "DROP TABLE IF EXISTS temp.bench_sel")

    def selection(self, ids=None, query=None):
        if ids is not None and len(ids) <= 100:
            return self.ids(ids)
        self.drop_selection()
        self.execute("CREATE TEMPORARY TABLE bench_sel (id INTEGER NOT NULL PRIMARY KEY)")
        if ids is not None:
            self.execute("INSERT INTO bench_sel (id) VALUES "
                         + ",".join(f"({int(i)})" for i in ids))
        else:
            self.execute(f"INSERT INTO bench_sel (id) {query}")
        return self.SELECTION

    @staticmethod
    def active_rep(soc, user=None):
        return (f"EXISTS (SELECT 1 FROM {PREFIX}societe_commerciaux sc JOIN {PREFIX}user u "
                f"ON u.rowid = sc.fk_user WHERE sc.fk_soc = {soc}"
                + (f" AND sc.fk_user = {user}" if user else "")
                + " AND u.statut = 1 AND (u.fk_soc IS NULL OR u.fk_soc = 0) AND u.entity IN (0, 1))")

    def scope(self, element, selection, period):
        column = DATE_COLUMNS[element]
        return (f"d.entity = {ENTITY} AND d.fk_soc IN {selection} "
                f"AND d.{column} >= '{period[0]}' AND d.{column} <= '{period[1]} 23:59:59'")

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
                    f"DELETE ec FROM {PREFIX}{table} d JOIN {PREFIX}element_contact ec "
                    f"ON ec.element_id = d.rowid WHERE {where}")
            else:
                removed += self.rowcount(
                    f"DELETE FROM {PREFIX}element_contact WHERE rowid IN (SELECT ec.rowid FROM "
                    f"{PREFIX}{table} d {self.then} {PREFIX}element_contact ec "
                    f"ON ec.element_id = d.rowid WHERE {where})")
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
                f"SELECT COUNT(*) FROM {PREFIX}{table} d {self.then} {PREFIX}element_contact ec "
                f"ON ec.element_id = d.rowid WHERE "
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
        selection = self.selection(ids)
        return self.rowcount(
            f"INSERT INTO {PREFIX}societe_commerciaux (fk_soc, fk_user) SELECT s.rowid, u.rowid "
            f"FROM {PREFIX}societe s CROSS JOIN {PREFIX}user u WHERE s.rowid IN {selection} "
            f"AND s.entity = {ENTITY} AND u.rowid IN {self.ids(users)} AND NOT EXISTS (SELECT 1 "
            f"FROM {PREFIX}societe_commerciaux x WHERE x.fk_soc = s.rowid AND x.fk_user = u.rowid)")

    def transfer(self, a, b, type_ids, period):
        selection = self.selection(query=(
            f"SELECT s.rowid FROM {PREFIX}societe s WHERE s.entity = {ENTITY} AND EXISTS "
            f"(SELECT 1 FROM {PREFIX}societe_commerciaux sc WHERE sc.fk_soc = s.rowid "
            f"AND sc.fk_user = {a})"))
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


def change_sets(database, batch_id, sample):
    """What a real run changed, from its journal: the first ``sample`` documents (and
    thirdparties) with their removed rows and added users, and how many there are in all."""
    contacts, links = f"{PREFIX}autocontact_batch_contact", f"{PREFIX}autocontact_batch_salesrep"
    total_docs = run_sql(database, f"SELECT COUNT(*) FROM (SELECT DISTINCT element, element_id "
                                   f"FROM {contacts} WHERE batch_id = %s) t", (batch_id,)).fetchone()[0]
    documents = {}
    for element, element_id, change, ec_rowid, type_id, person, statut, created in run_sql(
            database,
            f"SELECT b.element, b.element_id, b.change, b.ec_rowid, b.fk_c_type_contact, "
            f"b.fk_socpeople, b.statut, b.datecreate FROM {contacts} b JOIN (SELECT DISTINCT "
            f"element, element_id FROM {contacts} WHERE batch_id = %s ORDER BY element, element_id "
            f"LIMIT {int(sample)}) s ON s.element = b.element AND s.element_id = b.element_id "
            f"WHERE b.batch_id = %s ORDER BY b.element, b.element_id, b.id",
            (batch_id, batch_id)).fetchall():
        entry = documents.setdefault((element, element_id), [element, element_id, [], [], type_id])
        if change == "-":
            entry[2].append((ec_rowid, element_id, type_id, person, statut,
                             str(created) if created else None))
        else:
            entry[3].append(person)
    total_links = run_sql(database, f"SELECT COUNT(DISTINCT fk_soc) FROM {links} "
                                    f"WHERE batch_id = %s", (batch_id,)).fetchone()[0]
    thirdparties = {}
    for fk_soc, change, link_rowid, fk_user, import_key, type_code in run_sql(
            database,
            f"SELECT b.fk_soc, b.change, b.link_rowid, b.fk_user, b.import_key, b.type_code "
            f"FROM {links} b JOIN (SELECT DISTINCT fk_soc FROM {links} WHERE batch_id = %s "
            f"ORDER BY fk_soc LIMIT {int(sample)}) s ON s.fk_soc = b.fk_soc WHERE b.batch_id = %s "
            f"ORDER BY b.fk_soc, b.id", (batch_id, batch_id)).fetchall():
        entry = thirdparties.setdefault(fk_soc, [fk_soc, [], []])
        if change == "-":
            entry[1].append((link_rowid, fk_soc, fk_user, import_key, type_code or "SALESREPTHIRD"))
        else:
            entry[2].append(fk_user)
    return list(documents.values()), total_docs, list(thirdparties.values()), total_links


# --- one operation, in its own process ---------------------------------------------

def is_timeout(error):
    """MariaDB's max_statement_time abort (error 1969), through peewee's wrapper."""
    return any(getattr(arg, "args", (None,))[:1] == (1969,) or arg == 1969
               for arg in (error, *getattr(error, "args", ())))


# The service's journal-driven deletes, as peewee writes them:
#   DELETE FROM `t` WHERE (`t`.`rowid` IN (SELECT `t1`.`col` FROM `journal` AS `t1` WHERE …))
JOURNAL_DELETE = re.compile(
    r"^DELETE FROM `(?P<target>\w+)` WHERE \(`(?P=target)`\.`rowid` IN \(SELECT `t1`\.`(?P<col>\w+)` "
    r"FROM `(?P<journal>\w+)` AS `t1` WHERE (?P<where>.*)\)\)$", re.S)


def rewrite_journal_deletes(db):
    """What-if variant, MariaDB: send the service's journal-driven DELETE ... WHERE rowid IN
    (SELECT ... FROM journal) as DELETE ... JOIN (driven by the journal rows). The SQL text is
    rewritten on its way to the driver; the service's code is not changed."""
    count = {"statements": 0}
    original = db.execute_sql

    def execute_sql(sql, params=None):
        match = JOURNAL_DELETE.match(sql)
        if match:
            count["statements"] += 1
            sql = (f"DELETE `x` FROM `{match['journal']}` AS `t1` JOIN `{match['target']}` AS `x` "
                   f"ON `x`.`rowid` = `t1`.`{match['col']}` WHERE {match['where']}")
        return original(sql, params)
    db.execute_sql = execute_sql
    return count


def worker(backend_name, op, size, runs, variant="shipped", timeout=None):
    from autocontact import create_app
    from autocontact.dolibarr.models import DOCUMENT_MODELS, database
    from autocontact.services import documents, salesreps, thirdparties, undo
    from autocontact.services import settings as settings_service
    from autocontact.services.permissions import Actor

    db = generate.backend(backend_name, size)
    instance = ROOT / "bench" / "cache" / "instance"
    app = create_app({"TESTING": True, "ENVIRON": {
        "AUTOCONTACT_DATABASE_URL": db.url, "SECRET_KEY": "bench",
        "AUTOCONTACT_INSTANCE_PATH": str(instance)}})
    schema = app.extensions["autocontact.schema"]
    scenario = Scenario(size)
    result = {"backend": backend_name, "op": op, "runs": runs, "variant": variant,
              "load": os.getloadavg()[0]}

    if variant == "join-delete":
        result["rewrites"] = rewrite_journal_deletes(database.obj)
    with app.app_context(), database.connection_context():
        if backend_name == "mariadb" and timeout:
            database.execute_sql(f"SET SESSION max_statement_time = {float(timeout)}")
            result["statement_timeout"] = timeout
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
            started = time.perf_counter()
            try:
                outcome = log.run(lambda: service(dry_run=True))
            except Exception as error:
                if not is_timeout(error):
                    raise
                # a statement ran past max_statement_time: record which, stop this service
                slow = log.events[-1] if log.events else ("?", None, 0.0)
                result["timeout"] = {
                    "seconds": time.perf_counter() - started, "limit": timeout,
                    "position": len(log.events), "sql": normalise(slow[0])[:1500],
                    "statement_seconds": slow[2],
                    "before": sum(e[2] for e in log.events[:-1])}
                profiles.append(list(log.events))
                break
            times.append(outcome.pop("_own", time.perf_counter() - started))
            profiles.append(list(log.events))
        result["service_times"] = times
        result["service"] = statistics.median(times) if times else None
        result["outcome"] = outcome
        result["statements"] = len(profiles[-1])
        result["top_statements"] = top_statements(profiles) if times else []

        if op in WRITES and "timeout" not in result:
            set_state("dirty")
            elapsed, real = timed(lambda: service(dry_run=False))
            result["real_run"] = elapsed
            result["real_outcome"] = real
            result["peak_service_mb"] = proc_status("VmHWM")
            reset_peak()
            started = time.perf_counter()
            try:
                undone = log.run(lambda: undo.undo(actor, real["batch_id"], ENTITY, schema))
                result["undo"] = time.perf_counter() - started
                result["undo_rows"] = undone.rows_restored
                result["undo_conflicts"] = undone.conflict_count
            except Exception as error:
                if not is_timeout(error):
                    raise
                slow = log.events[-1] if log.events else ("?", None, 0.0)
                result["undo_timeout"] = {
                    "seconds": time.perf_counter() - started, "limit": timeout,
                    "position": len(log.events), "sql": normalise(slow[0])[:1500]}
                result["undo_rows"] = real["rows"]
                # the aborted undo rolled back: put the dataset back from the batch's journal
                repair(database, real["batch_id"], backend_name == "mariadb")
            result["peak_undo_mb"] = proc_status("VmHWM")
            changes = change_sets(database, real["batch_id"], size.sample)
            result["restored"] = current_fingerprint() == expected_fingerprint
            if result["restored"]:
                set_state("clean")
        else:
            result["peak_service_mb"] = proc_status("VmHWM")
        if outcome is None:  # timed out: (a) still runs; the list's last page is unknown
            outcome = result["outcome"] = {"rows": None, "page": 1}

        # -- (a) the minimal SQL, rolled back
        def minimal():
            with database.atomic() as transaction:
                if op == "assign":
                    rows = sql.assign(scenario.assign_ids, [scenario.c, scenario.d])
                elif op == "transfer":
                    rows = sql.transfer(scenario.a, scenario.b, type_ids, TWO_YEARS)
                elif op == "sync_10k":
                    rows = sql.sync_documents(type_ids, sql.selection(scenario.sync_ids),
                                              TWO_YEARS)
                elif op == "sync_one":
                    rows = sql.sync_documents(type_ids, sql.selection([scenario.special]),
                                              ALL_YEARS)
                elif op == "preview_one":
                    rows = sql.preview(type_ids, sql.selection([scenario.special]), ALL_YEARS)
                else:
                    page = 1 if op == "list_first" else outcome["page"]
                    rows = sql.list_page(scenario.a, page)
                transaction.rollback()
            sql.drop_selection()
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
        if op in WRITES and "timeout" not in result:
            set_state("dirty")
            doc_sample, total_docs, link_sample, total_links = changes
            loop_docs = timed(lambda: loop.documents(doc_sample))[0] if doc_sample else 0.0
            loop_links = timed(lambda: loop.links(link_sample))[0] if link_sample else 0.0
            loop.revert()
            estimate = 0.0
            if doc_sample:
                estimate += loop_docs / len(doc_sample) * total_docs
            if link_sample:
                estimate += loop_links / len(link_sample) * total_links
            result["loop"] = estimate
            result["loop_sample"] = {"documents": len(doc_sample), "of_documents": total_docs,
                                     "thirdparties": len(link_sample),
                                     "of_thirdparties": total_links,
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
        if backend_name == "mariadb":
            result["explain"] = explain(database, profiles[-1])
    result["load_end"] = os.getloadavg()[0]
    print(RESULT_TAG + json.dumps(result, default=str), flush=True)


def repair(database, batch_id, mariadb):
    """Revert a batch from its journal with join-based statements (when undo.undo was
    aborted by max_statement_time): the bench's own clean-up, not the tool's undo."""
    journal_contacts, journal_links = (f"{PREFIX}autocontact_batch_contact",
                                       f"{PREFIX}autocontact_batch_salesrep")
    with database.atomic():
        if mariadb:
            run_sql(database, f"DELETE ec FROM {journal_contacts} b JOIN {PREFIX}element_contact ec "
                              f"ON ec.rowid = b.ec_rowid WHERE b.batch_id = %s AND b.change = '+'",
                    (batch_id,))
            run_sql(database, f"DELETE sc FROM {journal_links} b JOIN {PREFIX}societe_commerciaux "
                              f"sc ON sc.rowid = b.link_rowid WHERE b.batch_id = %s "
                              f"AND b.change = '+'", (batch_id,))
        else:
            run_sql(database, f"DELETE FROM {PREFIX}element_contact WHERE rowid IN (SELECT "
                              f"b.ec_rowid FROM {journal_contacts} b WHERE b.batch_id = %s AND "
                              f"b.change = '+')", (batch_id,))
            run_sql(database, f"DELETE FROM {PREFIX}societe_commerciaux WHERE rowid IN (SELECT "
                              f"b.link_rowid FROM {journal_links} b WHERE b.batch_id = %s AND "
                              f"b.change = '+')", (batch_id,))
        run_sql(database, f"INSERT INTO {PREFIX}element_contact (rowid, datecreate, statut, "
                          f"element_id, fk_c_type_contact, fk_socpeople) SELECT b.ec_rowid, "
                          f"b.datecreate, b.statut, b.element_id, b.fk_c_type_contact, "
                          f"b.fk_socpeople FROM {journal_contacts} b WHERE b.batch_id = %s "
                          f"AND b.change = '-'", (batch_id,))
        run_sql(database, f"INSERT INTO {PREFIX}societe_commerciaux (rowid, fk_soc, fk_user, "
                          f"import_key, fk_c_type_contact_code) SELECT b.link_rowid, b.fk_soc, "
                          f"b.fk_user, b.import_key, COALESCE(b.type_code, 'SALESREPTHIRD') FROM "
                          f"{journal_links} b WHERE b.batch_id = %s AND b.change = '-'",
                (batch_id,))
        run_sql(database, f"UPDATE {PREFIX}autocontact_batch SET state = 'undone' WHERE id = %s",
                (batch_id,))


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


def ratio(value, bound=""):
    if value is None:
        return "–"
    return bound + (f"{value:.1f}×" if value < 100 else f"{value:.0f}×")


VARIANTS = {
    ("mariadb", "shipped"): "MariaDB",
    ("mariadb", "join-delete"): "MariaDB, what-if DELETE … JOIN¶",
    ("mariadb", "old-install"): "MariaDB, journal tables of an older install†",
    ("sqlite", "shipped"): "SQLite",
}
JOURNAL_TABLES = (f"{PREFIX}autocontact_batch_contact", f"{PREFIX}autocontact_batch_salesrep")
ROW_ID_COLUMNS = ("ec_rowid", "link_rowid")


def fresh_tool_tables(name, size):
    """Drop autocontact's own tables in the bench database (never Dolibarr's) and let the
    tool create them as on a fresh install, with the indexes the current code declares."""
    from autocontact.dolibarr.connection import prepare
    db = generate.backend(name, size)
    try:
        tables = [row[0] for row in db.execute(
            "SHOW TABLES" if name == "mariadb" else
            "SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            if table.startswith(f"{PREFIX}autocontact_"):
                db.execute(f"DROP TABLE {table}")
    finally:
        db.close()
    prepare(generate.backend(name, size).url, PREFIX)


def journal_indexes(size):
    """The MariaDB indexes of the journal tables: [(table, index name, columns)]."""
    db = generate.MariaBackend(size)
    try:
        found = {}
        for table in JOURNAL_TABLES:
            for row in db.execute(f"SHOW INDEX FROM {table}"):
                found.setdefault((table, row[2]), []).append(row[4])
        return [(table, name, columns) for (table, name), columns in found.items()]
    finally:
        db.close()


def drop_row_id_indexes(size):
    """The "old-install" variant: the journal tables without the indexes that find rows by
    batch, change and row id (as created before autocontact declared them; an existing
    installation does not get new indexes when the tool is upgraded)."""
    db = generate.MariaBackend(size)
    try:
        for table, name, columns in journal_indexes(size):
            if set(columns) & set(ROW_ID_COLUMNS):
                print(f"  old-install variant: DROP INDEX {name} ON {table}")
                db.execute(f"DROP INDEX {name} ON {table}")
    finally:
        db.close()


def variant_name(result):
    return VARIANTS[(result["backend"], result.get("variant", "shipped"))]


def service_cell(result):
    if "timeout" in result:
        return f"> {ms(result['timeout']['seconds'])} (aborted‡)"
    return ms(result["service"])


def over_minimal(result):
    """(service ÷ (a), bound): a lower bound when the service was aborted."""
    if result["minimal"] in (None, 0):
        return None, ""
    if "timeout" in result:
        return result["timeout"]["seconds"] / result["minimal"], "> "
    return result["service"] / result["minimal"], ""


def loop_of(result, results):
    """(b): measured in this run, else in the other MariaDB variant (it does not depend on it)."""
    if result.get("loop"):
        return result["loop"], ""
    for other in results:
        if other is not result and other["backend"] == result["backend"] \
                and other["op"] == result["op"] and other.get("loop"):
            return other["loop"], "§"
    return None, ""


def speedup(result, results):
    loop, _mark = loop_of(result, results)
    if not loop:
        return None, ""
    if "timeout" in result:
        return loop / result["timeout"]["seconds"], "< "
    return loop / result["service"], ""


def evaluate(result, results):
    """The targets of issue #8 for one MariaDB result: [(target, value, met)]."""
    checks = []
    op, aborted = result["op"], "timeout" in result
    if op.startswith("list"):
        value = result["service"]
        checks.append(("list page ≤ 50 ms", service_cell(result),
                       not aborted and value <= 0.050))
    else:
        over, bound = over_minimal(result)
        checks.append(("≤ 2× (a)", ratio(over, bound), not aborted and over <= 2))
        fast, bound = speedup(result, results)
        if fast is not None:
            checks.append(("≥ 20× faster than (b)", ratio(fast, bound),
                           not aborted and fast >= 20))
    if op == "sync_10k":
        peak = result["peak_service_mb"]
        checks.append(("peak RSS ≤ 300 MB", f"{peak:.0f} MB" + (" (until aborted)" if aborted
                                                                  else ""), peak <= 300))
    return checks


def rows_cell(result):
    outcome = result["outcome"]
    if result["op"].startswith("list"):
        if outcome.get("total") is None:
            return "–"
        return f"{outcome['total']:,} listed, page {outcome['page']}"
    if outcome.get("rows") is None:
        return f"({result['minimal_rows']:,} by (a))" if result.get("minimal_rows") else "–"
    text = f"{outcome['rows']:,}"
    details = []
    if outcome.get("documents_changed"):
        details.append(f"{outcome['documents_changed']:,} docs")
    if outcome.get("thirdparties"):
        details.append(f"{outcome['thirdparties']:,} tps")
    if result["op"] == "preview_one":
        details.append(f"{outcome['documents_examined']:,} examined")
    if result.get("minimal_rows") is not None and result["minimal_rows"] != outcome["rows"]:
        details.append(f"**(a): {result['minimal_rows']:,}**")
    return text + (f" ({', '.join(details)})" if details else "")


def table(results, runs, size):
    names = labels(size)
    lines = [
        f"| backend | operation | rows changed | service: median of {runs} dry runs | one real run "
        f"| (a) minimal SQL | service ÷ (a) | (b) per-row loop, extrapolated | (b) ÷ service "
        f"| peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        loop, mark = loop_of(result, results)
        over, over_bound = over_minimal(result)
        fast, fast_bound = speedup(result, results)
        lines.append(
            f"| {variant_name(result)} | {names[result['op']]} | {rows_cell(result)} "
            f"| {service_cell(result)} | {ms(result.get('real_run'))} | {ms(result['minimal'])} "
            f"| {ratio(over, over_bound)} | {ms(loop)}{mark} | {ratio(fast, fast_bound)} "
            f"| {result['peak_service_mb']:.0f} MB |")
    return "\n".join(lines)


def undo_table(results, size):
    names = labels(size)
    lines = ["| backend | undo of the real run of | rows restored | time | peak RSS "
             "| dataset restored |", "|---|---|---|---|---|---|"]
    for result in results:
        if "undo" in result or "undo_timeout" in result:
            restored = result["restored"] and result.get("restored_after_loop", True)
            if "undo_timeout" in result:
                when = f"> {ms(result['undo_timeout']['seconds'])} (aborted‡)"
                restored_text = "yes, by the bench from the journal" if restored else "**NO**"
            else:
                when = ms(result["undo"])
                restored_text = "yes" if restored else "**NO**"
            lines.append(f"| {variant_name(result)} | {names[result['op']]} "
                         f"| {result['undo_rows']:,} | {when} "
                         f"| {result['peak_undo_mb']:.0f} MB | {restored_text} |")
    return "\n".join(lines)


def targets_table(results, size):
    names = labels(size)
    lines = ["| backend | operation | target | measured | met |", "|---|---|---|---|---|"]
    for result in results:
        if result["backend"] != "mariadb":
            continue
        for target, value, met in evaluate(result, results):
            lines.append(f"| {variant_name(result)} | {names[result['op']]} | {target} | {value} "
                         f"| {'yes' if met else '**no**'} |")
    return "\n".join(lines)


def short_sql(sql, limit=360):
    sql = sql.replace("`", "")
    return sql[:limit] + ("…" if len(sql) > limit else "")


def statements_section(results, size):
    names = labels(size)
    out = []
    for result in results:
        if result["backend"] != "mariadb":
            continue
        head = f"**{variant_name(result)} — {names[result['op']]}**"
        if "timeout" in result:
            info = result["timeout"]
            out.append(f"{head}: aborted by max_statement_time = {info['limit']:.0f} s at "
                       f"statement #{info['position']} (the statements before it took "
                       f"{ms(info['before'])}):\n")
            out.append(f"- `{short_sql(info['sql'])}`")
        else:
            out.append(f"{head} — {result['statements']} statements per run; slowest "
                       f"(median):\n")
            for item in result["top_statements"][:3]:
                out.append(f"- {ms(item['seconds'])} (#{item['position'] + 1}) "
                           f"`{short_sql(item['sql'])}`")
        if "undo_timeout" in result:
            info = result["undo_timeout"]
            out.append(f"- its undo (undo.undo) was aborted at statement #{info['position']}: "
                       f"`{short_sql(info['sql'])}`")
        for plan in result.get("explain", [])[:1]:
            if plan.get("plan"):
                out.append("\n  EXPLAIN of the slowest: " + "; ".join(
                    f"{row.get('select_type')} {row.get('table')} type={row.get('type')} "
                    f"key={row.get('key')} rows={row.get('rows')}"
                    + (f" ({row.get('Extra')})" if row.get("Extra") else "")
                    for row in plan["plan"]))
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
    import sqlite3

    import peewee
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                                capture_output=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "autocontact"], cwd=ROOT,
                               text=True, capture_output=True).stdout.strip()
    except OSError:
        commit, dirty = "?", ""
    return {
        "cpus": os.cpu_count(), "cpu": cpu, "ram_gb": mem_kb / 1024 / 1024,
        "mariadb": version, "innodb_buffer_pool_mb": int(pool) // (1024 * 1024),
        "innodb_flush_log_at_trx_commit": int(flush), "sqlite": sqlite3.sqlite_version,
        "python": platform.python_version(), "peewee": peewee.__version__,
        "kernel": platform.release(), "commit": commit,
        "dirty": len(dirty.splitlines()) if dirty else 0,
    }


def load_range(results):
    loads = [r[key] for r in results for key in ("load", "load_end") if r.get(key) is not None]
    return f"{min(loads):.1f}–{max(loads):.1f}" if loads else "?"


def report(results, runs, size, info, generation, command, wall, timeout):
    gen_lines = []
    for name, (fresh, recorded) in generation.items():
        total = (recorded or {}).get("total")
        gen_lines.append(f"- {name}: " + (f"generated in {total:.0f} s" if fresh else
                                          f"cached (generated earlier in {total:.0f} s)"
                                          if total else "cached"))
    code = f"autocontact at commit {info['commit']}" + (
        f" with {info['dirty']} uncommitted file(s) under autocontact/" if info["dirty"] else "")
    shipped = "; ".join(f"{name} ({', '.join(columns)})" for table, name, columns
                        in info.get("journal_indexes", []) if set(columns) & set(ROW_ID_COLUMNS))
    changed = (f" **The code changed during the run: HEAD was {info['commit']} at the start and "
               f"{info['commit_end']} at the end.**" if info.get("commit_end") not in
               (None, info["commit"]) else "")
    return "\n".join([
        BEGIN,
        f"Produced by `{command}` on {datetime.now():%Y-%m-%d %H:%M} in {wall / 60:.1f} min "
        f"(dataset *{size.name}*; {code}).{changed}",
        "",
        f"Machine: {info['cpus']} CPUs ({info['cpu']}), {info['ram_gb']:.0f} GB RAM, Linux "
        f"{info['kernel']}; MariaDB {info['mariadb']} on the same machine, server defaults "
        f"(innodb_buffer_pool_size {info['innodb_buffer_pool_mb']} MB, "
        f"innodb_flush_log_at_trx_commit {info['innodb_flush_log_at_trx_commit']}); SQLite "
        f"{info['sqlite']}; Python {info['python']}, peewee {info['peewee']}. Load average "
        f"(1 min) when the operations started and ended: {load_range(results)} (2 CPUs: above "
        f"~1 means other work shared the machine).",
        "",
        "Dataset generation:",
        *gen_lines,
        "",
        table(results, runs, size),
        "",
        f"Every run starts from autocontact's own tables dropped and created again by the tool "
        f"(a fresh install of this code); their row-id indexes: {shipped or 'none'}. "
        f"† the same without those indexes (dropped for this variant), as in an installation "
        f"whose tables were created before the tool declared them: `create_tables(safe=True)` "
        f"adds no index to an existing table.",
        f"‡ every MariaDB statement runs under max_statement_time = {timeout:.0f} s so that the "
        f"run ends; an aborted operation shows its time until the abort (a lower bound), and "
        f"no real run, undo or loop. "
        "§ (b) measured in another MariaDB variant (the loop does not use the journal). "
        "¶ what-if, not the shipped code: the service's journal-driven deletes "
        "(`DELETE FROM t WHERE t.rowid IN (SELECT t1.col FROM journal AS t1 WHERE …)`, in "
        "salesreps.run, documents.apply_in_batch and undo.undo) rewritten on their way to the "
        "driver as `DELETE x FROM journal AS t1 JOIN t AS x ON x.rowid = t1.col WHERE …`.",
        "",
        "Undo of each real run (undo.undo), and the dataset check after it and after the loop:",
        "",
        undo_table(results, size),
        "",
        "Targets (MariaDB):",
        "",
        targets_table(results, size),
        "",
        "Slowest statements of the service on MariaDB, with the EXPLAIN of the slowest:",
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


def run_worker(name, variant, op, runs, smoke, timeout):
    command = [sys.executable, "-m", "bench.run", "--worker", name, op, "--runs", str(runs),
               "--variant", variant, "--statement-timeout", str(timeout)]
    if smoke:
        command.append("--smoke")
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_TAG)]
    if done.returncode or not lines:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{name} {op}: the worker failed (exit {done.returncode})")
    return json.loads(lines[-1][len(RESULT_TAG):])


def main(argv=None):
    parser = argparse.ArgumentParser(description="autocontact benchmark (issue #8)")
    parser.add_argument("--smoke", action="store_true",
                        help="tiny dataset, one run, no docs: a quick check (< 60 s)")
    parser.add_argument("--runs", type=int, help="timed runs per measure (default 3; smoke 1)")
    parser.add_argument("--backend", choices=("mariadb", "sqlite", "all"), default="all")
    parser.add_argument("--only", help="comma-separated operations: " + ",".join(OPS))
    parser.add_argument("--variants", default="shipped,join-delete,old-install",
                        help="MariaDB variants: shipped (the tool's tables as it creates them on "
                             "a fresh install), join-delete (what-if: its journal-driven deletes "
                             "sent as DELETE ... JOIN), old-install (journal tables without the "
                             "row-id indexes)")
    parser.add_argument("--statement-timeout", type=float,
                        help="MariaDB max_statement_time in seconds (default 60; smoke 10)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--worker", nargs=2, metavar=("BACKEND", "OP"), help=argparse.SUPPRESS)
    parser.add_argument("--variant", default="shipped", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    size = SIZES["smoke" if args.smoke else "full"]
    runs = args.runs or (1 if args.smoke else 3)
    timeout = args.statement_timeout or (10.0 if args.smoke else 60.0)
    if args.worker:
        worker(args.worker[0], args.worker[1], size, runs, args.variant, timeout)
        return
    started = time.perf_counter()
    backends = ("mariadb", "sqlite") if args.backend == "all" else (args.backend,)
    ops = args.only.split(",") if args.only else list(OPS)
    variants = [v for v in args.variants.split(",") if v]
    info = machine(size) if "mariadb" in backends else None
    generation = {}
    for name in backends:
        generation[name] = generate.ensure(name, size)
        fresh_tool_tables(name, size)   # as a fresh install of this code: journal empty
    if info is not None:
        info["journal_indexes"] = journal_indexes(size)
    results = []
    names = labels(size)
    plan = [(name, variant) for name in backends
            for variant in (variants if name == "mariadb" else ["shipped"])]
    for name, variant in plan:
        if variant == "old-install":
            drop_row_id_indexes(size)
        try:
            for op in ops:
                begun = time.perf_counter()
                result = run_worker(name, variant, op, runs, args.smoke, timeout)
                results.append(result)
                loop = result.get("loop")
                rows = result["outcome"].get("rows")
                print(f"{VARIANTS[(name, variant)]:45} {names[op]:66} service "
                      f"{service_cell(result):>9}  (a) {ms(result['minimal']):>9}  "
                      f"(b) {ms(loop):>9}  rows {rows if rows is not None else '–':>8}  "
                      f"peak {result['peak_service_mb']:.0f} MB  "
                      f"[{time.perf_counter() - begun:.0f} s]", flush=True)
                if "restored" in result and not (result["restored"]
                                                 and result.get("restored_after_loop", True)):
                    raise SystemExit(f"{name} {op}: the dataset was not restored; regenerate "
                                     f"it (python -m bench.generate --force)")
        finally:
            if variant == "old-install":
                fresh_tool_tables(name, size)
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
        info["commit_end"] = machine(size)["commit"]
        write_docs(report(results, runs, size, info, generation, command, wall, timeout))
        print(f"\nwritten to {DOCS.relative_to(ROOT)}")
    print(f"\ntotal {wall:.0f} s")


if __name__ == "__main__":
    main()
