"""Hostile input: property-based fuzzing (Hypothesis) of every route of the app.

Every rule of the app's url_map is fuzzed with each of its methods: path
arguments, query strings, form fields (with a valid CSRF token, as a logged-in
editor and manager) and JSON bodies made of hostile values — ids of every shape,
dates, lists, filters, unicode (lone surrogates, emoji, NUL, right-to-left),
SQL and HTML metacharacters, huge strings, deep nesting, bodies over the size
limit. The fields each route reads are listed below so that the values reach
its validation; a route with no entry (added since) is fuzzed with generic
fields and counted in ``Figures.generic_routes``.

Properties: never a 5xx; a rejected request (4xx) changes nothing (checksums of
the Dolibarr tables and the tool's tables, login attempts and sessions aside, before
and after).
"""
import json
import string
import threading
from dataclasses import dataclass, field
from datetime import date

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from autocontact.dolibarr import models
from autocontact.dolibarr.tool_tables import TOOL_MODELS, LoginAttempt, LoginSession
from autocontact.web.portfolio import TABLES as portfolio_tables
from autocontact.web.reports import TABLES as report_tables

SKIPPED_ENDPOINTS = {"static"}   # files on disk, served by uWSGI's static-map in production

# --- values ------------------------------------------------------------------------

SQL_BITS = ["'", '"', "`", "\\", "%", "_", "!", ";", "--", "/*", "*/", "' OR 1=1 --",
            "1; DROP TABLE llx_societe", "') UNION SELECT pass_crypted FROM llx_user --",
            "%%", "\\'", "0x27", "SLEEP(5)"]
HTML_BITS = ["<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "javascript:alert(1)",
             "{{7*7}}", "{% raw %}", "=cmd|' /C calc'!A0", "@SUM(1)", "+1", "-1", "\r\n"]
ODD_TEXT = ["", " ", "\x00", "\ud800", "\udfff", "😀", "\u202e", "\ufeff", "١٢٣", "²", "Ⅻ",
            "NaN", "Infinity", "-0", "1e309", "0x10", "null", "true", "[]", "{}"]
KNOWN_WORDS = ["assign", "unassign", "clear", "transfer", "preview", "apply", "sync", "replace",
               "all", "open", "closed", "none", "inactive_only", "customer", "prospect",
               "supplier", "propal", "commande", "facture", "contrat", "fichinter", "projet",
               "order_supplier", "invoice_supplier", "shipping", "supplier_proposal",
               "doc_types", "permissions", "options", "name", "-name", "code", "town",
               "filter", "1", "0"]


def texts():
    return st.one_of(
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8"), max_size=12),
        st.sampled_from(SQL_BITS + HTML_BITS + ODD_TEXT + KNOWN_WORDS),
        st.builds(lambda a, b: a + b, st.sampled_from(SQL_BITS + HTML_BITS), st.text(max_size=8)),
        st.integers(min_value=200, max_value=70_000).map(lambda n: "x" * n),
    )


def numbers():
    return st.one_of(
        st.integers(min_value=-3, max_value=200),
        st.sampled_from([0, -1, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 63, 10 ** 30, -2 ** 63]),
        st.integers(),
    )


def dates():
    return st.one_of(
        st.dates().map(date.isoformat),
        st.sampled_from(["2025-02-30", "2025-13-01", "0000-00-00", "9999-12-31", "0001-01-01",
                         "2025-1-1", "01/02/2025", "2025-01-01T00:00:00", " 2025-01-01",
                         "2025-01-01 ", "２０２５-０１-０１", "2025-01-01\x00", "yesterday", ""]),
        st.integers(),
    )


def id_texts():
    return st.one_of(numbers().map(str), texts())


def scalars():
    return st.one_of(st.none(), st.booleans(), numbers(), st.floats(), texts(), dates())


def hostile():
    """Any JSON value: scalars, lists (long ones too) and objects, nested."""
    return st.recursive(
        scalars(),
        lambda inner: st.one_of(st.lists(inner, max_size=6), st.dictionaries(texts(), inner,
                                                                            max_size=4)),
        max_leaves=12,
    ) | st.lists(numbers(), min_size=500, max_size=3000) | st.sampled_from([
        [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]], {"a": {"b": {"c": {"d": {}}}}}])


def id_lists():
    return st.one_of(st.lists(numbers(), max_size=8), st.lists(id_texts(), max_size=4),
                     st.lists(numbers(), min_size=1000, max_size=3000), hostile())


# --- what each route reads -----------------------------------------------------------

FILTER = {"q": texts, "kind": texts, "status": texts, "rep": id_texts, "sort": texts,
          "page": id_texts, "per_page": id_texts}
JOURNAL_FILTER = {"user": texts, "action": texts, "since": dates, "until": dates,
                  "thirdparty_id": id_texts, "page": id_texts, "limit": id_texts}
DOC_FIELDS = {"date_from": dates, "date_to": dates, "doc_types": texts, "mode": texts,
              "statuses": texts, "from_user_id": id_texts, "to_user_id": id_texts,
              "page": id_texts, "predicted": id_texts}
MASS_FIELDS = {"scope": texts, "ids": id_texts, "user_ids": id_texts, "replace": texts,
               "from_user_id": id_texts, "to_user_id": id_texts, "documents": texts,
               "date_from": dates, "date_to": dates, "doc_types": texts, "statuses": texts,
               "predicted": id_texts, **{key: texts for key in ("q", "kind", "status", "rep")}}
SETUP_FIELDS = {"editor_groups": id_texts, "manager_groups": id_texts,
                "editor_ldap_groups": texts, "manager_ldap_groups": texts,
                "allow_remove_all": texts, "agenda_events": texts, "default_period": texts,
                "default_date_from": dates, "default_date_to": dates,
                "propal-enabled": texts, "propal-contact_type": texts,
                "propal-date_field": texts, "propal-closed": id_texts,
                "commande-contact_type": texts, "facture-closed": id_texts}
SALESREPS_JSON = {"action": lambda: st.sampled_from(["assign", "unassign", "clear", "transfer"])
                  | texts(), "thirdparty_ids": id_lists, "filter": lambda: st.one_of(
                      st.fixed_dictionaries({}, optional={k: v() for k, v in FILTER.items()}),
                      hostile()),
                  "user_ids": id_lists, "replace": scalars, "from_user_id": scalars,
                  "to_user_id": scalars, "dry_run": scalars, "documents": lambda: st.one_of(
                      st.fixed_dictionaries({}, optional={k: v() for k, v in DOC_FIELDS.items()}),
                      hostile())}
DOCUMENTS_JSON = {"thirdparty_ids": id_lists, "filter": hostile, "date_from": dates,
                  "date_to": dates, "doc_types": lambda: st.lists(
                      st.sampled_from(KNOWN_WORDS) | texts(), max_size=4) | hostile(),
                  "mode": texts, "statuses": texts, "from_user_id": scalars,
                  "to_user_id": scalars, "dry_run": scalars}
SETTINGS_JSON = {"doc_types": hostile, "editor_groups": id_lists, "manager_groups": id_lists,
                 "editor_ldap_groups": hostile, "manager_ldap_groups": hostile,
                 "allow_remove_all": scalars, "agenda_events": scalars,
                 "default_period": texts, "default_date_from": dates, "default_date_to": dates}
UNDO_JSON = {"dry_run": scalars, "force": scalars}
REPORT_FIELDS = {"date_from": dates, "date_to": dates, "doc_types": texts, "page": id_texts,
                 "per_page": id_texts}
PORTFOLIO_FIELDS = {"date_from": dates, "date_to": dates, "doc_types": texts,
                    "thirdparty_page": id_texts, "document_page": id_texts, "per_page": id_texts}
SELECTION_DOC_FIELDS = MASS_FIELDS | DOC_FIELDS

ROUTES = {
    # endpoint: (query fields, form fields, json fields, path word choices)
    "auth.login": (JOURNAL_FILTER | {"next": texts},
                   {"login": texts, "password": texts, "next": texts}, None, {}),
    "auth.logout": ({}, {}, None, {}),
    "main.index": ({}, {}, None, {}),
    "main.healthz": ({}, {}, None, {}),
    "thirdparties.index": (FILTER, {}, None, {}),
    "thirdparties.card": ({"date_from": dates, "date_to": dates}, {}, None, {}),
    "thirdparties.documents_dialog": (DOC_FIELDS, {}, None, {}),
    "thirdparties.documents_preview": ({}, DOC_FIELDS, None, {}),
    "thirdparties.documents_apply": ({}, DOC_FIELDS, None, {}),
    "thirdparties.mass": (MASS_FIELDS, MASS_FIELDS, None,
                          {"action": ["assign", "unassign", "clear", "transfer"]}),
    "thirdparties.mass_run": ({}, MASS_FIELDS, None,
                              {"action": ["assign", "unassign", "clear", "transfer"],
                               "stage": ["preview", "apply"]}),
    "thirdparties.selection_documents": (SELECTION_DOC_FIELDS, SELECTION_DOC_FIELDS, None, {}),
    "thirdparties.selection_documents_preview": ({}, SELECTION_DOC_FIELDS, None, {}),
    "thirdparties.selection_documents_apply": ({}, SELECTION_DOC_FIELDS, None, {}),
    "reports.consistency": (REPORT_FIELDS, {}, None, {}),
    "reports.consistency_csv": (REPORT_FIELDS, {}, None, {"table": list(report_tables)}),
    "portfolio.index": (REPORT_FIELDS, {}, None, {}),
    "portfolio.rep": (PORTFOLIO_FIELDS, {}, None, {}),
    "portfolio.rep_csv": (PORTFOLIO_FIELDS, {}, None, {"table": list(portfolio_tables)}),
    "api.consistency_report": (REPORT_FIELDS, {}, None, {}),
    "api.user_portfolio": (PORTFOLIO_FIELDS, {}, None, {}),
    "journal.index": (JOURNAL_FILTER, {}, None, {}),
    "journal.index_csv": (JOURNAL_FILTER, {}, None, {}),
    "journal.batch": ({"page": id_texts}, {}, None, {}),
    "journal.batch_csv": ({}, {}, None, {}),
    "journal.undo": ({}, {"confirm": texts, "force": texts}, None, {}),
    "jobs.progress": ({}, {}, None, {}),
    "jobs.page": ({}, {}, None, {}),
    "setup.index": ({}, {}, None, {}),
    "setup.save": ({}, SETUP_FIELDS, None,
                   {"section": ["doc_types", "permissions", "options"]}),
    "api.me": ({}, {}, None, {}),
    "api.get_settings": ({}, {}, None, {}),
    "api.put_settings": ({}, {}, SETTINGS_JSON, {}),
    "api.salesreps": ({}, {}, SALESREPS_JSON, {}),
    "api.documents_sync": ({}, {}, DOCUMENTS_JSON, {}),
    "api.batches": (JOURNAL_FILTER, {}, None, {}),
    "api.batch": ({"page": id_texts, "per_page": id_texts}, {}, None, {}),
    "api.undo_batch": ({}, {}, UNDO_JSON, {}),
}
GENERIC = ({"q": texts, "id": id_texts, "page": id_texts, "date_from": dates},
           {"q": texts, "ids": id_texts, "user_ids": id_texts, "date_from": dates},
           {"thirdparty_ids": id_lists, "user_ids": id_lists, "filter": hostile}, {})


def _optional(fields):
    return st.fixed_dictionaries({}, optional={name: make() for name, make in fields.items()})


def _multi(fields):
    """Form or query fields: each a single value or several (getlist)."""
    def value(make):
        return st.one_of(make().map(_form_text), st.lists(make().map(_form_text), max_size=5))
    return st.fixed_dictionaries({}, optional={name: value(make) for name, make in fields.items()})


def _encoded(fields):
    """Fields as a query string; lone surrogates become bytes that are not UTF-8."""
    from urllib.parse import urlencode
    return urlencode(fields or {}, doseq=True, encoding="utf-8", errors="surrogatepass")


def _form_text(value):
    return value if isinstance(value, str) else json.dumps(value)


def path_argument(converter_name, words):
    if words:
        return st.one_of(st.sampled_from(words), st.text(string.ascii_letters + "-_.%", max_size=12)
                         .filter(lambda s: s and "/" not in s and s not in (".", "..")))
    if converter_name == "id":
        return st.one_of(st.integers(min_value=1, max_value=60), st.sampled_from(
            [2 ** 31 - 1, 999_999_999]))
    return st.text(string.ascii_letters + string.digits, min_size=1, max_size=12)


@st.composite
def requests_for(draw, rule, method, spec):
    """One request to ``rule``: (method, path, query, form, json_body, raw_body, headers)."""
    query_fields, form_fields, json_fields, words = spec
    arguments = {}
    for name in rule.arguments:
        converter = type(rule._converters[name]).__name__ if hasattr(rule, "_converters") else ""
        is_id = converter == "RowIdConverter"
        arguments[name] = draw(path_argument("id" if is_id else "", words.get(name)))
    try:
        path = rule.build(arguments, append_unknown=False)[1]
    except Exception:
        path = rule.rule
    query = draw(_multi(query_fields)) if query_fields and draw(st.booleans()) else {}
    form = json_body = raw = None
    headers = {}
    if draw(st.integers(0, 9)) == 0:
        headers["HX-Request"] = "true"
        headers["HX-Current-URL"] = draw(st.sampled_from(
            ["http://localhost/thirdparties?q=a", "http://[", "javascript:alert(1)", "//evil"]))
    if method != "GET":
        shape = draw(st.integers(0, 39))
        if shape == 0:        # over the size limit
            raw = b'{"thirdparty_ids": [' + b"1," * 1_200_000 + b"1]}"
        elif shape == 1:      # nested deeper than Python's json can read
            depth = draw(st.integers(1_000, 100_000))
            raw = b"[" * depth + b"]" * depth
        elif shape == 2:      # not JSON, or not UTF-8
            raw = draw(st.sampled_from([b"{", b"\xff\xfe\x00", b"null", b"[]", b'"x"', b"1e999",
                                        b'{"a": NaN}', b"\x00" * 10]))
        elif json_fields is not None:
            json_body = draw(st.one_of(_optional(json_fields), _optional(json_fields),
                                       _optional(json_fields), hostile()))
        else:
            form = draw(_multi(form_fields))
    return method, path, query, form, json_body, raw, headers


# --- checksums -----------------------------------------------------------------------

def checked_models():
    # Login attempts are written by refused logins, and a session's last use is refreshed
    # by any request every few minutes: both are meant to change.
    return [*models.DOLIBARR_MODELS,
            *(m for m in TOOL_MODELS if m not in (LoginAttempt, LoginSession))]


def checksum(database):
    """One value per table, equal when (and only when, in practice) the rows are."""
    tables = [model._meta.table_name for model in checked_models()]
    if database.__class__.__name__.startswith("MySQL"):
        quoted = ", ".join(f"`{t}`" for t in tables)
        return tuple(database.execute_sql(f"CHECKSUM TABLE {quoted}").fetchall())
    return tuple(hash(tuple(database.execute_sql(f'SELECT * FROM "{t}" ORDER BY 1').fetchall()))
                 for t in tables)


class Checksums:
    """The checksums of the database, cheap when nothing was written.

    On SQLite a connection of our own asks ``PRAGMA data_version``, which moves
    whenever another connection commits: unchanged means nothing was written, and
    the full checksum is recomputed only when it moved. MariaDB: CHECKSUM TABLE.
    """

    def __init__(self, database):
        self.database = database
        self.version = None
        self.last = None
        self.computed = 0
        if not database.__class__.__name__.startswith("MySQL"):
            import sqlite3
            self.watch = sqlite3.connect(database.database, check_same_thread=False)
        else:
            self.watch = None

    def __call__(self):
        if self.watch is not None:
            version = self.watch.execute("PRAGMA data_version").fetchone()[0]
            if version == self.version and self.last is not None:
                return self.last
            self.version = version
        with self.database.connection_context():
            self.last = checksum(self.database)
        self.computed += 1
        return self.last

    def close(self):
        if self.watch is not None:
            self.watch.close()


# --- the run -----------------------------------------------------------------------

@dataclass
class Figures:
    requests: int = 0
    rejected: int = 0
    accepted: int = 0
    routes: int = 0
    generic_routes: list = field(default_factory=list)
    checksums_compared: int = 0
    statuses: dict = field(default_factory=dict)
    server_errors: list = field(default_factory=list)
    changed_by_rejected: list = field(default_factory=list)

    def count(self, status):
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1


CSRF = __import__("re").compile(r'"X-CSRFToken": "([^"]+)"')
ANONYMOUS_ADDRESS = "192.0.2.99"   # fuzzed logins fail from here, not from the test clients'


def client_for(app, login=None, password=None, basic=False):
    """A logged-in test client and the headers that authenticate its writes:
    the session's CSRF token, or HTTP Basic credentials."""
    from flask.testing import FlaskClient
    client = FlaskClient(app, app.response_class, use_cookies=True)
    if login is None:
        client.environ_base["REMOTE_ADDR"] = ANONYMOUS_ADDRESS
        token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
        return {"label": "anonymous", "client": client, "headers": {"X-CSRFToken": token}}
    if basic:
        import base64
        credentials = base64.b64encode(f"{login}:{password}".encode()).decode()
        return {"label": f"{login} (Basic)", "client": client,
                "headers": {"Authorization": f"Basic {credentials}"}}
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    response = client.post("/login", data={"login": login, "password": password,
                                           "csrf_token": token})
    if response.status_code != 302:
        raise RuntimeError(f"cannot log in as {login}: {response.status_code}")
    token = CSRF.search(client.get("/journal").get_data(as_text=True)).group(1)
    return {"label": login, "client": client, "headers": {"X-CSRFToken": token}}


def fuzz_routes(app, clients, database, examples, seed=None, derandomize=False, figures=None):
    """Fuzz every route with ``examples`` requests each, as each of ``clients``
    (see client_for; routes of /login and /logout get a fresh anonymous client each
    time). Returns Figures; raises on the first 5xx or the first rejected request
    that changed something."""
    figures = figures or Figures()
    rules = [(rule, method) for rule in app.url_map.iter_rules()
             if rule.endpoint not in SKIPPED_ENDPOINTS
             for method in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    figures.routes = len(rules)
    for rule, method in rules:
        spec = ROUTES.get(rule.endpoint)
        if spec is None:
            spec = GENERIC
            figures.generic_routes.append(rule.endpoint)
        _fuzz_one(app, clients, database, rule, method, spec, examples, seed, derandomize,
                  figures)
    return figures


def _wait_for_jobs():
    for thread in threading.enumerate():
        if thread.name.startswith("autocontact-job-"):
            thread.join(60)


def _fuzz_one(app, clients, database, rule, method, spec, examples, seed, derandomize, figures):
    state = {"before": None}
    current = Checksums(database)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck), print_blob=True)
    @given(request=requests_for(rule, method, spec), who=st.sampled_from(range(len(clients))))
    def fuzz(request, who):
        verb, path, query, form, json_body, raw, headers = request
        chosen = (client_for(app) if rule.endpoint.startswith("auth.") else clients[who])
        label, client = chosen["label"], chosen["client"]
        headers = {**chosen["headers"], **headers}
        if "Authorization" in headers and not path.startswith("/api/"):
            chosen = clients[0]
            label, client, headers = chosen["label"], chosen["client"], {
                **chosen["headers"], **request[6]}
        if state["before"] is None:
            state["before"] = current()
        kwargs = {"method": verb, "query_string": _encoded(query), "headers": headers}
        if raw is not None:
            kwargs.update(data=raw, content_type="application/json")
        elif json_body is not None:
            kwargs["json"] = json_body
        elif form is not None:
            kwargs.update(data=_encoded(form).encode("ascii"),
                          content_type="application/x-www-form-urlencoded")
        response = client.open(path, **kwargs)
        status = response.status_code
        response.close()
        _wait_for_jobs()
        figures.count(status)
        if status >= 500:
            figures.server_errors.append((label, verb, path, query, form, json_body,
                                          raw[:80] if raw else None, status))
            raise AssertionError(f"{status} as {label} on {verb} {path} query={query!r} "
                                 f"form={form!r} json={json_body!r} raw={raw[:80] if raw else None!r}")
        if status >= 400 or verb == "GET":
            figures.rejected += status >= 400
            after = current()
            figures.checksums_compared += 1
            if after != state["before"]:
                figures.changed_by_rejected.append((label, verb, path, status))
                state["before"] = after
                raise AssertionError(f"{status} {verb} {path} as {label} changed the database "
                                     f"(query={query!r} form={form!r} json={json_body!r})")
        else:
            figures.accepted += 1
            state["before"] = current()

    if seed is not None:
        from hypothesis import seed as hypothesis_seed
        fuzz = hypothesis_seed(seed)(fuzz)
    try:
        fuzz()
    finally:
        current.close()
