"""The consistency report: what is stale company-wide, each line leading to its fix.

The report's state (period, document types, page of the thirdparty table) lives
in the URL; the form and the pagination swap the report block with HTMX and push
the URL. After a fix applied from the report's dialog (documents-changed,
salesreps-changed), the block refreshes itself.
"""
from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from jinja2_fragments.flask import render_block

from ..dolibarr import doctypes
from ..services import reports
from ..services.salesreps import InvalidRequest
from . import charts
from .auth import current_settings
from .csv_export import column_name, csv_response
from .errors import error_response

bp = Blueprint("reports", __name__, url_prefix="/reports")
TEMPLATE = "reports/consistency.html"
PER_PAGE = 25


def _is_htmx():
    return request.headers.get("HX-Request") and not request.headers.get(
        "HX-History-Restore-Request")


def series(report_request):
    """The chart series: one per document type of the report."""
    return [(scope.element, scope.doc_type.label) for scope in report_request.scopes]


@bp.route("/consistency")
@login_required
def consistency():
    """Company-wide: thirdparties without reps, documents whose follow-up contacts do not
    match, by type, rep, thirdparty and month, with a way to fix each line."""
    entity = current_app.config["ENTITY"]
    settings = current_settings()
    context = {"doc_types": doctypes.DOC_TYPES, "settings": settings, "values": request.args,
               "error": None, "report": None}
    try:
        parsed = reports.parse_request(request.args, entity, settings)
        page = reports.parse_page(request.args)
    except InvalidRequest as invalid:
        context["error"] = str(invalid)
        if _is_htmx():
            return render_block(TEMPLATE, "report", **context), 400
        return render_template(TEMPLATE, **context), 400
    report = reports.consistency_report(parsed, entity, page, PER_PAGE)
    context.update(report=report, parsed=parsed, page=page, per_page=PER_PAGE,
                   args=parsed.args(), series=series(parsed),
                   pages=max(1, -(-report.not_matching_by_thirdparty["total"] // PER_PAGE)),
                   month_chart=charts.columns_chart(report.not_matching_by_month,
                                                    series(parsed)),
                   user_chart=charts.rows_chart(report.documents_by_follow_up_user,
                                                series(parsed)))
    if not _is_htmx():
        return render_template(TEMPLATE, **context)
    response = current_app.make_response(render_block(TEMPLATE, "report", **context))
    if request.headers.get("HX-Trigger") != "report":  # not a refresh after a fix
        response.headers["HX-Push-Url"] = url_for("reports.consistency",
                                                  **parsed.args(page=page))
    return response


# --- CSV: every table of the report ---------------------------------------------

def _per_type_header(parsed):
    return [scope.element for scope in parsed.scopes]


def _per_type_cells(row, parsed):
    return [row["per_type"].get(scope.element, 0) for scope in parsed.scopes]


def _csv_thirdparties(parsed, entity, active_ids):
    figures = reports.thirdparty_figures(entity)
    return ("figure", "thirdparties"), [(column_name(key), value)
                                        for key, value in figures.items()]


def _csv_inactive_sales_reps(parsed, entity, active_ids):
    return (("user_id", "login", "name", "thirdparties"),
            [(r["user_id"], r["login"], r["name"], r["thirdparties"])
             for r in reports.inactive_sales_reps(entity)])


def _csv_documents_by_type(parsed, entity, active_ids):
    rows, _ = reports.documents_by_type_and_month(parsed, entity, active_ids)
    return (("doc_type", "label", "contact_type", *reports.DOCUMENT_FIGURES),
            [(r["doc_type"], r["label"], r["contact_type"],
              *(r[key] for key in reports.DOCUMENT_FIGURES)) for r in rows])


def _csv_not_matching_by_month(parsed, entity, active_ids):
    _, rows = reports.documents_by_type_and_month(parsed, entity, active_ids)
    return (("month", "documents", *_per_type_header(parsed)),
            [(r["month"], r["documents"], *_per_type_cells(r, parsed)) for r in rows])


def _csv_not_matching_by_sales_rep(parsed, entity, active_ids):
    rows = reports.not_matching_by_sales_rep(parsed, entity, active_ids)
    return (("user_id", "login", "name", "thirdparties", "documents",
             *_per_type_header(parsed)),
            [(r["user_id"], r["login"], r["name"], r["thirdparties"], r["documents"],
              *_per_type_cells(r, parsed)) for r in rows])


def _csv_not_matching_by_thirdparty(parsed, entity, active_ids):
    table = reports.not_matching_by_thirdparty(parsed, entity, active_ids, 1, None)
    return (("thirdparty_id", "name", "sales_reps", "documents", *_per_type_header(parsed)),
            [(r["thirdparty_id"], r["name"], ", ".join(rep["name"] for rep in r["sales_reps"]),
              r["documents"], *_per_type_cells(r, parsed)) for r in table["rows"]])


def _csv_by_follow_up_user(rows, parsed):
    return (("user_id", "login", "name", "active", "documents", *_per_type_header(parsed)),
            [(r["user_id"], r["login"], r["name"], int(r["active"]), r["documents"],
              *_per_type_cells(r, parsed)) for r in rows])


def _csv_inactive_follow_up_by_user(parsed, entity, active_ids):
    by_user = reports.documents_by_follow_up_user(parsed, entity)
    return _csv_by_follow_up_user(reports.inactive_follow_up_by_user(by_user), parsed)


def _csv_documents_by_follow_up_user(parsed, entity, active_ids):
    return _csv_by_follow_up_user(reports.documents_by_follow_up_user(parsed, entity), parsed)


TABLES = {
    "thirdparties": _csv_thirdparties,
    "inactive_sales_reps": _csv_inactive_sales_reps,
    "documents_by_type": _csv_documents_by_type,
    "not_matching_by_month": _csv_not_matching_by_month,
    "not_matching_by_sales_rep": _csv_not_matching_by_sales_rep,
    "not_matching_by_thirdparty": _csv_not_matching_by_thirdparty,
    "inactive_follow_up_by_user": _csv_inactive_follow_up_by_user,
    "documents_by_follow_up_user": _csv_documents_by_follow_up_user,
}


@bp.route("/consistency/<table>.csv")
@login_required
def consistency_csv(table):
    """One table of the report as CSV, every row (the same period and types)."""
    if table not in TABLES:
        return error_response(404, _("No such table in the report."))
    entity = current_app.config["ENTITY"]
    try:
        parsed = reports.parse_request(request.args, entity, current_settings())
    except InvalidRequest as invalid:
        return error_response(400, str(invalid))
    header, rows = TABLES[table](parsed, entity, reports.active_user_ids(entity))
    name = (f"autocontact-{table.replace('_', '-')}-{parsed.date_from.isoformat()}"
            f"-{parsed.date_to.isoformat()}.csv")
    return csv_response(name, header, rows)
