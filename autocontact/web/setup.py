"""Setup: contact type per document type, who edits and manages, options.

Each section saves on its own with HTMX and still works as a plain form post.
"""
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from jinja2_fragments.flask import render_block

from ..dolibarr import doctypes
from ..services import permissions
from ..services import settings as settings_service
from .auth import current_settings, role_required
from .errors import error_response

bp = Blueprint("setup", __name__, url_prefix="/setup")
TEMPLATE = "setup/index.html"


def _lines(text):
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def _doc_types_payload(form):
    return {"doc_types": {
        doc_type.element: {
            "enabled": f"{doc_type.element}-enabled" in form,
            "contact_type": form.get(f"{doc_type.element}-contact_type", ""),
            "date_field": form.get(f"{doc_type.element}-date_field", ""),
            "closed_statuses": form.getlist(f"{doc_type.element}-closed"),
            "force_when_module_disabled": f"{doc_type.element}-force" in form,
        }
        for doc_type in doctypes.DOC_TYPES
    }}


def _permissions_payload(form):
    return {
        "editor_groups": form.getlist("editor_groups"),
        "editor_ldap_groups": _lines(form.get("editor_ldap_groups")),
        "manager_groups": form.getlist("manager_groups"),
        "manager_ldap_groups": _lines(form.get("manager_ldap_groups")),
    }


def _options_payload(form):
    return {
        "allow_remove_all": "allow_remove_all" in form,
        "agenda_events": "agenda_events" in form,
        "default_period": form.get("default_period", ""),
        "default_date_from": form.get("default_date_from", ""),
        "default_date_to": form.get("default_date_to", ""),
    }


SECTIONS = {
    "doc_types": _doc_types_payload,
    "permissions": _permissions_payload,
    "options": _options_payload,
}


def _context(settings, available=None, **extra):
    available = available or settings_service.choices(current_app.config["ENTITY"])
    return {"settings": settings, "choices": available,
            "doc_types": doctypes.DOC_TYPES, "periods": settings_service.PERIODS,
            "errors": {}, "saved": None, "form": None, **extra}


@bp.route("")
@role_required(permissions.MANAGER)
def index():
    """The setup screen (managers only)."""
    return render_template(TEMPLATE, **_context(current_settings()))


@bp.route("/<section>", methods=["POST"])
@role_required(permissions.MANAGER)
def save(section):
    """Validate and store one section; errors come back next to their fields."""
    if section not in SECTIONS:
        return error_response(404, _("No such setup section."))
    entity = current_app.config["ENTITY"]
    payload = SECTIONS[section](request.form)
    current = current_settings()
    available = settings_service.choices(entity)
    try:
        new = settings_service.apply_changes(current, payload, available)
        batch_id = settings_service.save(current_user, entity, new)
    except settings_service.SettingsInvalid as invalid:
        context = _context(current, available, errors=invalid.errors, form=request.form,
                           section=section)
        if request.headers.get("HX-Request"):
            return render_block(TEMPLATE, f"{section}_section", **context), 400
        return render_template(TEMPLATE, **context), 400
    message = _("Saved.") if batch_id else _("Nothing changed.")
    if request.headers.get("HX-Request"):
        context = _context(new, available, saved={section: message})
        return render_block(TEMPLATE, f"{section}_section", **context)
    flash(message, "success")
    return redirect(url_for("setup.index"))
