"""Progress of long operations: a bar the page polls until the summary comes."""
import json

from flask import Blueprint, current_app, render_template
from flask_babel import gettext as _
from flask_login import login_required
from jinja2_fragments.flask import render_block

from ..services import jobs
from .errors import error_response

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


def progress_response(job):
    """The progress fragment; when the job has ended, the summary and a refresh event."""
    result = json.loads(job.result) if job.result else None
    response = current_app.make_response(
        render_block("jobs/progress.html", "progress", job=job, result=result))
    if job.state == "done":
        response.headers["HX-Trigger"] = "salesreps-changed, documents-changed, journal-changed"
    return response


@bp.route("/<id:job_id>")
@login_required
def progress(job_id):
    """One job's progress (any worker answers: the state is in the database)."""
    job = jobs.get(job_id, current_app.config["ENTITY"])
    if job is None:
        return error_response(404, _("No such background operation."))
    return progress_response(job)


@bp.route("/<id:job_id>/page")
@login_required
def page(job_id):
    """The same as a page of its own, for a link from the journal."""
    job = jobs.get(job_id, current_app.config["ENTITY"])
    if job is None:
        return error_response(404, _("No such background operation."))
    result = json.loads(job.result) if job.result else None
    return render_template("jobs/progress.html", job=job, result=result, standalone=True)
