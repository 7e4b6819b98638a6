"""The company-wide consistency report: who follows what, and what is stale.

Every block of the report is one grouped query; the document types of a block
are UNION ALL parts of that query. Documents are judged by the document
engine's rule (an active rep is a link whose user is an active internal user of
the company, as documents._active_reps; the period is documents.in_period), so
a figure here is what the document update would change; the thirdparty figures
are the thirdparty list's own filters ("no sales rep", "only inactive reps"),
so following a line shows the same thirdparties.

Shared with the portfolio (services/portfolio.py): parsing of the period and
the document types, the per-type scopes and the document predicates.
"""
import re
from dataclasses import dataclass, field
from datetime import date

from flask_babel import format_decimal
from flask_babel import gettext as _
from peewee import SQL, Case, Value, fn

from ..dolibarr import doctypes
from ..dolibarr.models import (
    DOCUMENT_MODELS,
    ContactType,
    ElementContact,
    SalesRepLink,
    Thirdparty,
    User,
)
from . import directory, thirdparties
from .directory import count_if, user_entities
from .documents import in_period
from .salesreps import InvalidRequest

MAX_PER_PAGE = 1000
MAX_YEARS = 100
DOCUMENT_FIGURES = ("documents", "not_matching", "inactive_follow_up", "without_follow_up",
                    "thirdparty_without_active_rep", "without_thirdparty")


# --- what a report is about ----------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """One document type as setup configures it: follow-up contact type, period date."""
    doc_type: doctypes.DocType
    contact_type: int           # llx_c_type_contact.rowid of the follow-up role
    contact_code: str
    date_column: str            # the column that places a document in the period

    @property
    def element(self):
        return self.doc_type.element

    @property
    def model(self):
        return DOCUMENT_MODELS[self.doc_type.element]


@dataclass(frozen=True)
class ReportRequest:
    date_from: date
    date_to: date
    scopes: tuple               # Scope entries, in registry order
    unavailable: tuple = ()     # ({"doc_type", "label", "reason"}) types left out, and why

    @property
    def elements(self):
        return [scope.element for scope in self.scopes]

    def args(self, **extra):
        """Query-string arguments of this request (for links and the dialogs' fields)."""
        return {"date_from": self.date_from.isoformat(), "date_to": self.date_to.isoformat(),
                "doc_types": self.elements, **extra}


def _date(values, name, default):
    text = values.get(name) or ""
    if not text:
        return default
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text, re.ASCII):
        raise InvalidRequest(_("'%(name)s' must be a date written YYYY-MM-DD.", name=name), name)
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidRequest(_("'%(name)s' is not a real date: %(text)s.", name=name, text=text),
                             name) from None


def parse_period(values, settings, today=None):
    """``date_from`` and ``date_to`` (inclusive); missing ones take setup's default period."""
    default_from, default_to = settings.default_range(today)
    date_from = _date(values, "date_from", default_from)
    date_to = _date(values, "date_to", default_to)
    if date_to < date_from:
        raise InvalidRequest(_("'%(name)s' is before '%(other)s'.", name="date_to",
                               other="date_from"), "date_to")
    if date_to.year - date_from.year > MAX_YEARS:  # the month figures list every month
        raise InvalidRequest(_("The period is longer than %(years)s years: shorten it.",
                               years=MAX_YEARS), "date_to")
    return date_from, date_to


def requested_types(values):
    """The ``doc_types`` asked for, repeated or comma-separated; [] when none."""
    raw = values.getlist("doc_types") if hasattr(values, "getlist") else values.get("doc_types")
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        raise InvalidRequest(_("'%(name)s' must list document types.", name="doc_types"),
                             "doc_types")
    elements = []
    for item in raw:
        if not isinstance(item, str):
            raise InvalidRequest(_("'%(name)s' must list document types.", name="doc_types"),
                                 "doc_types")
        for element in item.split(","):
            element = element.strip()
            if element and element not in elements:
                elements.append(element)
    return elements


def scopes(entity, settings, elements=None):
    """The scopes of the asked types, or of every usable type; and the types left out.

    An asked type that cannot be used (unknown, disabled in setup, its Dolibarr
    module off, its contact type missing from the dictionary) is an
    InvalidRequest naming the reason. One query (the contact-type dictionary).
    """
    for element in elements or ():
        if doctypes.get(element) is None:
            raise InvalidRequest(_("Unknown document type '%(name)s'.", name=element[:40]),
                                 "doc_types")
    wanted = [d for d in doctypes.DOC_TYPES if not elements or d.element in elements]
    codes = {d.element: settings.doc_types[d.element].contact_type for d in wanted}
    found = {(row.element, row.code): row.rowid for row in ContactType.select().where(
        ContactType.element.in_(list(codes) or [""]), ContactType.source == "internal",
        ContactType.active == 1)}
    chosen, left_out = [], []
    for doc_type in wanted:
        element, config = doc_type.element, settings.doc_types[doc_type.element]
        if not config.enabled:
            reason = _("%(type)s (%(element)s) is disabled in setup.", type=doc_type.label,
                       element=element)
        elif not settings.available(element):
            reason = settings.unavailable_reason(element)
        elif (element, codes[element]) not in found:
            reason = _("The contact type %(code)s of %(type)s is not an active internal type "
                       "in Dolibarr's dictionary: fix it in setup.", code=codes[element],
                       type=doc_type.label)
        else:
            column = (doc_type.date_column if config.date_field == "document"
                      and doc_type.date_column else doc_type.creation_date_column)
            chosen.append(Scope(doc_type, found[(element, codes[element])], codes[element],
                                column))
            continue
        if elements:
            raise InvalidRequest(reason, "doc_types")
        left_out.append({"doc_type": element, "label": doc_type.label, "reason": reason})
    return tuple(chosen), tuple(left_out)


def parse_request(values, entity, settings, today=None):
    """A ReportRequest from query arguments (the page's form or the API's query string)."""
    date_from, date_to = parse_period(values, settings, today)
    chosen, left_out = scopes(entity, settings, requested_types(values))
    return ReportRequest(date_from=date_from, date_to=date_to, scopes=chosen,
                         unavailable=left_out)


def parse_page(values, name="page", default=1, maximum=10_000_000):
    text = values.get(name) or ""
    if not text:
        return default
    if (not isinstance(text, str) or not text.isascii() or not text.isdecimal()
            or len(text) > 10 or not 0 < int(text) <= maximum):
        raise InvalidRequest(_("'%(name)s' must be a whole number from 1 to %(max)s.", name=name,
                               max=format_decimal(maximum)), name)
    return int(text)


# --- the predicates -------------------------------------------------------------
# The engine's own predicates (documents._active_reps) join llx_user inside every
# correlated subquery. Here the entity's active internal users are read once and
# written into the SQL as a list: the same links, several times faster on a large
# company (MariaDB runs these as one dependent subquery per document).

def active_user_ids(entity):
    """Active internal users of the entity (and entity 0): who can be a sales rep now."""
    return [row[0] for row in User.select(User.rowid).where(
        User.statut == 1, User.internal(), User.entity.in_(user_entities(entity))).tuples()]


def id_list(ids):
    """Validated integer ids as an SQL list (no bound-parameter limit applies)."""
    return SQL("(" + (",".join(str(int(i)) for i in ids) or "NULL") + ")")


def active_links(active_ids):
    """Sales-rep links whose user is active: documents._active_reps, users read once."""
    return SalesRepLink.select(SalesRepLink.fk_soc, SalesRepLink.fk_user).where(
        SalesRepLink.fk_user.in_(id_list(active_ids)))


def in_scope(scope, request, entity):
    """Documents of the entity dated in the period."""
    model = scope.model
    return (model.entity == entity) & in_period(model, scope.date_column, request.date_from,
                                                request.date_to)


def follow_ups(scope):
    """The document's follow-up contact rows (correlated to the document)."""
    return ElementContact.select(ElementContact.rowid).where(
        ElementContact.element_id == scope.model.rowid,
        ElementContact.fk_c_type_contact == scope.contact_type)


def has_active_rep(scope, active_ids):
    return fn.EXISTS(active_links(active_ids).where(SalesRepLink.fk_soc == scope.model.fk_soc))


def not_matching(scope, active_ids):
    """The follow-up contacts differ from the thirdparty's active sales reps, and the
    thirdparty has one (as the thirdparty card and the sync engine count them)."""
    model = scope.model
    missing = active_links(active_ids).where(
        SalesRepLink.fk_soc == model.fk_soc,
        ~fn.EXISTS(follow_ups(scope).where(ElementContact.fk_socpeople == SalesRepLink.fk_user)))
    unwanted = follow_ups(scope).where(~fn.EXISTS(active_links(active_ids).where(
        SalesRepLink.fk_soc == model.fk_soc,
        SalesRepLink.fk_user == ElementContact.fk_socpeople)))
    # A missing rep implies the thirdparty has one: tested first, it spares the rest.
    return fn.EXISTS(missing) | (has_active_rep(scope, active_ids) & fn.EXISTS(unwanted))


def inactive_follow_up(scope):
    """A follow-up contact is a disabled Dolibarr user."""
    return fn.EXISTS(follow_ups(scope)
                     .join(User, on=(User.rowid == ElementContact.fk_socpeople))
                     .where(User.statut == 0))


def union(parts):
    """The parts as one UNION ALL query (None when there are none)."""
    if not parts:
        return None
    query = parts[0]
    for part in parts[1:]:
        query = query.union_all(part)
    return query


def per_type_columns(source, elements, value=None):
    """One figure per document type over a UNION ALL source with an ``element`` column:
    its rows counted, or ``value`` summed."""
    if value is None:
        return [count_if(source.c.element == element).alias(element) for element in elements]
    return [fn.SUM(Case(None, [(source.c.element == element, value)], 0)).alias(element)
            for element in elements]


def per_type(row, elements):
    return {element: int(row.get(element) or 0) for element in elements}


def person(row):
    name = " ".join(part for part in (row.get("firstname"), row.get("lastname")) if part)
    return name or row.get("login") or _("user %(id)s", id=row.get("user_id"))


def months(date_from, date_to):
    """Every month of the period, as 'YYYY-MM'."""
    result, year, month = [], date_from.year, date_from.month
    while (year, month) <= (date_to.year, date_to.month):
        result.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return result


def month_of(scope):
    """'YYYY-MM' of the document's period date (a DATE or DATETIME, text on SQLite)."""
    return fn.SUBSTR(scope.model._meta.columns[scope.date_column], 1, 7)


def every_month(rows, request):
    """Rows of ``element``, ``month`` and ``documents`` as one entry per month of the
    period (zeros included), with the figure per type."""
    found = {}
    for row in rows:
        per_month = found.setdefault(row["month"], {})
        per_month[row["element"]] = per_month.get(row["element"], 0) + int(row["documents"] or 0)
    return [{"month": month, "documents": sum(found.get(month, {}).values()),
             "per_type": {element: found.get(month, {}).get(element, 0)
                          for element in request.elements}}
            for month in months(request.date_from, request.date_to)]


# --- the blocks -----------------------------------------------------------------

def thirdparty_figures(entity):
    """Thirdparties in all, without a sales rep, with only inactive ones: one query,
    with the thirdparty list's own filters."""
    def matching(rep):
        criteria = thirdparties.ThirdpartyFilter(rep=rep)
        return thirdparties.matching(criteria, entity).select(Thirdparty.rowid)

    row = (Thirdparty
           .select(fn.COUNT(Thirdparty.rowid).alias("total"),
                   count_if(Thirdparty.rowid.in_(matching("none"))).alias("without_sales_rep"),
                   count_if(Thirdparty.rowid.in_(matching("inactive_only")))
                   .alias("only_inactive_sales_reps"))
           .where(Thirdparty.entity == entity).dicts().get())
    return {key: int(value or 0) for key, value in row.items()}


def inactive_sales_reps(entity):
    """Disabled users who are still sales reps, with how many thirdparties: one query."""
    rows = (User
            .select(User.rowid.alias("user_id"), User.login, User.firstname, User.lastname,
                    fn.COUNT(SalesRepLink.fk_soc.distinct()).alias("thirdparties"))
            .join(SalesRepLink, on=(SalesRepLink.fk_user == User.rowid))
            .join(Thirdparty, on=(Thirdparty.rowid == SalesRepLink.fk_soc))
            .where(User.statut == 0, User.entity.in_(user_entities(entity)),
                   Thirdparty.entity == entity)
            .group_by(User.rowid, User.login, User.firstname, User.lastname)
            .order_by(fn.COUNT(SalesRepLink.fk_soc.distinct()).desc(), User.lastname,
                      User.rowid)
            .dicts())
    return [{"user_id": row["user_id"], "login": row["login"], "name": person(row),
             "thirdparties": int(row["thirdparties"])} for row in rows]


def documents_by_type_and_month(request, entity, active_ids):
    """Per type: documents of the period, and those not matching, with an inactive
    follow-up contact, without one, whose thirdparty has no active rep, without a
    thirdparty; and the not-matching ones per month and type. One grouped query (a
    UNION ALL of one grouped select per type, per month)."""
    parts = []
    for scope in request.scopes:
        model = scope.model
        parts.append(model.select(
            Value(scope.element).alias("element"), month_of(scope).alias("month"),
            fn.COUNT(model.rowid).alias("documents"),
            count_if(not_matching(scope, active_ids)).alias("not_matching"),
            count_if(inactive_follow_up(scope)).alias("inactive_follow_up"),
            count_if(~fn.EXISTS(follow_ups(scope))).alias("without_follow_up"),
            count_if(model.fk_soc.is_null(False) & ~has_active_rep(scope, active_ids))
            .alias("thirdparty_without_active_rep"),
            count_if(model.fk_soc.is_null()).alias("without_thirdparty"),
        ).where(in_scope(scope, request, entity)).group_by(month_of(scope)))
    query = union(parts)
    rows = list(query.dicts()) if query is not None else []
    by_type = []
    for scope in request.scopes:
        mine = [row for row in rows if row["element"] == scope.element]
        by_type.append({"doc_type": scope.element, "label": scope.doc_type.label,
                        "contact_type": scope.contact_code,
                        **{key: sum(int(row[key] or 0) for row in mine)
                           for key in DOCUMENT_FIGURES}})
    by_month = every_month(({"element": row["element"], "month": row["month"],
                             "documents": row["not_matching"]} for row in rows), request)
    return by_type, by_month


def _not_matching_per_thirdparty(request, entity, active_ids):
    """UNION ALL per type of the not-matching documents counted per thirdparty (element,
    fk_soc, documents), or None without any type."""
    return union([
        scope.model.select(Value(scope.element).alias("element"),
                           scope.model.fk_soc.alias("fk_soc"),
                           fn.COUNT(scope.model.rowid).alias("documents"))
        .where(in_scope(scope, request, entity), not_matching(scope, active_ids))
        .group_by(scope.model.fk_soc)
        for scope in request.scopes])


def not_matching_by_sales_rep(request, entity, active_ids):
    """Not-matching documents per current active sales rep of their thirdparty (a
    thirdparty with two reps counts under both): one grouped query."""
    source = _not_matching_per_thirdparty(request, entity, active_ids)
    if source is None:
        return []
    counts = source.alias("counts")
    links = active_links(active_ids).distinct().alias("links")  # a user once, any link code
    total = fn.SUM(counts.c.documents)
    rows = (User
            .select(User.rowid.alias("user_id"), User.login, User.firstname, User.lastname,
                    total.alias("documents"),
                    fn.COUNT(counts.c.fk_soc.distinct()).alias("thirdparties"),
                    *per_type_columns(counts, request.elements, counts.c.documents))
            .join(links, on=(links.c.fk_user == User.rowid))
            .join(counts, on=(counts.c.fk_soc == links.c.fk_soc))
            .group_by(User.rowid, User.login, User.firstname, User.lastname)
            .order_by(total.desc(), User.lastname, User.rowid)
            .dicts())
    return [{"user_id": row["user_id"], "login": row["login"], "name": person(row),
             "thirdparties": int(row["thirdparties"]), "documents": int(row["documents"]),
             "per_type": per_type(row, request.elements)} for row in rows]


def not_matching_by_thirdparty(request, entity, active_ids, page=1, per_page=50):
    """A page of the thirdparties with not-matching documents, most first, with their
    current sales reps, and how many there are: one grouped query, one for the reps
    (``per_page`` None: every row)."""
    source = _not_matching_per_thirdparty(request, entity, active_ids)
    if source is None:
        return {"total": 0, "page": page, "per_page": per_page, "rows": []}
    counts = source.alias("counts")
    total = fn.SUM(counts.c.documents)
    query = (Thirdparty
             .select(Thirdparty.rowid.alias("thirdparty_id"), Thirdparty.name,
                     total.alias("documents"), fn.COUNT(SQL("*")).over().alias("total_rows"),
                     *per_type_columns(counts, request.elements, counts.c.documents))
             .join(counts, on=(counts.c.fk_soc == Thirdparty.rowid))
             .group_by(Thirdparty.rowid, Thirdparty.name)
             .order_by(total.desc(), Thirdparty.name, Thirdparty.rowid))
    if per_page:
        query = query.paginate(page, per_page)
    rows = list(query.dicts())
    if rows or page == 1:
        count = int(rows[0]["total_rows"]) if rows else 0
    else:  # past the last page: the count alone
        count = not_matching_by_thirdparty(request, entity, active_ids, 1, 1)["total"]
    reps = directory.sales_reps([row["thirdparty_id"] for row in rows], entity)
    return {"total": count, "page": page, "per_page": per_page, "rows": [
        {"thirdparty_id": row["thirdparty_id"], "name": row["name"],
         "sales_reps": [{"user_id": rep.rowid, "name": rep.full_name, "active": rep.is_active}
                        for rep in reps.get(row["thirdparty_id"], [])],
         "documents": int(row["documents"]), "per_type": per_type(row, request.elements)}
        for row in rows]}


def documents_by_follow_up_user(request, entity):
    """Documents of the period per follow-up user and type (the chart; those of disabled
    users are the "inactive follow-up" block): one query."""
    parts = []
    for scope in request.scopes:
        model = scope.model
        parts.append(model
                     .select(Value(scope.element).alias("element"),
                             ElementContact.fk_socpeople.alias("user_id"),
                             fn.COUNT(model.rowid).alias("documents"))
                     .join(ElementContact, on=(
                         (ElementContact.element_id == model.rowid)
                         & (ElementContact.fk_c_type_contact == scope.contact_type)))
                     .where(in_scope(scope, request, entity))
                     .group_by(ElementContact.fk_socpeople))
    source = union(parts)
    if source is None:
        return []
    counts = source.alias("counts")
    total = fn.SUM(counts.c.documents)
    rows = (User
            .select(User.rowid.alias("user_id"), User.login, User.firstname, User.lastname,
                    User.statut, total.alias("documents"),
                    *per_type_columns(counts, request.elements, counts.c.documents))
            .join(counts, on=(counts.c.user_id == User.rowid))
            .group_by(User.rowid, User.login, User.firstname, User.lastname, User.statut)
            .order_by(total.desc(), User.lastname, User.rowid)
            .dicts())
    return [{"user_id": row["user_id"], "login": row["login"], "name": person(row),
             "active": row["statut"] == 1, "documents": int(row["documents"]),
             "per_type": per_type(row, request.elements)} for row in rows]


def inactive_follow_up_by_user(by_follow_up_user):
    """The disabled users among the follow-up contacts (the same rows, no query)."""
    return [row for row in by_follow_up_user if not row["active"]]


# --- the whole report -----------------------------------------------------------

@dataclass
class Report:
    request: ReportRequest
    thirdparties: dict
    inactive_sales_reps: list
    documents_by_type: list
    not_matching_by_sales_rep: list
    not_matching_by_thirdparty: dict
    inactive_follow_up_by_user: list
    not_matching_by_month: list
    documents_by_follow_up_user: list
    totals: dict = field(default_factory=dict)

    def as_dict(self):
        """The JSON of GET /api/reports/consistency (docs/api.md)."""
        return {
            "date_from": self.request.date_from.isoformat(),
            "date_to": self.request.date_to.isoformat(),
            "doc_types": self.request.elements,
            "unavailable_doc_types": [dict(item) for item in self.request.unavailable],
            "thirdparties": self.thirdparties,
            "inactive_sales_reps": self.inactive_sales_reps,
            "documents_by_type": self.documents_by_type,
            "documents_totals": self.totals,
            "not_matching_by_sales_rep": self.not_matching_by_sales_rep,
            "not_matching_by_thirdparty": self.not_matching_by_thirdparty,
            "inactive_follow_up_by_user": self.inactive_follow_up_by_user,
            "not_matching_by_month": self.not_matching_by_month,
            "documents_by_follow_up_user": self.documents_by_follow_up_user,
        }


def consistency_report(request, entity, page=1, per_page=50):
    """Every block of the report: one grouped query per block (by type and by month
    share one; the disabled follow-up users are rows of the per-user block), plus the
    active users, the names and sales reps of the page's thirdparties."""
    active_ids = active_user_ids(entity)
    by_type, by_month = documents_by_type_and_month(request, entity, active_ids)
    by_user = documents_by_follow_up_user(request, entity)
    return Report(
        request=request,
        thirdparties=thirdparty_figures(entity),
        inactive_sales_reps=inactive_sales_reps(entity),
        documents_by_type=by_type,
        totals={key: sum(row[key] for row in by_type) for key in DOCUMENT_FIGURES},
        not_matching_by_sales_rep=not_matching_by_sales_rep(request, entity, active_ids),
        not_matching_by_thirdparty=not_matching_by_thirdparty(request, entity, active_ids,
                                                              page, per_page),
        inactive_follow_up_by_user=inactive_follow_up_by_user(by_user),
        not_matching_by_month=by_month,
        documents_by_follow_up_user=by_user,
    )
