"""Portfolios of the sales reps: who represents which thirdparties, who follows which
documents. Every signed-in user (viewer and up) may look at any portfolio.

The page's state (period, pages of its two lists) lives in the URL; the form and
the pagination swap the portfolio's body with HTMX and push the URL.
"""
from datetime import date

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block

from ..dolibarr import doctypes
from ..services import portfolio as portfolio_service
from ..services import reports
from ..services.salesreps import InvalidRequest
from . import charts
from .auth import current_settings
from .csv_export import csv_response
from .errors import error_response
from .reports import series

bp = Blueprint("portfolio", __name__, url_prefix="/portfolio")
TEMPLATE = "portfolio/rep.html"
PER_PAGE = 25


def _is_htmx():
    return request.headers.get("HX-Request") and not request.headers.get(
        "HX-History-Restore-Request")


@bp.route("")
@login_required
def index():
    """Every sales rep (and active user) with the thirdparties they represent and the
    documents they follow in setup's default period."""
    entity = current_app.config["ENTITY"]
    settings = current_settings()
    parsed = reports.parse_request({}, entity, settings)
    followed = {row["user_id"]: row["documents"]
                for row in reports.documents_by_follow_up_user(parsed, entity)}
    return render_template("portfolio/index.html", parsed=parsed, followed=followed,
                           users=portfolio_service.sales_reps_overview(entity))


def _user_or_404(user_id):
    user = portfolio_service.find_user(user_id, current_app.config["ENTITY"])
    if user is None:
        return None, error_response(404, _("No such internal user in this company."))
    return user, None


def _day(text):
    """A document's ISO date as a date (the |date filter formats it); odd text as it is."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return text


def _parse(values):
    entity = current_app.config["ENTITY"]
    parsed = reports.parse_request(values, entity, current_settings())
    return (parsed, reports.parse_page(values, "thirdparty_page"),
            reports.parse_page(values, "document_page"))


@bp.route("/<id:user_id>")
@login_required
def rep(user_id):
    """One user's portfolio: thirdparties represented with their co-reps, documents
    followed in the period per type and status, and those on other thirdparties."""
    user, missing = _user_or_404(user_id)
    if missing:
        return missing
    entity = current_app.config["ENTITY"]
    context = {"user": user, "values": request.args, "error": None, "portfolio": None,
               "settings": current_settings(), "doc_types_by_element": doctypes.BY_ELEMENT,
               "is_self": current_user.user_id == user.rowid}
    try:
        parsed, thirdparty_page, document_page = _parse(request.args)
    except InvalidRequest as invalid:
        context["error"] = str(invalid)
        if _is_htmx():
            return render_block(TEMPLATE, "body", **context), 400
        return render_template(TEMPLATE, **context), 400
    result = portfolio_service.portfolio(user, parsed, entity, thirdparty_page, document_page,
                                         PER_PAGE)
    totals = result.totals
    type_series = [("on_their_thirdparties", _("On thirdparties they represent")),
                   ("on_other_thirdparties", _("On other thirdparties"))]
    for row in result.documents["rows"]:  # shown in the reader's format
        row["day"] = _day(row["date"])
    context.update(
        portfolio=result, parsed=parsed, args=parsed.args(), series=series(parsed),
        thirdparty_page=thirdparty_page, document_page=document_page, per_page=PER_PAGE,
        thirdparty_pages=max(1, -(-result.thirdparties["total"] // PER_PAGE)),
        document_pages=max(1, -(-totals["documents"] // PER_PAGE)),
        type_chart=charts.rows_chart(
            [{"name": row["label"], "documents": row["documents"],
              "per_type": {key: row[key] for key, _ in type_series}}
             for row in result.documents_by_type], type_series),
        month_chart=charts.columns_chart(result.not_matching_by_month, series(parsed)))
    if not _is_htmx():
        return render_template(TEMPLATE, **context)
    response = current_app.make_response(render_block(TEMPLATE, "body", **context))
    if request.headers.get("HX-Trigger") != "portfolio-body":  # not a refresh after a change
        response.headers["HX-Push-Url"] = url_for(
            "portfolio.rep", user_id=user.rowid,
            **parsed.args(thirdparty_page=thirdparty_page, document_page=document_page))
    return response


# --- CSV: every table of the portfolio --------------------------------------------

def _csv_thirdparties(user, parsed, entity):
    rows = portfolio_service.thirdparties_page(user.rowid, entity, 1, None)["rows"]
    return (("thirdparty_id", "name", "name_alias", "code_client", "code_fournisseur", "town",
             "status", "kinds", "co_reps"),
            [(r["thirdparty_id"], r["name"], r["name_alias"], r["code_client"],
              r["code_fournisseur"], r["town"], r["status"], ", ".join(r["kinds"]),
              ", ".join(rep["name"] for rep in r["co_reps"])) for r in rows])


def _csv_documents_by_type(user, parsed, entity):
    rows, _ = portfolio_service.documents_by_type_and_month(parsed, entity, user.rowid,
                                                            reports.active_user_ids(entity))
    return (("doc_type", "label", "contact_type", "status", "status_label", "documents"),
            [(r["doc_type"], r["label"], r["contact_type"], s["status"], s["label"],
              s["documents"]) for r in rows for s in r["per_status"]])


def _csv_documents(user, parsed, entity):
    rows = portfolio_service.documents_page(parsed, entity, user.rowid, 1, None)["rows"]
    return (("doc_type", "id", "ref", "date", "status", "status_label", "thirdparty_id",
             "thirdparty", "represented"),
            [(r["doc_type"], r["id"], r["ref"], r["date"], r["status"], r["status_label"],
              r["thirdparty_id"], r["thirdparty"], int(r["represented"])) for r in rows])


def _csv_not_represented(user, parsed, entity):
    rows = portfolio_service.not_represented(parsed, entity, user.rowid)
    return (("thirdparty_id", "name", "sales_reps", "documents", *parsed.elements),
            [(r["thirdparty_id"], r["name"], ", ".join(rep["name"] for rep in r["sales_reps"]),
              r["documents"], *(r["per_type"][e] for e in parsed.elements)) for r in rows])


def _csv_not_matching_by_month(user, parsed, entity):
    _, rows = portfolio_service.documents_by_type_and_month(parsed, entity, user.rowid,
                                                            reports.active_user_ids(entity))
    return (("month", "documents", *parsed.elements),
            [(r["month"], r["documents"], *(r["per_type"][e] for e in parsed.elements))
             for r in rows])


TABLES = {
    "thirdparties": _csv_thirdparties,
    "documents_by_type": _csv_documents_by_type,
    "documents": _csv_documents,
    "not_represented": _csv_not_represented,
    "not_matching_by_month": _csv_not_matching_by_month,
}


@bp.route("/<id:user_id>/<table>.csv")
@login_required
def rep_csv(user_id, table):
    """One table of a portfolio as CSV, every row (the same period and types)."""
    if table not in TABLES:
        return error_response(404, _("No such table in the portfolio."))
    user, missing = _user_or_404(user_id)
    if missing:
        return missing
    entity = current_app.config["ENTITY"]
    try:
        parsed = reports.parse_request(request.args, entity, current_settings())
    except InvalidRequest as invalid:
        return error_response(400, str(invalid))
    header, rows = TABLES[table](user, parsed, entity)
    return csv_response(f"autocontact-portfolio-{user.rowid}-{table.replace('_', '-')}.csv",
                        header, rows)
