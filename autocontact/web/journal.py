"""The journal: what autocontact changed, batch by batch."""
from flask import Blueprint, abort, current_app, render_template
from flask_login import login_required

from ..services import journal

bp = Blueprint("journal", __name__, url_prefix="/journal")


@bp.route("/<int:batch_id>")
@login_required
def batch(batch_id):
    """One batch: who, when, what, and every row it added or removed."""
    found = journal.batch_detail(batch_id, current_app.config["ENTITY"])
    if found is None:
        abort(404, "No such journal entry in this company.")
    return render_template("journal/batch.html", **found)
