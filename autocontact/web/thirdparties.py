"""The thirdparty list, its card, and the mass actions on sales reps.

The list's state lives in the URL; HTMX swaps the results block and pushes
the URL, and every pushed URL returns the full page. A mass action is a
dialog: choose → preview (a dry run) → confirm (the same request, applied).
"""
from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user, login_required
from jinja2_fragments.flask import render_block

from ..dolibarr.models import Thirdparty
from ..services import directory, permissions, salesreps, thirdparties
from .auth import current_settings, role_required
from .errors import error_response

bp = Blueprint("thirdparties", __name__, url_prefix="/thirdparties")
LIST = "thirdparties/index.html"
MASS = "thirdparties/mass.html"
LABELS = {"assign": "Assign sales reps", "unassign": "Unassign sales reps",
          "clear": "Remove all sales reps", "transfer": "Transfer a portfolio"}


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
                           allow_remove_all=current_settings().allow_remove_all)
    response = current_app.make_response((body, status))
    if request.headers.get("HX-Request") and request.headers.get("HX-Trigger") != "results":
        # Push the tidy URL of this state, without the form's empty fields (not when the
        # results only refresh themselves after a change: that is no new history entry).
        response.headers["HX-Push-Url"] = url_for("thirdparties.index", **criteria.query_args())
    return response


@bp.route("/<int:thirdparty_id>")
@login_required
def card(thirdparty_id):
    """One thirdparty: identity and current sales reps."""
    entity = current_app.config["ENTITY"]
    thirdparty = Thirdparty.get_or_none(Thirdparty.rowid == thirdparty_id,
                                        Thirdparty.entity == entity)
    if thirdparty is None:
        abort(404, "No such thirdparty in this company.")
    reps = directory.sales_reps([thirdparty_id], entity).get(thirdparty_id, [])
    return render_template("thirdparties/card.html", thirdparty=thirdparty, reps=reps)


# --- mass actions --------------------------------------------------------------

def _payload(action, values):
    """The API-shaped request from the dialog's fields (selection included)."""
    payload = {"action": action}
    if values.get("scope") == "filter":
        payload["filter"] = {key: values.get(key, "") for key in thirdparties.FILTER_KEYS}
    else:
        payload["thirdparty_ids"] = values.getlist("ids")
    if action in ("assign", "unassign"):
        payload["user_ids"] = values.getlist("user_ids")
        payload["replace"] = values.get("replace") == "1"
    if action == "transfer":
        payload["from_user_id"] = values.get("from_user_id", "")
        payload["to_user_id"] = values.get("to_user_id", "")
    return payload


def _dialog(action, stage, status=200, **context):
    return _render(MASS, "dialog_body", status, action=action, label=LABELS[action],
                   stage=stage, values=request.values, **context)


@bp.route("/mass/<action>", methods=["GET", "POST"])
@role_required(permissions.EDITOR)
def mass(action):
    """Open the dialog of a mass action for the current selection."""
    if action not in LABELS:
        return error_response(404, "No such mass action.")
    entity = current_app.config["ENTITY"]
    if action == "clear" and not current_settings().allow_remove_all:
        return _dialog(action, "error", 400, error="Removing all sales reps is disabled in setup.")
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
        return error_response(404, "No such mass action.")
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
    outcome = salesreps.run(current_user, parsed, entity,
                            current_app.extensions["autocontact.schema"],
                            dry_run=(stage == "preview"))
    response = _dialog(action, "preview" if stage == "preview" else "done", outcome=outcome,
                       request_summary=parsed)
    if stage == "apply" and outcome.batch_id:
        body, status = response
        response = current_app.response_class(body, status)
        response.headers["HX-Trigger"] = "salesreps-changed"
    return response
