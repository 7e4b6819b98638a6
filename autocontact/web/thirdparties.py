"""The thirdparty list, its card, the mass actions and the document update.

The list's state lives in the URL; HTMX swaps the results block and pushes
the URL, and every pushed URL returns the full page. A mass action is a
dialog: choose → preview (a dry run) → confirm (the same request, applied).
"""
from datetime import date

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block

from ..dolibarr import doctypes
from ..dolibarr.models import Thirdparty
from ..services import (
    directory,
    documents,
    jobs,
    journal,
    permissions,
    salesreps,
    thirdparties,
)
from .auth import current_settings, role_required
from .errors import error_response
from .jobs import progress_response

bp = Blueprint("thirdparties", __name__, url_prefix="/thirdparties")
LIST = "thirdparties/index.html"
MASS = "thirdparties/mass.html"
DOCUMENTS = "thirdparties/documents.html"
# Keyed by action code; the titles are shown in the reader's language.
LABELS = {"assign": _l("Assign sales reps"), "unassign": _l("Unassign sales reps"),
          "clear": _l("Remove all sales reps"), "transfer": _l("Transfer a portfolio")}


def _render(template, block, status=200, **context):
    """The named block for HTMX, the whole page otherwise (same markup, one source)."""
    if request.headers.get("HX-Request") and not request.headers.get("HX-History-Restore-Request"):
        return render_block(template, block, **context), status
    return render_template(template, **context), status


@bp.route("")
@login_required
def index():
    """Thirdparties with their sales reps; search, filters, sort, pages."""
    entity = current_app.config["ENTITY"]
    try:
        criteria = thirdparties.parse_filter(request.args)
    except thirdparties.FilterInvalid as invalid:
        return error_response(400, str(invalid))
    page = thirdparties.list_page(criteria, entity)
    body, status = _render(LIST, "results", page=page, criteria=criteria,
                           users=directory.internal_users(entity),
                           allow_remove_all=current_settings().allow_remove_all,
                           select_all=request.args.get("select") == "all")
    response = current_app.make_response((body, status))
    if request.headers.get("HX-Request") and request.headers.get("HX-Trigger") != "results":
        # Push the tidy URL of this state, without the form's empty fields (not when the
        # results only refresh themselves after a change: that is no new history entry).
        response.headers["HX-Push-Url"] = url_for("thirdparties.index", **criteria.query_args())
    return response


def _thirdparty_or_404(thirdparty_id):
    thirdparty = Thirdparty.get_or_none(Thirdparty.rowid == thirdparty_id,
                                        Thirdparty.entity == current_app.config["ENTITY"])
    if thirdparty is None:
        abort(404, _("No such thirdparty in this company."))
    return thirdparty


def _period(values, settings):
    """The period asked for, else the setup's default; (None, None) when unreadable."""
    default_from, default_to = settings.default_range()
    try:
        date_from = date.fromisoformat(values.get("date_from") or default_from.isoformat())
        date_to = date.fromisoformat(values.get("date_to") or default_to.isoformat())
    except ValueError:
        return None, None
    return date_from, date_to


@bp.route("/<id:thirdparty_id>")
@login_required
def card(thirdparty_id):
    """One thirdparty: identity, sales reps, and how consistent its documents are."""
    entity = current_app.config["ENTITY"]
    thirdparty = _thirdparty_or_404(thirdparty_id)
    settings = current_settings()
    date_from, date_to = _period(request.args, settings)
    if date_from is None or date_to < date_from:
        return error_response(400, _("The period is not valid: use dates written YYYY-MM-DD, "
                                     "the end after the start."))
    reps = directory.sales_reps([thirdparty_id], entity).get(thirdparty_id, [])
    # Types whose Dolibarr module is off (and not forced in setup) are left out, as in the dialog.
    panel = documents.consistency(thirdparty_id, entity, settings.effective(), date_from, date_to)
    history = list(journal.find_batches(entity, thirdparty_id=thirdparty_id).limit(20))
    return _render("thirdparties/card.html", "consistency", thirdparty=thirdparty, reps=reps,
                   panel=panel, date_from=date_from, date_to=date_to, history=history)


def _selection_payload(values):
    """The thirdparties a dialog is about: the list's ticked rows, or scope=filter and the
    list's filter (no criteria: every thirdparty of the company)."""
    if values.get("scope") == "filter":
        return {"filter": {key: values.get(key, "") for key in thirdparties.FILTER_KEYS}}
    return {"thirdparty_ids": values.getlist("ids")}


def _documents_payload(selection, values):
    payload = {**selection,
               "date_from": values.get("date_from", ""), "date_to": values.get("date_to", ""),
               "doc_types": values.getlist("doc_types"),
               "mode": values.get("mode", "sync"), "statuses": values.get("statuses", "all")}
    if payload["mode"] == "replace":
        payload["from_user_id"] = values.get("from_user_id", "")
        payload["to_user_id"] = values.get("to_user_id", "")
    return payload


def _documents_dialog(thirdparty, stage, status=200, **context):
    """The document update dialog, for one thirdparty or (``thirdparty`` None) for a
    selection of the list."""
    entity = current_app.config["ENTITY"]
    settings = current_settings()
    default_from, default_to = settings.default_range()
    return _render(DOCUMENTS, "dialog_body", status, thirdparty=thirdparty, stage=stage,
                   values=request.values, settings=settings, doc_types=doctypes.DOC_TYPES,
                   default_from=default_from, default_to=default_to,
                   users=directory.internal_users(entity, active_only=True),
                   everyone=directory.internal_users(entity), **context)


@bp.route("/<id:thirdparty_id>/documents")
@role_required(permissions.EDITOR)
def documents_dialog(thirdparty_id):
    """The "Update document contacts" dialog: period, types, scope, mode."""
    return _documents_dialog(_thirdparty_or_404(thirdparty_id), "choose")


@bp.route("/<id:thirdparty_id>/documents/preview", methods=["POST"])
@role_required(permissions.VIEWER)
def documents_preview(thirdparty_id):
    """What a document update would change (a dry run, paginated): viewers may look."""
    return _documents_run(thirdparty_id, "preview")


@bp.route("/<id:thirdparty_id>/documents/apply", methods=["POST"])
@role_required(permissions.EDITOR)
def documents_apply(thirdparty_id):
    """Apply a document update (editors)."""
    return _documents_run(thirdparty_id, "apply")


def _documents_run(thirdparty_id, stage):
    return _run_documents(_thirdparty_or_404(thirdparty_id), {"thirdparty_ids": [thirdparty_id]},
                          stage)


@bp.route("/documents", methods=["GET", "POST"])
@role_required(permissions.EDITOR)
def selection_documents():
    """The "Update document contacts" dialog for a selection of the list (ticked rows or
    every thirdparty matching a filter), the period and types filled in from the URL."""
    entity = current_app.config["ENTITY"]
    try:
        chosen = salesreps.parse_selection(_selection_payload(request.values), entity)
    except salesreps.InvalidRequest as invalid:
        return _documents_dialog(None, "error", 400, error=str(invalid))
    return _documents_dialog(None, "choose",
                             selected_count=salesreps.selection(chosen, entity).count())


@bp.route("/documents/preview", methods=["POST"])
@role_required(permissions.EDITOR)
def selection_documents_preview():
    """What a document update of a selection would change (a dry run). Editors only:
    unlike one thirdparty's preview, a selection may be the whole company."""
    return _run_documents(None, _selection_payload(request.form), "preview")


@bp.route("/documents/apply", methods=["POST"])
@role_required(permissions.EDITOR)
def selection_documents_apply():
    """Apply a document update to a selection (editors)."""
    return _run_documents(None, _selection_payload(request.form), "apply")


def _run_documents(thirdparty, selection, stage):
    entity = current_app.config["ENTITY"]
    try:
        parsed = documents.parse_request(_documents_payload(selection, request.form), entity,
                                         current_settings())
    except salesreps.InvalidRequest as invalid:
        count = None
        if thirdparty is None:  # the selection itself may be what is wrong
            try:
                chosen = salesreps.parse_selection(selection, entity)
            except salesreps.InvalidRequest as bad_selection:
                return _documents_dialog(None, "error", 400, error=str(bad_selection))
            count = salesreps.selection(chosen, entity).count()
        return _documents_dialog(thirdparty, "choose", 400, error=str(invalid),
                                 field=invalid.field, selected_count=count)
    page = request.form.get("page", "1")
    page = int(page) if page.isdecimal() and 0 < int(page) < 100000 else 1
    if stage == "apply" and _long(request.form):
        actor = current_user._get_current_object()  # the thread has no request
        return _background("documents", parsed.params(), documents.progress_steps(parsed),
                           lambda progress: documents.run(actor, parsed, entity,
                                                          progress=progress),
                           _("Update document contacts of %(name)s", name=thirdparty.name)
                           if thirdparty else _("Update document contacts"))
    outcome = documents.run(current_user, parsed, entity, dry_run=(stage == "preview"),
                            page=page)
    count = (None if thirdparty
             else salesreps.selection(parsed.selection, entity).count())
    body, status = _documents_dialog(thirdparty, "preview" if stage == "preview" else "done",
                                     outcome=outcome, page=page, parsed=parsed,
                                     selected_count=count)
    response = current_app.make_response((body, status))
    if stage == "apply" and outcome.batch_id:
        response.headers["HX-Trigger"] = "documents-changed"
    return response


def _long(form):
    """Whether the preview predicted more rows than run comfortably inside a request."""
    predicted = form.get("predicted", "")
    return predicted.isdecimal() and int(predicted) > current_app.config["BACKGROUND_ROWS"]


def _background(kind, params, steps, work, label):
    """Start ``work`` as a background job and answer with its progress bar. ``label`` is
    stored as it is: in the language of the user who started the job."""
    job_id = jobs.create(current_user, current_app.config["ENTITY"], kind, label, steps)
    jobs.start(current_app._get_current_object(), job_id, steps, work)
    return progress_response(jobs.get(job_id, current_app.config["ENTITY"]))


# --- mass actions --------------------------------------------------------------

def _payload(action, values):
    """The API-shaped request from the dialog's fields (selection included)."""
    payload = {"action": action, **_selection_payload(values)}
    if action in ("assign", "unassign"):
        payload["user_ids"] = values.getlist("user_ids")
        payload["replace"] = values.get("replace") == "1"
    if action == "transfer":
        payload["from_user_id"] = values.get("from_user_id", "")
        payload["to_user_id"] = values.get("to_user_id", "")
    if values.get("documents") == "1":
        payload["documents"] = {"date_from": values.get("date_from", ""),
                                "date_to": values.get("date_to", ""),
                                "doc_types": values.getlist("doc_types"),
                                "statuses": values.get("statuses", "all")}
    return payload


def _dialog(action, stage, status=200, **context):
    settings = current_settings()
    default_from, default_to = settings.default_range()
    return _render(MASS, "dialog_body", status, action=action, title=LABELS[action],
                   stage=stage, values=request.values, settings=settings,
                   doc_types=doctypes.DOC_TYPES, default_from=default_from,
                   default_to=default_to, **context)


@bp.route("/mass/<action>", methods=["GET", "POST"])
@role_required(permissions.EDITOR)
def mass(action):
    """Open the dialog of a mass action for the current selection."""
    if action not in LABELS:
        return error_response(404, _("No such mass action."))
    entity = current_app.config["ENTITY"]
    if action == "clear" and not current_settings().allow_remove_all:
        return _dialog(action, "error", 400,
                       error=_("Removing all sales reps is disabled in setup."))
    try:
        chosen = salesreps.parse_selection(_payload(action, request.values), entity)
    except salesreps.InvalidRequest as invalid:
        return _dialog(action, "error", 400, error=str(invalid))
    selected = salesreps.selection(chosen, entity)
    return _dialog(action, "choose", selected_count=selected.count(),
                   users=directory.internal_users(entity, active_only=True),
                   present=directory.reps_present(selected, entity))


@bp.route("/mass/<action>/<stage>", methods=["POST"])
@role_required(permissions.EDITOR)
def mass_run(action, stage):
    """Preview (a dry run, nothing changes) or apply a mass action."""
    if action not in LABELS or stage not in ("preview", "apply"):
        return error_response(404, _("No such mass action."))
    entity = current_app.config["ENTITY"]
    try:
        parsed = salesreps.parse_request(_payload(action, request.form), entity, current_settings())
    except salesreps.InvalidRequest as invalid:
        if invalid.field in ("thirdparty_ids",) or str(invalid.field).startswith("filter"):
            return _dialog(action, "error", 400, error=str(invalid))
        chosen = salesreps.parse_selection(_payload(action, request.form), entity)
        selected = salesreps.selection(chosen, entity)
        return _dialog(action, "choose", 400, error=str(invalid), field=invalid.field,
                       selected_count=selected.count(),
                       users=directory.internal_users(entity, active_only=True),
                       present=directory.reps_present(selected, entity))
    schema = current_app.extensions["autocontact.schema"]
    if stage == "apply" and _long(request.form):
        actor = current_user._get_current_object()  # the thread has no request
        return _background("salesreps", parsed.params(), salesreps.progress_steps(parsed),
                           lambda progress: salesreps.run(actor, parsed, entity, schema,
                                                          progress=progress),
                           str(LABELS[action]))
    outcome = salesreps.run(current_user, parsed, entity, schema, dry_run=(stage == "preview"))
    response = _dialog(action, "preview" if stage == "preview" else "done", outcome=outcome,
                       request_summary=parsed)
    if stage == "apply" and outcome.batch_id:
        body, status = response
        response = current_app.response_class(body, status)
        response.headers["HX-Trigger"] = "salesreps-changed"
    return response
