"""The benchmark of issue #8: autocontact's bulk operations on a large Dolibarr.

For each backend (MariaDB, then SQLite) and each operation, in a fresh
subprocess (so that its peak RSS is its own), this times:

* the service, through the same functions the web screens and the API call
  (``salesreps.parse_request/run``, ``documents.parse_request/run``,
  ``thirdparties.parse_filter/list_page``), journal included: ``--runs`` dry
  runs (every write, journal included, rolled back: what a preview does), then
  ``--runs`` real runs (committed: the operation), each undone with ``undo.undo``
  (timed too) before the next;
* (a) the minimal hand-written SQL making the same change without a journal
  (a few INSERT ... SELECT / DELETE in one transaction), rolled back and, for the
  changes, committed (each committed run reverted by the bench from the service's
  journal, untimed); its row counts are checked against the service's;
* (b) what Dolibarr's own object code sends for the same change (see ``Loop``:
  fetch(), liste_contact(), add_contact()/delete_contact() each in its own
  transaction; the sales-rep mass action in one), call by call, on a sample of
  ``size.sample`` documents (and thirdparties), extrapolated linearly to the
  operation's size; the sample's changes are then reverted.

The dataset is generated first if needed (bench/generate.py; cached). After each
undo, committed (a) run and loop the dataset's fingerprint is checked against the
generated one. ``python -m bench.run`` (the full run, also writes
docs/benchmarks.md), ``python -m bench.run --smoke`` (tiny dataset, one run).
"""
import argparse
import json
import os
import platform
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
LONG = ("transfer", "sync_10k")   # --runs pairs each; the others at least 5
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
        """Read-only, the report a preview shows: per type the documents examined (and
        undated), the contacts to remove and to add and the documents that change, the
        thirdparties without an active rep, and the first page of documents that change
        with their contacts."""
        total = 0
        for element in DOC_TYPES:
            type_id, table, column = type_ids[element], TABLES[element], DATE_COLUMNS[element]
            self.one(f"SELECT SUM(CASE WHEN d.{column} >= '{period[0]}' AND d.{column} <= "
                     f"'{period[1]} 23:59:59' THEN 1 ELSE 0 END), SUM(CASE WHEN d.{column} IS NULL "
                     f"THEN 1 ELSE 0 END) FROM {PREFIX}{table} d WHERE d.entity = {ENTITY} "
                     f"AND d.fk_soc IN {selection}")
            removed, added, _changed = self.one(
                f"SELECT SUM(CASE WHEN c = '-' THEN 1 ELSE 0 END), SUM(CASE WHEN c = '+' THEN 1 "
                f"ELSE 0 END), COUNT(DISTINCT id) FROM (SELECT '-' AS c, ec.element_id AS id "
                f"FROM {PREFIX}{table} d {self.then} {PREFIX}element_contact ec ON ec.element_id "
                f"= d.rowid WHERE {self.removal_where(element, type_id, selection, period)} "
                f"UNION ALL SELECT '+', t.rowid FROM ("
                + self.addition_select(element, type_id, selection, period, "d.rowid, sc.fk_user")
                + ") t) u")
            total += int(removed or 0) + int(added or 0)
        self.one(f"SELECT COUNT(*) FROM {PREFIX}societe s WHERE s.rowid IN {selection} "
                 f"AND NOT {self.active_rep('s.rowid')}")
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
    """(b): what Dolibarr's own object code sends to the database for the same change,
    call by call, without PHP and without triggers (htdocs/core/class/commonobject.class.php,
    htdocs/societe/class/societe.class.php, htdocs/core/actions_massactions.inc.php).

    Document contacts: Dolibarr has no mass action for them; each document is changed on
    its card, one request at a time: fetch() the document, liste_contact() its internal
    contacts, then delete_contact() per contact that goes (its own transaction: BEGIN,
    DELETE, COMMIT) and add_contact(user, code, 'internal') per one that comes (the contact
    type looked up by code, liste_contact() again, BEGIN, INSERT, COMMIT). The thirdparty
    and its sales reps are read once per thirdparty (fetch(), getSalesRepresentatives()).

    Sales reps: the list's mass actions ('affectcommercial', 'unassigncommercial') run in
    one transaction and, per thirdparty, fetch() it and call setSalesRep():
    getSalesRepresentatives(), del_commercial() (DELETE) per rep that goes,
    add_commercial() (DELETE + INSERT) per rep that comes.

    A lower bound of Dolibarr's cost: fetch() is the main row only (the dump subset has no
    line or dictionary tables to join; Dolibarr's fetch() also reads the lines and the
    dictionaries), no trigger runs, no PHP. Records what it changed, to revert it.
    """

    def __init__(self, database):
        self.database = database
        self.inserted_contacts, self.deleted_contacts = [], []
        self.inserted_links, self.deleted_links = [], []
        self.thirdparties = set()

    def execute(self, sql, params=()):
        return run_sql(self.database, sql, params)

    def rows(self, sql, params=()):
        return self.execute(sql, params).fetchall()

    # -- the object methods, one query each as Dolibarr writes it

    def fetch_document(self, element, element_id):
        self.rows(f"SELECT * FROM {PREFIX}{TABLES[element]} WHERE rowid = %s", (element_id,))

    def fetch_thirdparty(self, fk_soc):
        self.rows(f"SELECT * FROM {PREFIX}societe AS s WHERE s.entity IN ({ENTITY}) "
                  f"AND s.rowid = %s", (fk_soc,))

    def sales_representatives(self, fk_soc):
        """Societe::getSalesRepresentatives()."""
        return self.rows(
            f"SELECT u.rowid, u.login, u.lastname, u.firstname, u.office_phone, u.job, u.email, "
            f"u.statut AS status, u.entity, u.photo, u.gender, u.office_fax, u.user_mobile, "
            f"u.personal_mobile FROM {PREFIX}societe_commerciaux AS sc, {PREFIX}user AS u "
            f"WHERE entity IN (0, {ENTITY}) AND u.rowid = sc.fk_user AND sc.fk_soc = %s "
            f"ORDER BY u.lastname ASC, u.firstname ASC", (fk_soc,))

    def thirdparty(self, fk_soc):
        """The thirdparty and its reps, read once per thirdparty."""
        if fk_soc not in self.thirdparties:
            self.thirdparties.add(fk_soc)
            self.fetch_thirdparty(fk_soc)
            self.sales_representatives(fk_soc)

    def liste_contact(self, element, element_id):
        """CommonObject::liste_contact(-1, 'internal')."""
        return self.rows(
            f"SELECT ec.rowid, ec.statut AS statuslink, ec.fk_socpeople AS id, "
            f"ec.fk_c_type_contact, '-1' AS socid, t.statut AS statuscontact, t.login, t.photo, "
            f"t.gender, t.civility AS civility, t.lastname AS lastname, t.firstname, t.email, "
            f"tc.source, tc.element, tc.code, tc.libelle AS type_label "
            f"FROM {PREFIX}c_type_contact tc, {PREFIX}element_contact ec "
            f"LEFT JOIN {PREFIX}user t ON ec.fk_socpeople = t.rowid "
            f"WHERE ec.element_id = %s AND ec.fk_c_type_contact = tc.rowid AND tc.element = %s "
            f"AND tc.source = 'internal' AND tc.active = 1 ORDER BY t.lastname ASC",
            (element_id, element))

    def delete_contact(self, row):
        """CommonObject::delete_contact(rowid): its own transaction."""
        self.execute("BEGIN")
        self.execute(f"DELETE FROM {PREFIX}element_contact WHERE rowid = %s", (row[0],))
        self.execute("COMMIT")
        self.deleted_contacts.append(row)

    def add_contact(self, element, element_id, user, now):
        """CommonObject::add_contact(user, 'SALESREPFOLL', 'internal')."""
        type_id = self.rows(
            f"SELECT tc.rowid FROM {PREFIX}c_type_contact AS tc WHERE tc.element = %s "
            f"AND tc.source = 'internal' AND tc.code = 'SALESREPFOLL' AND tc.active = 1",
            (element,))[0][0]
        self.liste_contact(element, element_id)
        self.execute("BEGIN")
        cursor = self.execute(
            f"INSERT INTO {PREFIX}element_contact (element_id, fk_socpeople, datecreate, statut, "
            f"fk_c_type_contact) VALUES (%s, %s, %s, 4, %s)", (element_id, user, now, type_id))
        self.inserted_contacts.append(cursor.lastrowid)
        self.execute("COMMIT")

    # -- the operations

    def documents(self, changes):
        """changes: [(element, element_id, removed rows, added users, type id, fk_soc)]."""
        now = datetime.now().replace(microsecond=0).isoformat(" ")
        for element, element_id, removed, added, _type_id, fk_soc in changes:
            self.thirdparty(fk_soc)
            self.fetch_document(element, element_id)
            self.liste_contact(element, element_id)
            for row in removed:
                self.delete_contact(row)
            for user in added:
                self.add_contact(element, element_id, user, now)

    def links(self, changes):
        """changes: [(fk_soc, removed rows, added users)]: one mass action, one transaction."""
        self.execute("BEGIN")
        for fk_soc, removed, added in changes:
            self.fetch_thirdparty(fk_soc)
            self.sales_representatives(fk_soc)             # setSalesRep()
            for row in removed:                            # del_commercial()
                self.execute(f"DELETE FROM {PREFIX}societe_commerciaux WHERE fk_soc = %s "
                             f"AND fk_user = %s", (fk_soc, row[2]))
                self.deleted_links.append(row)
            for user in added:                             # add_commercial()
                self.execute(f"DELETE FROM {PREFIX}societe_commerciaux WHERE fk_soc = %s "
                             f"AND fk_user = %s", (fk_soc, user))
                cursor = self.execute(f"INSERT INTO {PREFIX}societe_commerciaux (fk_soc, fk_user) "
                                      f"VALUES (%s, %s)", (fk_soc, user))
                self.inserted_links.append(cursor.lastrowid)
        self.execute("COMMIT")

    def preview(self, documents, fk_soc):
        """Read-only: the thirdparty's reps, then per document fetch() and liste_contact()."""
        self.thirdparty(fk_soc)
        for element, element_id in documents:
            self.fetch_document(element, element_id)
            self.liste_contact(element, element_id)

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
    for element, element_id, change, ec_rowid, type_id, person, statut, created, fk_soc in run_sql(
            database,
            f"SELECT b.element, b.element_id, b.change, b.ec_rowid, b.fk_c_type_contact, "
            f"b.fk_socpeople, b.statut, b.datecreate, b.fk_soc FROM {contacts} b JOIN (SELECT DISTINCT "
            f"element, element_id FROM {contacts} WHERE batch_id = %s ORDER BY element, element_id "
            f"LIMIT {int(sample)}) s ON s.element = b.element AND s.element_id = b.element_id "
            f"WHERE b.batch_id = %s ORDER BY b.element, b.element_id, b.id",
            (batch_id, batch_id)).fetchall():
        entry = documents.setdefault((element, element_id),
                                     [element, element_id, [], [], type_id, fk_soc])
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


def worker(backend_name, op, size, runs, timeout=None):
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
    mariadb = backend_name == "mariadb"
    result = {"backend": backend_name, "op": op, "runs": runs, "load": os.getloadavg()[0]}

    with app.app_context(), database.connection_context():
        if mariadb and timeout:
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

        def restored():
            return generate.fingerprint(
                lambda q, a=None: run_sql(database, q, a).fetchall()) == expected_fingerprint

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

        def attempt(function, key):
            """Run ``function`` under the statement log, timed: (seconds, its value), or
            (None, None) with result[key] describing the abort by max_statement_time."""
            started = time.perf_counter()
            try:
                value = log.run(function)
            except Exception as error:
                if not is_timeout(error):
                    raise
                slow = log.events[-1] if log.events else ("?", None, 0.0)
                result[key] = {
                    "seconds": time.perf_counter() - started, "limit": timeout,
                    "position": len(log.events), "sql": normalise(slow[0])[:1500],
                    "statement_seconds": slow[2],
                    "before": sum(e[2] for e in log.events[:-1])}
                return None, None
            elapsed = time.perf_counter() - started
            if isinstance(value, dict) and "_own" in value:
                elapsed = value.pop("_own")
            return elapsed, value

        # -- (a) the minimal SQL (rolled back, or committed for the changes)
        def minimal(commit):
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
                    page = 1 if op == "list_first" else (result["outcome"] or {}).get("page", 1)
                    rows = sql.list_page(scenario.a, page)
                if not commit:
                    transaction.rollback()
            sql.drop_selection()
            return rows

        writes = op in WRITES
        # The quick operations get more pairs: their medians would otherwise move with
        # every burst of load from the machine's other users.
        runs_here = runs if op in LONG else max(runs, 5)
        # Each measure of the service is paired with one of (a) taken right after it, so
        # that both see the same load when the machine is shared.

        # -- 1. dry runs (for documents: the preview; for sales reps: every write, journal
        #       included, rolled back) and (a) rolled back / read-only
        reset_peak()
        result["rss_start_mb"] = proc_status("VmRSS")
        dry_times, dry_profiles, rolled_back, minimal_rows = [], [], [], None
        for _ in range(runs_here):
            if "timeout" not in result:
                elapsed, value = attempt(lambda: service(dry_run=True), "timeout")
                dry_profiles.append(list(log.events))
                if elapsed is not None:
                    dry_times.append(elapsed)
                    result["outcome"] = value
            elapsed, minimal_rows = timed(lambda: minimal(commit=False))
            rolled_back.append(elapsed)
        result["dry_times"] = dry_times
        result["dry"] = statistics.median(dry_times) if dry_times else None
        result.setdefault("outcome", None)
        result["minimal_rollback_times"] = rolled_back
        result["minimal_rollback"] = statistics.median(rolled_back)
        result["minimal_rows"] = minimal_rows
        result["minimal"] = result["minimal_rollback"]
        peak = proc_status("VmHWM")
        profiles = dry_profiles

        # -- 2. real runs (the operation), each undone by undo.undo, each followed by (a)
        #       committed and reverted by the bench (untimed) from the real run's journal
        batch_id, undo_peak = None, None
        if writes and "timeout" not in result:
            set_state("dirty")
            real_times, undo_times, real_profiles, committed = [], [], [], []
            result["restored"] = True
            for _ in range(runs_here):
                reset_peak()
                elapsed, real = attempt(lambda: service(dry_run=False), "timeout")
                peak = max(peak, proc_status("VmHWM"))
                if elapsed is None:
                    break
                real_times.append(elapsed)
                real_profiles.append(list(log.events))
                batch_id = real["batch_id"]
                result["real_outcome"] = real
                reset_peak()
                undone_in, undone = attempt(
                    lambda done=batch_id: undo.undo(actor, done, ENTITY, schema), "undo_timeout")
                undo_peak = max(undo_peak or 0, proc_status("VmHWM"))
                if undone_in is None:   # rolled back: the bench puts the dataset back itself
                    repair(database, batch_id, mariadb)
                    result["undo_rows"] = real["rows"]
                    result["restored"] = restored()
                    break
                undo_times.append(undone_in)
                result["undo_rows"] = undone.rows_restored
                result["undo_conflicts"] = undone.conflict_count
                if not restored():
                    result["restored"] = False
                    break
                if minimal_rows == real["rows"]:   # the same change: its journal reverts it
                    elapsed, _rows = timed(lambda: minimal(commit=True))
                    committed.append(elapsed)
                    revert_minimal(database, batch_id, mariadb)
                    result["restored_after_minimal"] = restored()
                    if not result["restored_after_minimal"]:
                        break
            result["real_times"], result["undo_times"] = real_times, undo_times
            result["service"] = statistics.median(real_times) if real_times else None
            result["undo"] = statistics.median(undo_times) if undo_times else None
            if committed:
                result["minimal_commit_times"] = committed
                result["minimal"] = statistics.median(committed)
            if real_profiles:
                profiles = real_profiles
            if result["restored"] and result.get("restored_after_minimal", True):
                set_state("clean")
        else:
            result["service"] = result["dry"]
        if result["outcome"] is None:   # aborted: the list's last page is unknown
            result["outcome"] = {"rows": None, "page": 1}
        result["peak_service_mb"] = peak
        result["peak_undo_mb"] = undo_peak
        result["statements"] = len(profiles[-1]) if profiles else 0
        result["top_statements"] = top_statements(profiles) if result["service"] else []

        # -- 3. (b) the per-row loop, Dolibarr's way, on a sample, extrapolated
        loop = Loop(database)
        sample = size.sample
        if writes and batch_id is not None:
            set_state("dirty")
            doc_sample, total_docs, link_sample, total_links = change_sets(
                database, batch_id, sample)
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
            result["restored_after_loop"] = restored()
            if result["restored_after_loop"] and result.get("restored") \
                    and result.get("restored_after_minimal", True):
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
        if mariadb and profiles:
            result["explain"] = explain(database, profiles[-1])
    result["load_end"] = os.getloadavg()[0]
    print(RESULT_TAG + json.dumps(result, default=str), flush=True)


def _journal_join_delete(database, mariadb, table, journal, on, where, params):
    """DELETE the rows of ``table`` (alias x) that join the journal rows (alias b)."""
    if mariadb:
        run_sql(database, f"DELETE x FROM {journal} b JOIN {PREFIX}{table} x ON {on} "
                          f"WHERE {where}", params)
    else:
        run_sql(database, f"DELETE FROM {PREFIX}{table} WHERE rowid IN (SELECT x.rowid FROM "
                          f"{journal} b JOIN {PREFIX}{table} x ON {on} WHERE {where})", params)


def _put_back_removed(database, batch_id):
    """Insert again, with their row ids, the rows the batch's journal says it removed."""
    journal_contacts, journal_links = (f"{PREFIX}autocontact_batch_contact",
                                       f"{PREFIX}autocontact_batch_salesrep")
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


def revert_minimal(database, batch_id, mariadb):
    """Undo a committed (a) run, which made the same change as the service's batch
    ``batch_id``: its added rows found by their unique keys (their row ids differ), the
    removed ones put back from the journal. The bench's clean-up, untimed."""
    journal_contacts, journal_links = (f"{PREFIX}autocontact_batch_contact",
                                       f"{PREFIX}autocontact_batch_salesrep")
    with database.atomic():
        _journal_join_delete(
            database, mariadb, "element_contact", journal_contacts,
            "x.element_id = b.element_id AND x.fk_c_type_contact = b.fk_c_type_contact "
            "AND x.fk_socpeople = b.fk_socpeople", "b.batch_id = %s AND b.change = '+'",
            (batch_id,))
        _journal_join_delete(
            database, mariadb, "societe_commerciaux", journal_links,
            "x.fk_soc = b.fk_soc AND x.fk_user = b.fk_user", "b.batch_id = %s AND b.change = '+'",
            (batch_id,))
        _put_back_removed(database, batch_id)


def repair(database, batch_id, mariadb):
    """Revert a batch from its journal (when undo.undo was aborted by max_statement_time):
    the bench's own clean-up, not the tool's undo."""
    journal_contacts, journal_links = (f"{PREFIX}autocontact_batch_contact",
                                       f"{PREFIX}autocontact_batch_salesrep")
    with database.atomic():
        _journal_join_delete(database, mariadb, "element_contact", journal_contacts,
                             "x.rowid = b.ec_rowid", "b.batch_id = %s AND b.change = '+'",
                             (batch_id,))
        _journal_join_delete(database, mariadb, "societe_commerciaux", journal_links,
                             "x.rowid = b.link_rowid", "b.batch_id = %s AND b.change = '+'",
                             (batch_id,))
        _put_back_removed(database, batch_id)
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
    """EXPLAIN of the slowest data statements of the last run (plans only)."""
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


BACKENDS = {"mariadb": "MariaDB", "sqlite": "SQLite"}
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


def older_install(size):
    """MariaDB: make the journal tables those of an older install (without the row-id
    indexes, which made MariaDB's journal-driven statements quadratic), then start the
    tool as an upgrade does (connection.prepare). Returns (dropped, present again)."""
    from autocontact.dolibarr.connection import prepare
    db = generate.MariaBackend(size)
    dropped = []
    try:
        for table, name, columns in journal_indexes(size):
            if set(columns) & set(ROW_ID_COLUMNS):
                db.execute(f"DROP INDEX {name} ON {table}")
                dropped.append((table, name, columns))
    finally:
        db.close()
    prepare(generate.backend("mariadb", size).url, PREFIX)
    present = {(table, name) for table, name, _columns in journal_indexes(size)}
    return dropped, [(table, name) in present for table, name, _columns in dropped]


def backend_name(result):
    return BACKENDS[result["backend"]]


def aborted(result):
    return "timeout" in result


def service_cell(result):
    if aborted(result):
        return f"> {ms(result['timeout']['seconds'])} (aborted‡)"
    return ms(result["service"])


def over_minimal(result):
    """(service ÷ (a), bound): a lower bound when the service was aborted."""
    if not result["minimal"]:
        return None, ""
    if aborted(result):
        return result["timeout"]["seconds"] / result["minimal"], "> "
    return result["service"] / result["minimal"], ""


def dry_over_rolled_back(result):
    """A sales-rep dry run (the change rolled back) against (a) rolled back; the document
    operations' dry run is their read-only preview (see the preview row)."""
    if result["op"] not in ("assign", "transfer") or not result.get("dry") \
            or not result.get("minimal_rollback"):
        return None
    return result["dry"] / result["minimal_rollback"]


def speedup(result):
    loop = result.get("loop")
    if not loop:
        return None, ""
    if aborted(result):
        return loop / result["timeout"]["seconds"], "< "
    return loop / result["service"], ""


def evaluate(result):
    """The targets of issue #8 for one MariaDB result: [(target, value, met)]."""
    checks = []
    op, stopped = result["op"], aborted(result)
    if op.startswith("list"):
        checks.append(("list page ≤ 50 ms", service_cell(result),
                       not stopped and result["service"] <= 0.050))
    else:
        over, bound = over_minimal(result)
        checks.append(("≤ 2× (a)", ratio(over, bound), not stopped and over <= 2))
        fast, bound = speedup(result)
        if fast is not None:
            checks.append(("≥ 20× faster than (b)", ratio(fast, bound),
                           not stopped and fast >= 20))
    if op == "sync_10k":
        peak = result["peak_service_mb"]
        checks.append(("peak RSS ≤ 300 MB", f"{peak:.0f} MB" + (" (until aborted)" if stopped
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


def minimal_cell(result):
    if result["op"] in WRITES and "minimal_commit_times" not in result:
        return f"{ms(result['minimal'])} (rolled back)"
    return ms(result["minimal"])


def table(results, runs, size):
    names = labels(size)
    lines = [
        "| backend | operation | rows changed | service (median) | (a) minimal SQL "
        "| service ÷ (a) | (b) Dolibarr's per-row calls, extrapolated | (b) ÷ service "
        "| dry run (median) | (a) rolled back | dry run ÷ (a) rolled back "
        "| peak RSS |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        over, over_bound = over_minimal(result)
        fast, fast_bound = speedup(result)
        writes = result["op"] in WRITES
        lines.append(
            f"| {backend_name(result)} | {names[result['op']]} | {rows_cell(result)} "
            f"| {service_cell(result)} | {minimal_cell(result)} | {ratio(over, over_bound)} "
            f"| {ms(result.get('loop'))} | {ratio(fast, fast_bound)} "
            f"| {ms(result.get('dry')) if writes else '–'} "
            f"| {ms(result.get('minimal_rollback')) if dry_over_rolled_back(result) else '–'} "
            f"| {ratio(dry_over_rolled_back(result))} "
            f"| {result['peak_service_mb']:.0f} MB |")
    return "\n".join(lines)


def undo_table(results, size):
    names = labels(size)
    lines = ["| backend | undo of the real runs of | rows restored | time (median) | peak RSS "
             "| dataset restored |", "|---|---|---|---|---|---|"]
    for result in results:
        if result.get("undo") is None and "undo_timeout" not in result:
            continue
        checks = [result.get(key, True) for key in
                  ("restored", "restored_after_minimal", "restored_after_loop")]
        if "undo_timeout" in result:
            when = f"> {ms(result['undo_timeout']['seconds'])} (aborted‡)"
            restored_text = "yes, by the bench from the journal" if all(checks) else "**NO**"
        else:
            when = ms(result["undo"])
            restored_text = "yes" if all(checks) else "**NO**"
        lines.append(f"| {backend_name(result)} | {names[result['op']]} "
                     f"| {result['undo_rows']:,} | {when} "
                     f"| {result['peak_undo_mb'] or 0:.0f} MB | {restored_text} |")
    return "\n".join(lines)


def targets_table(results, size):
    names = labels(size)
    lines = ["| backend | operation | target | measured | met |", "|---|---|---|---|---|"]
    for result in results:
        if result["backend"] != "mariadb":
            continue
        for target, value, met in evaluate(result):
            lines.append(f"| {backend_name(result)} | {names[result['op']]} | {target} | {value} "
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
        head = f"**{backend_name(result)} — {names[result['op']]}**"
        if aborted(result):
            info = result["timeout"]
            out.append(f"{head}: aborted by max_statement_time = {info['limit']:.0f} s at "
                       f"statement #{info['position']} (the statements before it took "
                       f"{ms(info['before'])}):\n")
            out.append(f"- `{short_sql(info['sql'])}`")
        else:
            kind = "real run" if result["op"] in WRITES else "run"
            out.append(f"{head} — {result['statements']} statements per {kind}; slowest "
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


def loop_ratio_section(results):
    """How far set-based SQL itself is from Dolibarr's per-row calls here: (b) ÷ (a)."""
    lines = []
    for result in results:
        if result["backend"] == "mariadb" and result.get("loop") and result.get("minimal"):
            lines.append((result["op"], result["loop"] / result["minimal"]))
    return lines


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
    changed = (f" **The code changed during the run: HEAD was {info['commit']} at the start and "
               f"{info['commit_end']} at the end.**" if info.get("commit_end") not in
               (None, info["commit"]) else "")
    dropped, back = info.get("older_install", ([], []))
    migration = ("; ".join(f"{name} ({', '.join(columns)}) on {table}"
                           for table, name, columns in dropped) or "none")
    migrated = ("all present again" if back and all(back) else
                "**NOT all present again**" if back else "nothing to check")
    names = labels(size)
    bound = ", ".join(f"{names[op]}: {value:.1f}×" for op, value in loop_ratio_section(results))
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
        f"~1 means other work shared the machine; every ratio compares measures of the same "
        f"process, taken minutes apart at most).",
        "",
        "Dataset generation:",
        *gen_lines,
        "",
        f"MariaDB's journal tables were first made those of an older install (row-id indexes "
        f"dropped: {migration}), then the tool was started as after an upgrade "
        f"(`connection.prepare`): {migrated}; every operation below ran on the migrated "
        f"tables.",
        "",
        table(results, runs, size),
        "",
        f"*Service*: for the four changes, the median of real runs (committed), each undone by "
        f"`undo.undo` before the next; for the preview and the list, the median of runs; "
        f"{runs} runs for the transfer and the 10,000-thirdparty sync, {max(runs, 5)} for the "
        f"others (medians of the dry runs and of (a) likewise). "
        "*(a)*: for the changes, the minimal statements committed (median; the bench reverts "
        "each from the service's journal, untimed), for the preview and the list the read-only "
        "statements. Each service run is followed by one of (a), so both see the same load. "
        "*Dry run*: `dry_run=True`; for the sales-rep changes it makes every write, journal "
        "included, and rolls back (their preview), compared with (a) rolled back; for the "
        "document updates it is the read-only preview (its own row for the one thirdparty).",
        f"‡ every MariaDB statement runs under max_statement_time = {timeout:.0f} s so that the "
        f"run ends; an aborted operation shows its time until the abort (a lower bound).",
        "",
        f"(b) ÷ (a), the bound on \"(b) ÷ service\" (the service can at best match the minimal "
        f"SQL): {bound or '–'}.",
        "",
        "Undo of the real runs (undo.undo), and the dataset check after them, after the "
        "committed (a) runs and after the loop:",
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


def run_worker(name, op, runs, smoke, timeout):
    command = [sys.executable, "-m", "bench.run", "--worker", name, op, "--runs", str(runs),
               "--statement-timeout", str(timeout)]
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
    parser.add_argument("--statement-timeout", type=float,
                        help="MariaDB max_statement_time in seconds (default 60; smoke 10)")
    parser.add_argument("--no-docs", action="store_true", help="do not rewrite docs/benchmarks.md")
    parser.add_argument("--json", help="also write the raw results to this file")
    parser.add_argument("--worker", nargs=2, metavar=("BACKEND", "OP"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    size = SIZES["smoke" if args.smoke else "full"]
    runs = args.runs or (1 if args.smoke else 3)
    timeout = args.statement_timeout or (10.0 if args.smoke else 60.0)
    if args.worker:
        worker(args.worker[0], args.worker[1], size, runs, timeout)
        return
    started = time.perf_counter()
    backends = ("mariadb", "sqlite") if args.backend == "all" else (args.backend,)
    ops = args.only.split(",") if args.only else list(OPS)
    generation = {}
    for name in backends:
        generation[name] = generate.ensure(name, size)
        fresh_tool_tables(name, size)   # as a fresh install of this code: journal empty
    info = machine(size) if "mariadb" in backends else None
    if info is not None:
        info["older_install"] = older_install(size)
        dropped, back = info["older_install"]
        print(f"mariadb: older install simulated ({len(dropped)} row-id indexes dropped), "
              f"restored by the tool's start: {all(back) if back else '–'}")
    results = []
    names = labels(size)
    for name in backends:
        for op in ops:
            begun = time.perf_counter()
            result = run_worker(name, op, runs, args.smoke, timeout)
            results.append(result)
            rows = result["outcome"].get("rows")
            print(f"{BACKENDS[name]:8} {names[op]:66} service {service_cell(result):>9}  "
                  f"(a) {ms(result['minimal']):>9}  (b) {ms(result.get('loop')):>9}  "
                  f"dry {ms(result.get('dry')):>9}  rows {rows if rows is not None else '–':>8}  "
                  f"peak {result['peak_service_mb']:.0f} MB  "
                  f"[{time.perf_counter() - begun:.0f} s]", flush=True)
            if not all(result.get(key, True) for key in
                       ("restored", "restored_after_minimal", "restored_after_loop")):
                raise SystemExit(f"{name} {op}: the dataset was not restored; regenerate "
                                 f"it (python -m bench.generate --force)")
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
