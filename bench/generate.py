"""Build the benchmark's Dolibarr-shaped dataset (issue #8), on MariaDB and on SQLite.

MariaDB: database ``autocontact_bench`` is loaded from Dolibarr 23's real dump
(../shared/dolibarr/dolibarr-23.0.0-subset.sql, keys and foreign keys included,
as tests/conftest.py loads it); the dump's demo rows stay, the generated rows are
added beside them with row ids from 1001. SQLite: ``bench/cache/bench.sqlite``,
tables from autocontact.dolibarr.ddl.create_dolibarr_tables (the same schema
converted), plus Dolibarr's contact-type dictionary and an admin user.

Everything is set-based: one INSERT ... SELECT per table over MariaDB's Sequence
engine (seq_1_to_N) or an SQLite recursive CTE, with the same integer arithmetic
on both backends, so the two datasets are identical row for row.

The full dataset (see SIZES): 50,000 thirdparties of entity 1, 300 internal users
(every tenth disabled), 1,000,000 documents (250,000 each of propal, commande,
facture, commande_fournisseur) dated over 2021-2025, one SALESREPFOLL follow-up
contact per document (statut 4; a quarter of them follow someone who is not the
thirdparty's rep), and 60,000 sales-rep links (one per thirdparty, a second one on
every fifth). Thirdparties 1..10,000 ("big") have 50 documents each; thirdparty
10,001 has 5,000; the others about 12. User 1 (rep "A") represents every
twentieth thirdparty (2,500).

A marker table ``bench_dataset`` records the parameters and a fingerprint; when
they match, generation is skipped (the cache). ``python -m bench.generate [--smoke]
[--force] [--backend mariadb|sqlite]``.
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / "cache"
SHARED = Path(os.environ.get("AUTOCONTACT_SHARED", ROOT.parent / "shared")) / "dolibarr"
DUMP_23 = SHARED / "dolibarr-23.0.0-subset.sql"
MYSQL_URL = os.environ.get("AUTOCONTACT_BENCH_MYSQL_URL",
                           os.environ.get("AUTOCONTACT_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306"))
GENERATOR_VERSION = 3
PREFIX = "llx_"
# Generated rows get ids base + n; Dolibarr's demo rows in the dump all lie below.
SOC_BASE = USER_BASE = DOC_BASE = 1000
FIRST_DAY = "2021-01-01"
DAYS = 1826                       # 2021-01-01 .. 2025-12-31
DOC_TABLES = (                    # (element, table, date column, creation column, statuses, ref prefix)
    ("propal", "propal", "datep", "datec", 5, "PR"),
    ("commande", "commande", "date_commande", "date_creation", 5, "CO"),
    ("facture", "facture", "datef", "datec", 4, "FA"),
    ("order_supplier", "commande_fournisseur", "date_commande", "date_creation", 10, "CF"),
)
STATUS_OFFSET = {"commande": -1}  # commande statuses run -1..3


@dataclass(frozen=True)
class Size:
    name: str
    thirdparties: int
    users: int
    groups: int            # documents per type (one "group" = one document of each type)
    special_groups: int    # groups of the single large thirdparty (x4 documents)
    big_thirdparties: int  # thirdparties 1..big get big_groups between them
    big_groups: int
    sample: int            # documents (or links) of the per-row loop (b)

    @property
    def documents(self):
        return 4 * self.groups

    @property
    def special_thirdparty(self):
        return self.big_thirdparties + 1

    @property
    def links(self):
        return self.thirdparties + self.thirdparties // 5

    def database(self):
        return "autocontact_bench" if self.name == "full" else f"autocontact_bench_{self.name}"

    def sqlite_path(self):
        return CACHE / ("bench.sqlite" if self.name == "full" else f"bench-{self.name}.sqlite")


SIZES = {
    "full": Size("full", thirdparties=50_000, users=300, groups=250_000, special_groups=1_250,
                 big_thirdparties=10_000, big_groups=125_000, sample=2_000),
    "smoke": Size("smoke", thirdparties=200, users=20, groups=1_000, special_groups=25,
                  big_thirdparties=40, big_groups=500, sample=50),
}

# The people of the scenarios, as generated user numbers (row id = USER_BASE + n).
REP_A, REP_B, REP_C, REP_D = 1, 2, 3, 4


def soc_id(t):
    return SOC_BASE + t


def user_id(u):
    return USER_BASE + u


# --- the arithmetic, shared by both dialects -----------------------------------

class Dialect:
    name = "?"

    def idiv(self, a, b):
        raise NotImplementedError

    def hash(self, x):
        """Knuth's multiplicative hash of an integer expression, 32 bits."""
        return f"((({x}) * 2654435761) % 4294967296)"

    def bits(self, x, shift, modulo):
        return f"({self.idiv(self.hash(x), 2 ** shift)} % {modulo})"

    def pad(self, x, width):
        raise NotImplementedError

    def concat(self, *parts):
        raise NotImplementedError

    def day(self, offset):
        raise NotImplementedError

    def moment(self, offset, hour):
        raise NotImplementedError

    def word(self, words, index):
        """The index-th word of a list (SUBSTR of a fixed-width string: both dialects)."""
        width = max(map(len, words)) + 1
        packed = "".join(w.ljust(width) for w in words)
        return f"TRIM(SUBSTR('{packed}', 1 + {width} * ({index}), {width}))"

    def insert_from_seq(self, table, columns, exprs, count, where=None):
        raise NotImplementedError


class MariaDialect(Dialect):
    name = "mariadb"

    def idiv(self, a, b):
        return f"(({a}) DIV ({b}))"

    def pad(self, x, width):
        return f"LPAD({x}, {width}, '0')"

    def concat(self, *parts):
        return "CONCAT(" + ", ".join(parts) + ")"

    def day(self, offset):
        return f"DATE_ADD(DATE '{FIRST_DAY}', INTERVAL ({offset}) DAY)"

    def moment(self, offset, hour):
        return f"TIMESTAMPADD(HOUR, {hour}, TIMESTAMP(DATE_ADD(DATE '{FIRST_DAY}', INTERVAL ({offset}) DAY)))"

    def insert_from_seq(self, table, columns, exprs, count, where=None):
        return (f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)} "
                f"FROM (SELECT CAST(seq AS SIGNED) AS seq FROM seq_1_to_{count}) s"
                + (f" WHERE {where}" if where else ""))


class SqliteDialect(Dialect):
    name = "sqlite"

    def idiv(self, a, b):
        return f"(({a}) / ({b}))"

    def pad(self, x, width):
        return f"SUBSTR('{'0' * width}' || ({x}), -{width})"

    def concat(self, *parts):
        return "(" + " || ".join(parts) + ")"

    def day(self, offset):
        return f"DATE('{FIRST_DAY}', '+' || ({offset}) || ' days')"

    def moment(self, offset, hour):
        return f"DATETIME('{FIRST_DAY}', '+' || ({offset}) || ' days', '+{hour} hours')"

    def insert_from_seq(self, table, columns, exprs, count, where=None):
        return (f"WITH RECURSIVE s(seq) AS (SELECT 1 UNION ALL SELECT seq + 1 FROM s "
                f"WHERE seq < {count}) "
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(exprs)} FROM s"
                + (f" WHERE {where}" if where else ""))


FIRSTNAMES = ["Marco", "Giulia", "Andrea", "Chiara", "Luca", "Sara", "Paolo", "Elena",
              "Matteo", "Anna", "Davide", "Laura", "Stefano", "Marta", "Fabio", "Silvia"]
LASTNAMES = ["Rossi", "Bianchi", "Colombo", "Ferrari", "Esposito", "Romano", "Gallo", "Conti",
             "Greco", "Bruno", "Marino", "Ricci", "Lombardi", "Moretti", "Barbieri", "Fontana",
             "Costa", "Giordano", "Rinaldi", "Mancini"]
WORDS = ["Alpi", "Borgo", "Colle", "Dolomiti", "Etna", "Fiume", "Garda", "Isola", "Lago",
         "Monte", "Navigli", "Olmo", "Pineta", "Quercia", "Riva", "Sole", "Torre", "Valle"]
TRADES = ["Arredi", "Mobili", "Legnami", "Forniture", "Design", "Interni", "Casa", "Ufficio"]
FORMS = ["S.r.l.", "S.p.A.", "S.n.c.", "S.a.s.", "GmbH", "SA"]
TOWNS = ["Milano", "Torino", "Bergamo", "Brescia", "Verona", "Bolzano", "Trento", "Como",
         "Padova", "Udine", "Bologna", "Lugano"]


def rep_expr(t, users):
    """The primary sales rep (user number) of thirdparty t: A on every twentieth."""
    return f"(CASE WHEN ({t}) % 20 = 0 THEN {REP_A} ELSE 2 + (({t}) * 7) % {users - 1} END)"


def second_rep_expr(t, users):
    """The second rep of every fifth thirdparty (t % 5 = 1): never equal to the first."""
    return f"(2 + ((({t}) * 7) % {users - 1} + 1 + ({t}) % {users - 2}) % {users - 1})"


def thirdparty_of_group(m, size):
    s, bg, bt = size.special_groups, size.big_groups, size.big_thirdparties
    small = size.thirdparties - bt - 1
    return (f"(CASE WHEN {m} < {s} THEN {size.special_thirdparty} "
            f"WHEN {m} < {s + bg} THEN 1 + ({m} - {s}) % {bt} "
            f"ELSE {bt + 2} + ({m} - {s + bg}) % {small} END)")


def statements(d, size, type_ids):
    """(label, SQL) of the whole generation, in order."""
    u_count, tp_count = size.users, size.thirdparties
    out = []
    # users: internal (fk_soc NULL), entity 1, every tenth disabled
    u = "s.seq"
    out.append(("users", d.insert_from_seq(
        f"{PREFIX}user",
        ["rowid", "entity", "login", "lastname", "firstname", "email", "admin", "statut",
         "employee", "datec"],
        [f"{USER_BASE} + {u}", "1", d.concat("'bench.u'", d.pad(u, 3)),
         d.word(LASTNAMES, f"{u} % {len(LASTNAMES)}"),
         d.word(FIRSTNAMES, f"({u} * 7) % {len(FIRSTNAMES)}"),
         d.concat("'bench.u'", d.pad(u, 3), "'@example.com'"), "0",
         f"CASE WHEN {u} % 10 = 0 THEN 0 ELSE 1 END", "1", d.moment(f"{u} % 700", 8)],
        u_count)))
    # thirdparties: 70% customers, 10% both, 10% prospects, 10% suppliers only; 5% closed
    t = "s.seq"
    kind = d.bits(t, 8, 20)
    client = f"(CASE WHEN {kind} < 14 THEN 1 WHEN {kind} < 16 THEN 3 WHEN {kind} < 18 THEN 2 ELSE 0 END)"
    out.append(("thirdparties", d.insert_from_seq(
        f"{PREFIX}societe",
        ["rowid", "entity", "nom", "name_alias", "code_client", "code_fournisseur", "client",
         "fournisseur", "status", "town", "zip", "email", "datec"],
        [f"{SOC_BASE} + {t}", "1",
         d.concat(d.word(WORDS, d.bits(t, 4, len(WORDS))), "' '",
                  d.word(TRADES, d.bits(t, 12, len(TRADES))), "' '", d.pad(t, 5), "' '",
                  d.word(FORMS, f"{t} % {len(FORMS)}")),
         "NULL",
         f"CASE WHEN {client} > 0 THEN {d.concat(chr(39) + 'CU' + chr(39), d.pad(t, 6))} END",
         f"CASE WHEN {kind} >= 16 THEN {d.concat(chr(39) + 'SU' + chr(39), d.pad(t, 6))} END",
         client, f"CASE WHEN {kind} >= 16 THEN 1 ELSE 0 END",
         f"CASE WHEN {d.bits(t, 16, 20)} = 0 THEN 0 ELSE 1 END",
         d.word(TOWNS, d.bits(t, 20, len(TOWNS))), d.pad(f"10000 + {t} % 89999", 5),
         d.concat("'info'", d.pad(t, 5), "'@bench.example'"),
         d.moment(f"{t} % 1800", 10)],
        tp_count)))
    # sales-rep links: one per thirdparty, a second on every fifth (unique fk_soc, fk_user)
    out.append(("links (primary)", d.insert_from_seq(
        f"{PREFIX}societe_commerciaux", ["fk_soc", "fk_user"],
        [f"{SOC_BASE} + {t}", f"{USER_BASE} + {rep_expr(t, u_count)}"], tp_count)))
    out.append(("links (second)", d.insert_from_seq(
        f"{PREFIX}societe_commerciaux", ["fk_soc", "fk_user"],
        [f"{SOC_BASE} + {t}", f"{USER_BASE} + {second_rep_expr(t, u_count)}"], tp_count,
        where=f"{t} % 5 = 1")))
    # documents: group m = seq - 1 -> one document of each type, of thirdparty(m)
    i, m = "s.seq", "(s.seq - 1)"
    for k, (element, table, date_col, created_col, statuses, ref) in enumerate(DOC_TABLES):
        tp = thirdparty_of_group(m, size)
        x = f"({i} * 4 + {k})"
        day = d.bits(x, 12, DAYS)
        status = f"({d.bits(x + ' + 7', 16, statuses)} + {STATUS_OFFSET.get(element, 0)})"
        amount = f"(100 + {d.bits(x, 3, 50000)} / 10.0)"
        columns = ["rowid", "ref", "entity", "fk_soc", created_col, date_col, "fk_statut",
                   "fk_user_author", "total_ht", "total_tva", "total_ttc"]
        exprs = [f"{DOC_BASE} + {i}", d.concat(f"'{ref}B'", d.pad(i, 7)), "1",
                 f"{SOC_BASE} + {tp}", d.moment(day, 9), d.day(day), status,
                 f"{USER_BASE} + {rep_expr(tp, u_count)}", amount, f"{amount} * 0.22",
                 f"{amount} * 1.22"]
        if element == "facture":
            columns += ["type", "paye", "date_lim_reglement"]
            exprs += ["0", f"CASE WHEN {status} = 2 THEN 1 ELSE 0 END", d.day(f"{day} + 30")]
        if element == "order_supplier":
            columns += ["source", "billed"]
            exprs += ["0", f"CASE WHEN {status} = 5 THEN 1 ELSE 0 END"]
        out.append((f"{table}", d.insert_from_seq(f"{PREFIX}{table}", columns, exprs,
                                                 size.groups)))
    # follow-up contacts: one per document, statut 4; a quarter "stale" (someone else)
    for k, (element, table, _date_col, created_col, _statuses, _ref) in enumerate(DOC_TABLES):
        t_doc = f"(doc.fk_soc - {SOC_BASE})"
        i_doc = f"(doc.rowid - {DOC_BASE})"
        first = rep_expr(t_doc, u_count)
        stale = f"{d.bits(f'({i_doc} * 4 + {k} + 13)', 20, 4)} = 0"
        follower = (f"(CASE WHEN {stale} THEN ({first} + 1 + {t_doc} % 7) % {u_count} + 1 "
                    f"ELSE {first} END)")
        out.append((f"element_contact {element}", (
            f"INSERT INTO {PREFIX}element_contact "
            f"(datecreate, statut, element_id, fk_c_type_contact, fk_socpeople) "
            f"SELECT doc.{created_col}, 4, doc.rowid, {type_ids[element]}, {USER_BASE} + {follower} "
            f"FROM {PREFIX}{table} doc WHERE doc.rowid > {DOC_BASE} ORDER BY doc.rowid")))
    return out


# --- the marker, fingerprint and cache -----------------------------------------

def params(size):
    return {"version": GENERATOR_VERSION, **asdict(size)}


def fingerprint(execute):
    """Counts and sums of the rows a benchmark run changes (and must restore)."""
    ec = execute(f"SELECT COUNT(*), COALESCE(SUM(rowid), 0), COALESCE(SUM(element_id), 0), "
                 f"COALESCE(SUM(fk_socpeople), 0) FROM {PREFIX}element_contact")[0]
    sc = execute(f"SELECT COUNT(*), COALESCE(SUM(rowid), 0), COALESCE(SUM(fk_soc), 0), "
                 f"COALESCE(SUM(fk_user), 0) FROM {PREFIX}societe_commerciaux")[0]
    return {"element_contact": [int(v) for v in ec], "societe_commerciaux": [int(v) for v in sc]}


def expected_counts(size):
    return {"societe": size.thirdparties, "user": size.users,
            **{table: size.groups for _e, table, *_ in DOC_TABLES},
            "element_contact": size.documents, "societe_commerciaux": size.links}


def generated_counts(execute):
    """Counts of the generated rows (ids above the bases), table by table."""
    counts = {}
    for table, column, base in [("societe", "rowid", SOC_BASE), ("user", "rowid", USER_BASE),
                                *[(t, "rowid", DOC_BASE) for _e, t, *_ in DOC_TABLES],
                                ("element_contact", "element_id", DOC_BASE),
                                ("societe_commerciaux", "fk_soc", SOC_BASE)]:
        counts[table] = int(execute(
            f"SELECT COUNT(*) FROM {PREFIX}{table} WHERE {column} > {base}")[0][0])
    return counts


MARKER_DDL = "CREATE TABLE bench_dataset (name VARCHAR(64) PRIMARY KEY, value TEXT)"


def read_marker(execute):
    try:
        return {name: json.loads(value) for name, value in
                execute("SELECT name, value FROM bench_dataset")}
    except Exception:  # no marker table: not generated (or not by us)
        return None


def write_marker(execute, values):
    for name, value in values.items():
        execute("DELETE FROM bench_dataset WHERE name = %s", (name,))
        execute("INSERT INTO bench_dataset (name, value) VALUES (%s, %s)",
                (name, json.dumps(value)))


# --- backends ------------------------------------------------------------------

class MariaBackend:
    """The benchmark database on the MariaDB server, through pymysql."""
    name = "mariadb"
    dialect = MariaDialect()

    def __init__(self, size, url=MYSQL_URL):
        parts = urlsplit(url)
        self.size = size
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 3306
        self.user, self.password = parts.username or "root", parts.password or ""
        self.name_db = size.database()
        self._connection = None

    @property
    def url(self):
        credentials = self.user + (f":{self.password}" if self.password else "")
        return f"mysql://{credentials}@{self.host}:{self.port}/{self.name_db}"

    def connect(self, database=True):
        import pymysql
        return pymysql.connect(host=self.host, port=self.port, user=self.user,
                               password=self.password, autocommit=True, charset="utf8mb4",
                               database=self.name_db if database else None)

    def execute(self, sql, args=None):
        if self._connection is None:
            self._connection = self.connect()
        with self._connection.cursor() as cursor:
            cursor.execute(sql, args)
            return cursor.fetchall()

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def exists(self):
        server = self.connect(database=False)
        try:
            with server.cursor() as cursor:
                cursor.execute("SHOW DATABASES LIKE %s", (self.name_db,))
                return bool(cursor.fetchall())
        finally:
            server.close()

    def create_empty(self):
        """Drop and recreate the database, loaded with Dolibarr's real dump."""
        self.close()
        server = self.connect(database=False)
        try:
            with server.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS `{self.name_db}`")
                cursor.execute(f"CREATE DATABASE `{self.name_db}` CHARACTER SET utf8mb4")
        finally:
            server.close()
        command = ["mariadb", f"--host={self.host}", f"--port={self.port}",
                   f"--user={self.user}", self.name_db]
        env = dict(os.environ, MYSQL_PWD=self.password)
        subprocess.run(command, input=DUMP_23.read_text(), text=True, check=True, env=env,
                       capture_output=True)

    def type_ids(self):
        return {element: self.execute(
            f"SELECT rowid FROM {PREFIX}c_type_contact WHERE element = %s AND source = 'internal' "
            f"AND code = 'SALESREPFOLL' AND active = 1", (element,))[0][0]
            for element, *_ in DOC_TABLES}

    def finish(self):
        for table in ["societe", "user", "societe_commerciaux", "element_contact",
                      *[t for _e, t, *_ in DOC_TABLES]]:
            self.execute(f"ANALYZE TABLE {PREFIX}{table}")

    def describe(self):
        return f"MariaDB {self.execute('SELECT VERSION()')[0][0]} database {self.name_db}"


class SqliteBackend:
    """The benchmark database as an SQLite file, built with autocontact's own DDL."""
    name = "sqlite"
    dialect = SqliteDialect()

    def __init__(self, size):
        self.size = size
        self.path = size.sqlite_path()
        self._connection = None

    @property
    def url(self):
        return f"sqlite:///{self.path}"

    def execute(self, sql, args=None):
        if self._connection is None:
            self._connection = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        if args:
            sql = sql.replace("%s", "?")
        return self._connection.execute(sql, args or ()).fetchall()

    def close(self):
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def exists(self):
        return self.path.exists()

    def create_empty(self):
        """A new file with Dolibarr's tables (ddl.py), its contact types and an admin."""
        import csv

        from autocontact.dolibarr import ddl
        from autocontact.dolibarr.connection import open_database
        self.close()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        database = open_database(self.url)
        with database.connection_context():
            ddl.create_dolibarr_tables(database)
        database.close()
        csv_path = ROOT / "autocontact" / "dolibarr" / "sql" / "c_type_contact.csv"
        with csv_path.open(newline="", encoding="utf-8") as handle:
            rows = [(int(r["rowid"]), r["element"], r["source"], r["code"], r["libelle"] or None,
                     int(r["active"]), r["module"] or None, int(r["position"]))
                    for r in csv.DictReader(handle)]
        self.execute("PRAGMA journal_mode = WAL")
        self.execute("BEGIN")
        self._connection.executemany(
            f"INSERT INTO {PREFIX}c_type_contact (rowid, element, source, code, libelle, active, "
            f"module, position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self.execute(f"INSERT INTO {PREFIX}user (rowid, entity, login, lastname, firstname, admin, "
                     f"statut, employee) VALUES (12, 0, 'admin', 'Admin', 'Super', 1, 1, 1)")
        self.execute(f"INSERT INTO {PREFIX}const (name, entity, value, type, visible) "
                     f"VALUES ('MAIN_VERSION_LAST_UPGRADE', 0, '23.0.0', 'chaine', 0)")
        self.execute("COMMIT")

    def type_ids(self):
        return {element: self.execute(
            f"SELECT rowid FROM {PREFIX}c_type_contact WHERE element = ? AND source = 'internal' "
            f"AND code = 'SALESREPFOLL' AND active = 1", (element,))[0][0]
            for element, *_ in DOC_TABLES}

    def finish(self):
        self.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def describe(self):
        return f"SQLite {sqlite3.sqlite_version} file {self.path.relative_to(ROOT)}"


def backend(name, size):
    return MariaBackend(size) if name == "mariadb" else SqliteBackend(size)


def is_ready(db):
    """The cached dataset is there, complete, unchanged and of these parameters."""
    if not db.exists():
        return False, "not generated yet"
    marker = read_marker(db.execute)
    if marker is None:
        return False, "no marker table"
    if marker.get("params") != params(db.size):
        return False, "generated with other parameters"
    if marker.get("state") != "clean":
        return False, f"left {marker.get('state')} by an interrupted run"
    counts = generated_counts(db.execute)
    if counts != expected_counts(db.size):
        return False, f"counts differ: {counts}"
    if fingerprint(db.execute) != marker.get("fingerprint"):
        return False, "rows differ from the generated ones"
    return True, "cached"


def generate(db, log=print):
    """Create the database and fill it; return {step: seconds}."""
    timings = {}
    started = time.perf_counter()
    db.create_empty()
    timings["schema (Dolibarr dump)" if db.name == "mariadb" else "schema (ddl.py)"] = \
        time.perf_counter() - started
    if db.name == "sqlite":
        db.execute("PRAGMA synchronous = OFF")
        db.execute("BEGIN")
    type_ids = db.type_ids()
    for label, sql in statements(db.dialect, db.size, type_ids):
        begun = time.perf_counter()
        db.execute(sql)
        timings[label] = time.perf_counter() - begun
        log(f"  {db.name:7} {label:32} {timings[label]:7.1f} s")
    begun = time.perf_counter()
    if db.name == "sqlite":
        db.execute("COMMIT")
    db.execute(MARKER_DDL)
    db.finish()
    timings["commit, statistics, marker"] = time.perf_counter() - begun
    counts = generated_counts(db.execute)
    if counts != expected_counts(db.size):
        raise RuntimeError(f"generated counts differ: {counts} != {expected_counts(db.size)}")
    timings["total"] = time.perf_counter() - started
    write_marker(db.execute, {"params": params(db.size), "state": "clean",
                              "fingerprint": fingerprint(db.execute),
                              "timings": {k: round(v, 2) for k, v in timings.items()},
                              "generated_at": time.strftime("%Y-%m-%d %H:%M:%S")})
    return timings


def ensure(name, size, force=False, log=print):
    """Generate the dataset of one backend unless the cached one is usable.

    Returns (timings or None when cached, the marker's recorded timings).
    """
    db = backend(name, size)
    try:
        if name == "mariadb" and shutil.which("mariadb") is None:
            raise SystemExit("the mariadb client is needed to load Dolibarr's dump")
        ready, why = (False, "--force") if force else is_ready(db)
        if ready:
            log(f"{name}: dataset {size.name} {why} ({db.describe()}), generation skipped")
            return None, read_marker(db.execute).get("timings")
        log(f"{name}: generating the {size.name} dataset ({why}) ...")
        timings = generate(db, log)
        log(f"{name}: generated in {timings['total']:.1f} s ({db.describe()})")
        return timings, timings
    finally:
        db.close()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="the tiny dataset")
    parser.add_argument("--force", action="store_true", help="regenerate even if cached")
    parser.add_argument("--backend", choices=("mariadb", "sqlite", "all"), default="all")
    args = parser.parse_args(argv)
    size = SIZES["smoke" if args.smoke else "full"]
    for name in (("mariadb", "sqlite") if args.backend == "all" else (args.backend,)):
        ensure(name, size, force=args.force)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
