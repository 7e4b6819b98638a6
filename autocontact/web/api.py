"""The JSON API. Session cookie (with CSRF) or HTTP Basic; 401/403 as JSON."""
from flask import Blueprint, jsonify
from flask_login import current_user, login_required

bp = Blueprint("api", __name__, url_prefix="/api")


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
