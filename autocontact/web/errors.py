"""Error responses: JSON under /api/, a page elsewhere, never a traceback."""
from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from peewee import DataError, IntegrityError
from werkzeug.exceptions import HTTPException, InternalServerError

from ..services.permissions import PermissionDenied


def wants_json():
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def error_response(status, message, **extra):
    """Render an error the way the caller can read it."""
    if wants_json():
        return jsonify(error=message, **extra), status
    template = "errors/error.html"
    return render_template(template, status=status, message=message), status


def init_app(app):
    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_response(400, "The form has expired or lacks its security token. "
                                   "Reload the page and try again.")

    @app.errorhandler(PermissionDenied)
    def permission_denied(error):
        return error_response(403, str(error))

    @app.errorhandler(DataError)
    def data_error(error):
        app.logger.warning("value refused by the database: %s", error)
        return error_response(400, "A value is too long or out of range for the database.")

    @app.errorhandler(IntegrityError)
    def integrity_error(error):
        app.logger.warning("concurrent change: %s", error)
        return error_response(409, "Someone changed the same data at the same moment. "
                                   "Nothing was applied: look again and retry.")

    @app.errorhandler(HTTPException)
    def http_error(error):
        return error_response(error.code, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected_error(error):
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return error_response(500, InternalServerError.description)
