"""The JSON API. Session cookie (with CSRF) or HTTP Basic; 401/403 as JSON."""
from datetime import date

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..dolibarr import doctypes
from ..services import documents as documents_service
from ..services import journal as journal_service
from ..services import permissions
from ..services import portfolio as portfolio_service
from ..services import reports as reports_service
from ..services import salesreps as salesreps_service
from ..services import settings as settings_service
from ..services import thirdparties as thirdparties_service
from ..services import undo as undo_service
from .auth import current_settings, role_required
from .errors import error_response

bp = Blueprint("api", __name__, url_prefix="/api")


def bad_request(message, field=None, **extra):
    """The API's 400: ``{"error": …, "field": …}``."""
    return jsonify(error=message, field=field, **extra), 400


@bp.route("/me")
@login_required
def me():
    """Who is calling, and what they may do right now."""
    return jsonify(
        user_id=current_user.user_id,
        login=current_user.login,
        name=current_user.full_name,
        admin=current_user.is_admin,
        roles=sorted(current_user.roles),
        reasons=current_user.reasons,
    )


def _settings_body(settings):
    available = settings_service.choices(current_app.config["ENTITY"])
    body = settings.as_dict()
    body["choices"] = {
        "contact_types": {element: [{"code": row.code, "label": row.label} for row in rows]
                          for element, rows in available.contact_types.items()},
        "groups": available.groups,
    }
    # Read-only: whether Dolibarr's module of each type is on, and so whether it can be used.
    body["availability"] = {
        doc_type.element: {"module_constant": doc_type.module_constant,
                           "module_enabled": settings.module_enabled(doc_type.element),
                           "available": settings.available(doc_type.element),
                           "reason": settings.unavailable_reason(doc_type.element)}
        for doc_type in doctypes.DOC_TYPES}
    return body


@bp.route("/settings")
@login_required
def get_settings():
    """Current settings, for editors and managers."""
    if not (current_user.can(permissions.EDITOR) or current_user.can(permissions.MANAGER)):
        return error_response(403, _("Settings are readable by editors and managers."))
    return jsonify(_settings_body(current_settings()))


@bp.route("/settings", methods=["PUT"])
@role_required(permissions.MANAGER)
def put_settings():
    """Change some settings (managers). Same validation as the setup page."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return bad_request(_("Send the settings to change as a JSON object."))
    entity = current_app.config["ENTITY"]
    try:
        new = settings_service.apply_changes(current_settings(), payload,
                                             settings_service.choices(entity))
    except settings_service.SettingsInvalid as invalid:
        return bad_request(str(invalid), invalid.field, errors=invalid.errors)
    batch_id = settings_service.save(current_user, entity, new)
    return jsonify({**_settings_body(new), "batch_id": batch_id})


def _operation(parse, run):
    """Validate a JSON operation like the screens do, run it, answer with its outcome."""
    entity = current_app.config["ENTITY"]
    payload = request.get_json(silent=True)
    try:
        parsed = parse(payload, entity, current_settings())
    except salesreps_service.InvalidRequest as invalid:
        return bad_request(str(invalid), invalid.field)
    return jsonify(run(parsed, entity, payload.get("dry_run") is True).as_dict())


@bp.route("/salesreps", methods=["POST"])
@role_required(permissions.EDITOR)
def salesreps():
    """Assign, unassign, clear or transfer sales reps on thirdparties (editors)."""
    schema = current_app.extensions["autocontact.schema"]
    return _operation(salesreps_service.parse_request, lambda parsed, entity, dry_run:
                      salesreps_service.run(current_user, parsed, entity, schema, dry_run=dry_run))


@bp.route("/documents/sync", methods=["POST"])
@role_required(permissions.EDITOR)
def documents_sync():
    """Make document follow-up contacts match the thirdparties' sales reps (editors)."""
    return _operation(documents_service.parse_request, lambda parsed, entity, dry_run:
                      documents_service.run(current_user, parsed, entity, dry_run=dry_run))


REPORT_PARAMETERS = {"date_from", "date_to", "doc_types", "page", "per_page"}
PORTFOLIO_PARAMETERS = {"date_from", "date_to", "doc_types", "thirdparty_page", "document_page",
                        "per_page"}


def _unknown_parameter(values, known):
    unknown = sorted(set(values) - known)
    if unknown:
        raise salesreps_service.InvalidRequest(
            _("Unknown parameter '%(name)s': use %(known)s.", name=unknown[0][:40],
              known=", ".join(sorted(known))), unknown[0])


@bp.route("/reports/consistency")
@login_required
def consistency_report():
    """The company-wide consistency report, with the same figures as its page.

    ?date_from=&date_to= (default: setup's period), doc_types= (comma-separated or
    repeated; default: every usable type), page= and per_page= (up to 1000) for the
    thirdparty list. docs/api.md describes the answer.
    """
    entity = current_app.config["ENTITY"]
    try:
        _unknown_parameter(request.args, REPORT_PARAMETERS)
        parsed = reports_service.parse_request(request.args, entity, current_settings())
        page = reports_service.parse_page(request.args)
        per_page = reports_service.parse_page(request.args, "per_page", 100,
                                              reports_service.MAX_PER_PAGE)
    except salesreps_service.InvalidRequest as invalid:
        return bad_request(str(invalid), invalid.field)
    return jsonify(reports_service.consistency_report(parsed, entity, page, per_page).as_dict())


@bp.route("/users/<id:user_id>/portfolio")
@login_required
def user_portfolio(user_id):
    """A user's portfolio, with the same figures as its page (viewers and up).

    ?date_from=&date_to=, doc_types=, thirdparty_page=, document_page=, per_page= (up
    to 1000) for its two lists. docs/api.md describes the answer.
    """
    entity = current_app.config["ENTITY"]
    user = portfolio_service.find_user(user_id, entity)
    if user is None:
        return error_response(404, _("There is no internal user %(id)s in this company.", id=user_id))
    try:
        _unknown_parameter(request.args, PORTFOLIO_PARAMETERS)
        parsed = reports_service.parse_request(request.args, entity, current_settings())
        thirdparty_page = reports_service.parse_page(request.args, "thirdparty_page")
        document_page = reports_service.parse_page(request.args, "document_page")
        per_page = reports_service.parse_page(request.args, "per_page", 100,
                                              reports_service.MAX_PER_PAGE)
    except salesreps_service.InvalidRequest as invalid:
        return bad_request(str(invalid), invalid.field)
    result = portfolio_service.portfolio(user, parsed, entity, thirdparty_page, document_page,
                                         per_page)
    return jsonify(result.as_dict())


def journal_filters(values):
    """The journal's filters from query args; raise InvalidRequest naming the bad one."""
    filters = {}
    user = values.get("user", "")
    try:
        thirdparties_service.storable_text(user, "user")
    except thirdparties_service.FilterInvalid as invalid:
        raise salesreps_service.InvalidRequest(str(invalid), "user") from None
    if len(user) > 50:
        raise salesreps_service.InvalidRequest(
            _("'%(name)s' is a Dolibarr login (%(max)s characters at most).", name="user", max=50),
            "user")
    filters["user"] = user or None
    action = values.get("action", "")
    if action and action not in journal_service.ACTIONS:
        raise salesreps_service.InvalidRequest(
            _("'%(name)s' must be one of %(choices)s.", name="action",
              choices=", ".join(journal_service.ACTIONS)), "action")
    filters["action"] = action or None
    for name in ("since", "until"):
        text = values.get(name, "")
        try:
            filters[name] = date.fromisoformat(text) if text else None
        except ValueError:
            raise salesreps_service.InvalidRequest(
                _("'%(name)s' must be a date written YYYY-MM-DD.", name=name), name) from None
        if text and len(text) != 10:
            raise salesreps_service.InvalidRequest(
                _("'%(name)s' must be a date written YYYY-MM-DD.", name=name), name)
    thirdparty = values.get("thirdparty_id", "")
    if thirdparty and not (thirdparty.isdecimal() and len(thirdparty) < 10):
        raise salesreps_service.InvalidRequest(
            _("'%(name)s' must be a whole number.", name="thirdparty_id"), "thirdparty_id")
    filters["thirdparty_id"] = int(thirdparty) if thirdparty else None
    return filters


def _bounded(values, name, default, maximum):
    text = values.get(name, "")
    if not text:
        return default
    if not text.isdecimal() or not 0 < int(text) <= maximum:
        raise salesreps_service.InvalidRequest(
            _("'%(name)s' must be a whole number from 1 to %(max)s.", name=name,
              max=maximum), name)
    return int(text)


@bp.route("/batches")
@login_required
def batches():
    """The journal: batches newest first, filtered."""
    try:
        filters = journal_filters(request.args)
        limit = _bounded(request.args, "limit", 50, 1000)
    except salesreps_service.InvalidRequest as invalid:
        return bad_request(str(invalid), invalid.field)
    query = journal_service.find_batches(current_app.config["ENTITY"], **filters)
    return jsonify(batches=[journal_service.batch_summary(b) for b in query.limit(limit)],
                   total=query.count())


@bp.route("/batches/<id:batch_id>")
@login_required
def batch(batch_id):
    """One batch with its rows, paginated (?page=, ?per_page= up to 1000)."""
    try:
        page = _bounded(request.args, "page", 1, 10_000_000)
        per_page = _bounded(request.args, "per_page", 500, 1000)
    except salesreps_service.InvalidRequest as invalid:
        return bad_request(str(invalid), invalid.field)
    found = journal_service.find_batches(current_app.config["ENTITY"]).where(
        journal_service.Batch.id == batch_id).first()
    if found is None:
        return error_response(404, _("There is no batch #%(id)s in this company.", id=batch_id))
    rows = journal_service.batch_rows(batch_id, limit=per_page, offset=(page - 1) * per_page)
    return jsonify({**journal_service.batch_summary(found), "rows": rows, "page": page,
                    "per_page": per_page})


@bp.route("/batches/<id:batch_id>/undo", methods=["POST"])
@role_required(permissions.EDITOR)
def undo_batch(batch_id):
    """Undo a batch (editors; managers for setup changes). 409 when already undone."""
    payload = request.get_json(silent=True)
    payload = {} if payload is None and not request.data else payload
    if not isinstance(payload, dict):
        return bad_request(_("Send a JSON object: %(shape)s.", shape='{"dry_run": bool, "force": bool}'))
    for flag in ("dry_run", "force"):
        if flag in payload and not isinstance(payload[flag], bool):
            return bad_request(_("'%(name)s' must be true or false.", name=flag), flag)
    try:
        outcome = undo_service.undo(current_user, batch_id, current_app.config["ENTITY"],
                                    current_app.extensions["autocontact.schema"],
                                    dry_run=payload.get("dry_run") is True,
                                    force=payload.get("force") is True)
    except LookupError as missing:
        return error_response(404, str(missing))
    except undo_service.UndoRefused as refused:
        return error_response(409, str(refused))
    return jsonify(outcome.as_dict())
