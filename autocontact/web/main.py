"""Home page and health check."""
from flask import Blueprint, current_app, g, jsonify, render_template
from flask_login import login_required
from peewee import PeeweeException

from ..dolibarr.models import UserGroup
from ..services import directory
from .auth import current_settings

bp = Blueprint("main", __name__)


@bp.route("/")
@login_required
def index():
    """Overview of the company's thirdparties, reps and documents."""
    overview = directory.company_overview(current_app.config["ENTITY"])
    settings = current_settings()
    wanted = set(settings.editor_groups) | set(settings.manager_groups)
    names = {group.rowid: group.name for group in
             UserGroup.select(UserGroup.rowid, UserGroup.name)
             .where(UserGroup.rowid.in_(wanted), UserGroup.entity == current_app.config["ENTITY"])}
    access = {
        "editor_groups": [names[g] for g in settings.editor_groups if g in names]
        + list(settings.editor_ldap_groups),
        "manager_groups": [names[g] for g in settings.manager_groups if g in names]
        + list(settings.manager_ldap_groups),
    }
    return render_template("main/index.html", overview=overview, access=access)


@bp.route("/healthz")
def healthz():
    """Monitoring: database reachable, Dolibarr tables found, schema variant."""
    database = current_app.extensions["autocontact.db"]
    info = current_app.extensions["autocontact.schema"]
    error = g.get("database_error")
    if error is None:
        try:
            database.execute_sql("SELECT 1").fetchone()
        except PeeweeException as exc:
            error = exc.__class__.__name__
    reachable = error is None
    body = {
        "status": "ok" if reachable else "error",
        "database": {
            "reachable": reachable,
            "engine": current_app.config["DATABASE_URL"].split(":", 1)[0],
            "demo": current_app.config["DEMO"],
        },
        "dolibarr": info.as_dict(),
        "entity": current_app.config["ENTITY"],
    }
    if error:
        body["database"]["error"] = error
    return jsonify(body), 200 if reachable else 503
