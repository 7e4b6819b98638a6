"""The portfolio of a sales rep: the thirdparties they represent (with their co-reps),
and the documents they follow up, in a period.

"Represent" is a row in llx_societe_commerciaux (any link code), as Dolibarr's
thirdparty card lists sales reps; "follow up" is the follow-up contact type of
each document type chosen in setup. Every block is one grouped query; the types
of a block are UNION ALL parts of it. The period, the types and the predicates
are the consistency report's (services/reports.py).
"""
from dataclasses import dataclass

from flask_babel import gettext as _
from peewee import JOIN, SQL, Value, fn

from ..dolibarr import doctypes
from ..dolibarr.models import ElementContact, SalesRepLink, Thirdparty, User
from . import directory, reports
from .directory import count_if, user_entities


def find_user(user_id, entity):
    """An internal user of the entity (or of entity 0), or None."""
    return User.get_or_none(User.rowid == user_id, User.internal(),
                            User.entity.in_(user_entities(entity)))


def sales_reps_overview(entity):
    """Internal users with how many thirdparties each represents: active users, and
    disabled ones who still represent some. One grouped query."""
    links = (SalesRepLink.select(SalesRepLink.fk_user, SalesRepLink.fk_soc)
             .join(Thirdparty, on=(Thirdparty.rowid == SalesRepLink.fk_soc))
             .where(Thirdparty.entity == entity).alias("links"))
    represented = fn.COUNT(links.c.fk_soc.distinct())
    rows = (User
            .select(User.rowid.alias("user_id"), User.login, User.firstname, User.lastname,
                    User.statut, represented.alias("thirdparties"))
            .join(links, join_type=JOIN.LEFT_OUTER, on=(links.c.fk_user == User.rowid))
            .where(User.internal(), User.entity.in_(user_entities(entity)))
            .group_by(User.rowid, User.login, User.firstname, User.lastname, User.statut)
            .having((User.statut == 1) | (represented > 0))
            .order_by(represented.desc(), User.lastname, User.firstname, User.rowid)
            .dicts())
    return [{"user_id": row["user_id"], "login": row["login"], "name": reports.person(row),
             "active": row["statut"] == 1, "thirdparties": int(row["thirdparties"])}
            for row in rows]


# --- the predicates -------------------------------------------------------------

def _followed(scope, user_id):
    """Join condition: the user is a follow-up contact of the document."""
    return ((ElementContact.element_id == scope.model.rowid)
            & (ElementContact.fk_c_type_contact == scope.contact_type)
            & (ElementContact.fk_socpeople == user_id))


def _represented(scope, user_id):
    """The user is a sales rep of the document's thirdparty (any link, active or not)."""
    return fn.EXISTS(SalesRepLink.select(SalesRepLink.rowid).where(
        SalesRepLink.fk_soc == scope.model.fk_soc, SalesRepLink.fk_user == user_id))


def _followed_documents(scope, request, entity, user_id, *columns):
    model = scope.model
    return (model.select(Value(scope.element).alias("element"), *columns)
            .join(ElementContact, on=_followed(scope, user_id))
            .where(reports.in_scope(scope, request, entity)))


# --- the blocks -----------------------------------------------------------------

def thirdparties_page(user_id, entity, page=1, per_page=50):
    """The thirdparties the user represents, by name, with every rep of each: two
    queries (``per_page`` None: all of them)."""
    query = (Thirdparty
             .select(Thirdparty.rowid, Thirdparty.name, Thirdparty.name_alias,
                     Thirdparty.code_client, Thirdparty.code_fournisseur, Thirdparty.town,
                     Thirdparty.status, Thirdparty.client, Thirdparty.fournisseur,
                     fn.COUNT(SQL("*")).over().alias("total_rows"))
             .where(Thirdparty.entity == entity, Thirdparty.rowid.in_(
                 SalesRepLink.select(SalesRepLink.fk_soc).where(SalesRepLink.fk_user == user_id)))
             .order_by(Thirdparty.name, Thirdparty.rowid))
    if per_page:
        query = query.paginate(page, per_page)
    rows = list(query)
    total = rows[0].total_rows if rows else (
        0 if page == 1 else thirdparties_page(user_id, entity, 1, 1)["total"])
    reps = directory.sales_reps([row.rowid for row in rows], entity)
    return {"total": int(total), "page": page, "per_page": per_page, "rows": [
        {"thirdparty_id": row.rowid, "name": row.name, "name_alias": row.name_alias,
         "code_client": row.code_client, "code_fournisseur": row.code_fournisseur,
         "town": row.town, "status": "open" if row.status == 1 else "closed",
         "kinds": row.kinds,
         "co_reps": [{"user_id": rep.rowid, "name": rep.full_name, "active": rep.is_active}
                     for rep in reps.get(row.rowid, []) if rep.rowid != user_id]}
        for row in rows]}


def documents_by_type_and_month(request, entity, user_id, active_ids):
    """Per type and status: documents the user follows in the period, how many are on
    thirdparties they represent, and how many do not match their thirdparty's active
    reps; and the not-matching ones per month. One grouped query (per status and month)."""
    parts = []
    for scope in request.scopes:
        model = scope.model
        parts.append(_followed_documents(
            scope, request, entity, user_id, model.status.alias("status"),
            reports.month_of(scope).alias("month"),
            fn.COUNT(model.rowid).alias("documents"),
            count_if(_represented(scope, user_id)).alias("represented"),
            count_if(reports.not_matching(scope, active_ids)).alias("not_matching"),
        ).group_by(model.status, reports.month_of(scope)))
    query = reports.union(parts)
    rows = list(query.dicts()) if query is not None else []
    by_type = []
    for scope in request.scopes:
        statuses = scope.doc_type.statuses
        mine = [row for row in rows if row["element"] == scope.element]
        per_status = {}
        for row in mine:
            per_status[row["status"]] = per_status.get(row["status"], 0) + int(row["documents"])
        figures = {key: sum(int(row[key] or 0) for row in mine)
                   for key in ("documents", "represented", "not_matching")}
        by_type.append({
            "doc_type": scope.element, "label": scope.doc_type.label,
            "contact_type": scope.contact_code, "documents": figures["documents"],
            "on_their_thirdparties": figures["represented"],
            "on_other_thirdparties": figures["documents"] - figures["represented"],
            "not_matching": figures["not_matching"],
            "per_status": [{"status": status,
                            "label": (statuses.get(status)
                                      or _("Status %(status)s", status=status)),
                            "documents": count}
                           for status, count in sorted(per_status.items(), key=lambda item: (
                               item[0] is None, item[0] or 0))],
        })
    by_month = reports.every_month(({"element": row["element"], "month": row["month"],
                                     "documents": row["not_matching"]} for row in rows), request)
    return by_type, by_month


def documents_page(request, entity, user_id, page=1, per_page=50):
    """The documents the user follows in the period, newest first: one query for the
    page and one for its thirdparties' names (``per_page`` None: all of them)."""
    parts = []
    for scope in request.scopes:
        model = scope.model
        parts.append(_followed_documents(
            scope, request, entity, user_id, model.rowid.alias("doc_id"), model.ref.alias("ref"),
            model._meta.columns[scope.date_column].alias("doc_date"),
            model.status.alias("status"), model.fk_soc.alias("fk_soc"),
            _represented(scope, user_id).alias("represented")))
    source = reports.union(parts)
    if source is None:
        return {"page": page, "per_page": per_page, "rows": []}
    query = source.order_by(SQL("doc_date").desc(), SQL("element"), SQL("doc_id"))
    if per_page:
        query = query.paginate(page, per_page)
    rows = list(query.dicts())
    names = dict(Thirdparty.select(Thirdparty.rowid, Thirdparty.name).where(
        Thirdparty.rowid.in_({row["fk_soc"] for row in rows if row["fk_soc"]} or {0})).tuples())
    return {"page": page, "per_page": per_page, "rows": [{
        "doc_type": row["element"], "id": row["doc_id"], "ref": row["ref"],
        "date": str(row["doc_date"])[:10] if row["doc_date"] else None,
        "status": row["status"],
        "status_label": doctypes.get(row["element"]).statuses.get(row["status"], ""),
        "thirdparty_id": row["fk_soc"], "thirdparty": names.get(row["fk_soc"]),
        "represented": bool(row["represented"]),
    } for row in rows]}


def not_represented(request, entity, user_id):
    """Thirdparties the user does not represent (any more) where they still follow
    documents of the period, with their current reps: one grouped query, and one for
    the reps."""
    parts = []
    for scope in request.scopes:
        model = scope.model
        parts.append(_followed_documents(
            scope, request, entity, user_id, model.fk_soc.alias("fk_soc"),
            fn.COUNT(model.rowid).alias("documents"),
        ).where(model.fk_soc.is_null(False), ~_represented(scope, user_id))
         .group_by(model.fk_soc))
    source = reports.union(parts)
    if source is None:
        return []
    counts = source.alias("counts")
    total = fn.SUM(counts.c.documents)
    rows = list(Thirdparty
                .select(Thirdparty.rowid.alias("thirdparty_id"), Thirdparty.name,
                        total.alias("documents"),
                        *reports.per_type_columns(counts, request.elements, counts.c.documents))
                .join(counts, on=(counts.c.fk_soc == Thirdparty.rowid))
                .group_by(Thirdparty.rowid, Thirdparty.name)
                .order_by(total.desc(), Thirdparty.name, Thirdparty.rowid)
                .dicts())
    reps = directory.sales_reps([row["thirdparty_id"] for row in rows], entity)
    return [{"thirdparty_id": row["thirdparty_id"], "name": row["name"],
             "sales_reps": [{"user_id": rep.rowid, "name": rep.full_name,
                             "active": rep.is_active}
                            for rep in reps.get(row["thirdparty_id"], [])],
             "documents": int(row["documents"]),
             "per_type": reports.per_type(row, request.elements)} for row in rows]


@dataclass
class Portfolio:
    user: User
    request: reports.ReportRequest
    thirdparties: dict
    documents_by_type: list
    documents: dict
    not_represented: list
    not_matching_by_month: list

    @property
    def totals(self):
        keys = ("documents", "on_their_thirdparties", "on_other_thirdparties", "not_matching")
        return {key: sum(row[key] for row in self.documents_by_type) for key in keys}

    def as_dict(self):
        """The JSON of GET /api/users/<id>/portfolio (docs/api.md)."""
        return {
            "user": {"user_id": self.user.rowid, "login": self.user.login,
                     "name": self.user.full_name, "active": self.user.is_active},
            "date_from": self.request.date_from.isoformat(),
            "date_to": self.request.date_to.isoformat(),
            "doc_types": self.request.elements,
            "unavailable_doc_types": [dict(item) for item in self.request.unavailable],
            "thirdparties": self.thirdparties,
            "documents_by_type": self.documents_by_type,
            "documents_totals": self.totals,
            "documents": {**self.documents, "total": self.totals["documents"]},
            "not_represented": self.not_represented,
            "not_matching_by_month": self.not_matching_by_month,
        }


def portfolio(user, request, entity, thirdparty_page=1, document_page=1, per_page=50):
    """Every block of a rep's portfolio (``per_page`` None: every row of the lists)."""
    active_ids = reports.active_user_ids(entity)
    by_type, by_month = documents_by_type_and_month(request, entity, user.rowid, active_ids)
    return Portfolio(
        user=user, request=request,
        thirdparties=thirdparties_page(user.rowid, entity, thirdparty_page, per_page),
        documents_by_type=by_type,
        documents=documents_page(request, entity, user.rowid, document_page, per_page),
        not_represented=not_represented(request, entity, user.rowid),
        not_matching_by_month=by_month,
    )
