"""The journal: what autocontact changed, batch by batch; CSV export; undo."""
from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_decimal, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block

from ..services import jobs, journal, permissions
from ..services import undo as undo_service
from ..services.salesreps import InvalidRequest
from .api import journal_filters
from .auth import role_required
from .csv_export import csv_response
from .errors import error_response

bp = Blueprint("journal", __name__, url_prefix="/journal")
PER_PAGE = 50
FILTER_KEYS = ("user", "action", "since", "until", "thirdparty_id", "page")
ROWS_PER_PAGE = 200
CSV_COLUMNS = ("kind", "change", "thirdparty_id", "thirdparty", "element", "document_id",
               "document", "user_id", "user", "contact_type", "row_id", "name", "before", "after")


def _page(values):
    text = values.get("page", "1")
    return int(text) if text.isdecimal() and 0 < int(text) < 10_000_000 else 1


@bp.route("")
@login_required
def index():
    """Batches newest first; filter by user, action, period, thirdparty."""
    try:
        filters = journal_filters(request.args)
    except InvalidRequest as invalid:
        return error_response(400, str(invalid))
    query = journal.find_batches(current_app.config["ENTITY"], **filters)
    page = _page(request.args)
    batches = list(query.paginate(page, PER_PAGE))
    total = query.count()
    args = {key: request.args[key] for key in FILTER_KEYS if request.args.get(key)}
    context = {"batches": batches, "total": total, "page": page,
               "running": jobs.running(current_app.config["ENTITY"]),
               "pages": max(1, -(-total // PER_PAGE)), "filters": filters,
               "actions": journal.ACTIONS, "args": args}
    if request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
        response = current_app.make_response(
            render_block("journal/index.html", "results", **context))
        if request.headers.get("HX-Trigger") != "results":
            response.headers["HX-Push-Url"] = url_for("journal.index", **args)
        return response
    return render_template("journal/index.html", **context)


@bp.route("/export.csv")
@login_required
def index_csv():
    """The filtered list of batches as CSV."""
    try:
        filters = journal_filters(request.args)
    except InvalidRequest as invalid:
        return error_response(400, str(invalid))
    rows = (journal.batch_summary(b) for b in
            journal.find_batches(current_app.config["ENTITY"], **filters).iterator())
    counts = ("thirdparties", "links_added", "links_removed", "documents_changed",
              "contacts_added", "contacts_removed")
    return csv_response("autocontact-journal.csv",
                ("batch", "when", "user", "action", "summary", "state", "undo_of") + counts,
                ((b["id"], b["created_at"], b["user"], b["action"], b["summary"], b["state"],
                  b["undo_of"], *(b["counts"][c] for c in counts)) for b in rows))


def _batch_or_404(batch_id):
    found = journal.find_batches(current_app.config["ENTITY"]).where(
        journal.Batch.id == batch_id).first()
    if found is None:
        return None
    return found


@bp.route("/<id:batch_id>")
@login_required
def batch(batch_id):
    """One batch: parameters and every row it added or removed, paginated."""
    found = _batch_or_404(batch_id)
    if found is None:
        return error_response(404, _("No such journal entry in this company."))
    page = _page(request.args)
    rows = journal.batch_rows(batch_id, limit=ROWS_PER_PAGE, offset=(page - 1) * ROWS_PER_PAGE)
    may_undo = found.state == "applied" and found.action != "undo" and current_user.can(
        permissions.MANAGER if found.action == "settings" else permissions.EDITOR)
    return render_template("journal/batch.html", batch=journal.batch_summary(found), rows=rows,
                           page=page, per_page=ROWS_PER_PAGE, may_undo=may_undo)


@bp.route("/<id:batch_id>.csv")
@login_required
def batch_csv(batch_id):
    """Every row of a batch as CSV."""
    if _batch_or_404(batch_id) is None:
        return error_response(404, _("No such journal entry in this company."))
    rows = journal.batch_rows(batch_id, limit=10_000_000)
    return csv_response(f"autocontact-batch-{batch_id}.csv", CSV_COLUMNS,
                ([row.get(column) for column in CSV_COLUMNS] for row in rows))


@bp.route("/<id:batch_id>/undo", methods=["POST"])
@role_required(permissions.EDITOR)
def undo(batch_id):
    """Preview an undo (its conflicts), or confirm it; the result replaces the panel."""
    found = _batch_or_404(batch_id)
    if found is None:
        return error_response(404, _("No such journal entry in this company."))
    confirm = request.form.get("confirm") == "1"
    try:
        outcome = undo_service.undo(current_user, batch_id, current_app.config["ENTITY"],
                                    current_app.extensions["autocontact.schema"],
                                    dry_run=not confirm, force=request.form.get("force") == "1")
    except undo_service.UndoRefused as refused:
        return error_response(409, str(refused))
    if not request.headers.get("HX-Request"):
        if confirm and outcome.batch_id:
            flash(ngettext("Undone: %(count)s row restored (journal entry #%(id)s).",
                           "Undone: %(count)s rows restored (journal entry #%(id)s).",
                           outcome.rows_restored, count=format_decimal(outcome.rows_restored),
                           id=outcome.batch_id), "success")
        else:
            flash(_("Nothing was undone."), "info")
        return redirect(url_for("journal.batch", batch_id=batch_id))
    context = {"batch": journal.batch_summary(found), "outcome": outcome, "confirmed": confirm,
               "force": request.form.get("force") == "1"}
    body = render_block("journal/batch.html", "undo_panel", **context)
    response = current_app.make_response(body)
    if confirm and outcome.batch_id:
        response.headers["HX-Trigger"] = "journal-changed"
    return response
