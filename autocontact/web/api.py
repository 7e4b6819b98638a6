"""The JSON API. Session cookie (with CSRF) or HTTP Basic; 401/403 as JSON."""
from flask import Blueprint, current_app, jsonify, request
from flask_login import current_user, login_required

from ..services import documents as documents_service
from ..services import permissions
from ..services import salesreps as salesreps_service
from ..services import settings as settings_service
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
    return body


@bp.route("/settings")
@login_required
def get_settings():
    """Current settings, for editors and managers."""
    if not (current_user.can(permissions.EDITOR) or current_user.can(permissions.MANAGER)):
        return error_response(403, "Settings are readable by editors and managers.")
    return jsonify(_settings_body(current_settings()))


@bp.route("/settings", methods=["PUT"])
@role_required(permissions.MANAGER)
def put_settings():
    """Change some settings (managers). Same validation as the setup page."""
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return bad_request("Send the settings to change as a JSON object.")
    entity = current_app.config["ENTITY"]
    try:
        new = settings_service.apply_changes(current_settings(), payload,
                                             settings_service.choices(entity))
    except settings_service.SettingsInvalid as invalid:
        return bad_request(str(invalid), invalid.field, errors=invalid.errors)
    batch_id = settings_service.save(current_user, entity, new)
    return jsonify({**_settings_body(new), "batch_id": batch_id})


@bp.route("/salesreps", methods=["POST"])
@role_required(permissions.EDITOR)
def salesreps():
    """Assign, unassign, clear or transfer sales reps on thirdparties (editors)."""
    entity = current_app.config["ENTITY"]
    payload = request.get_json(silent=True)
    try:
        parsed = salesreps_service.parse_request(payload, entity, current_settings())
    except salesreps_service.InvalidRequest as invalid:
        return bad_request(str(invalid), invalid.field)
    dry_run = isinstance(payload, dict) and payload.get("dry_run") is True
    outcome = salesreps_service.run(current_user, parsed, entity,
                                    current_app.extensions["autocontact.schema"], dry_run=dry_run)
    return jsonify(outcome.as_dict())


@bp.route("/documents/sync", methods=["POST"])
@role_required(permissions.EDITOR)
def documents_sync():
    """Make document follow-up contacts match the thirdparties' sales reps (editors)."""
    entity = current_app.config["ENTITY"]
    payload = request.get_json(silent=True)
    try:
        parsed = documents_service.parse_request(payload, entity, current_settings())
    except salesreps_service.InvalidRequest as invalid:
        return bad_request(str(invalid), invalid.field)
    dry_run = payload.get("dry_run") is True
    outcome = documents_service.run(current_user, parsed, entity, dry_run=dry_run)
    return jsonify(outcome.as_dict())
