"""Error responses: JSON under /api/, a page elsewhere, never a traceback.

Database trouble a user cannot cause and cannot fix either — a deadlock, a lock
held too long by someone else, the connection killed or the server restarting —
is answered with a clear 409 or 503 instead of a 500. Every operation runs in
one transaction, which the database (or peewee's ``atomic`` leaving on the
error) has rolled back by then: nothing was applied, and the same request can
simply be sent again.

Deadlocks are retried here, because with a few people working on the same
thirdparties they are frequent (InnoDB's gap and AUTO-INC locks on the journal
and link tables; a third of the requests of 8 clients on 10 thirdparties) and
the loser's whole transaction is gone: ``DeadlockRetry`` replays the request
from the start (authentication, CSRF, validation, the same transaction) up to
three times more after a short random pause. Nothing else is retried: a lock wait
timeout has already waited for ``innodb_lock_wait_timeout`` seconds, and a lost
connection may come from a server going down.
"""
import io
import random
import time

from flask import current_app, jsonify, render_template, request
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from peewee import DataError, IntegrityError, InterfaceError, OperationalError, PeeweeException
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ..services.permissions import PermissionDenied

# MariaDB/MySQL error numbers (server errors 1xxx, client errors 2xxx).
DEADLOCK = 1213                  # ER_LOCK_DEADLOCK: the transaction was rolled back
# Also conflicts whose transaction is rolled back (by peewee's atomic() if not by the
# server): a deadlock met while taking InnoDB's AUTO-INC lock of an INSERT … SELECT is
# reported as 1467 (ER_AUTOINC_READ_FAILED); 1020 (ER_CHECKREAD) with snapshot isolation.
CONFLICTS = {DEADLOCK, 1467, 1020}
LOCK_WAIT_TIMEOUT = 1205         # ER_LOCK_WAIT_TIMEOUT
CONNECTION_LOST = {
    1053,   # ER_SERVER_SHUTDOWN
    1927,   # ER_CONNECTION_KILLED (KILL <id> from another session)
    1317,   # ER_QUERY_INTERRUPTED (KILL QUERY <id>)
    2002, 2003,   # cannot connect (socket, TCP)
    2006,   # server has gone away
    2013,   # lost connection during query
    2014, 2027, 2055,   # commands out of sync, malformed packet, lost connection (SSL/IO)
}
RETRY_AFTER_SECONDS = 5

CONFLICT_MESSAGE = _l("Someone changed the same data at the same moment. "
                      "Nothing was applied: look again and retry.")
BUSY_MESSAGE = _l("The data is being changed by another operation right now. "
                  "Nothing was applied: try again in a moment.")
UNREACHABLE_MESSAGE = _l("The connection to the Dolibarr database was lost. "
                         "Nothing was applied: try again in a moment.")
# Werkzeug's own descriptions, in the reader's language.
HTTP_MESSAGES = {
    400: _l("The request could not be understood."),
    404: _l("This page does not exist."),
    405: _l("This address does not accept this kind of request."),
    500: _l("Something went wrong on the server. Nothing was applied; the error is logged."),
}


def wants_json():
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def error_response(status, message, **extra):
    """Render an error the way the caller can read it."""
    message = str(message)  # a lazily translated text becomes the reader's language here
    if wants_json():
        return jsonify(error=message, **extra), status
    template = "errors/error.html"
    return render_template(template, status=status, message=message), status


def database_error_kind(error):
    """'deadlock', 'busy', 'lost' for database errors nobody typed, else None (a bug)."""
    if isinstance(error, InterfaceError):
        return "lost"   # the driver's connection is closed or broken
    if not isinstance(error, OperationalError):
        return None
    code = error.args[0] if error.args and isinstance(error.args[0], int) else None
    if code in CONFLICTS:
        return "deadlock"
    if code == LOCK_WAIT_TIMEOUT:
        return "busy"
    if code in CONNECTION_LOST:
        return "lost"
    text = str(error).lower()
    if "database is locked" in text or "database table is locked" in text:   # SQLite
        return "busy"
    return None


def _discard_connection():
    """Close this thread's connection, so the next query (or request) opens a fresh one."""
    database = current_app.extensions.get("autocontact.db")
    if database is None:
        return
    try:
        if database.in_transaction():
            return   # an outer atomic() still unwinding: it closes nothing itself
        database.close()
    except Exception:   # a dead socket may refuse even to close: drop it all the same
        database._state.reset()


def _safe_error_response(status, message, **extra):
    """An error page that still renders when the page itself needs the database."""
    try:
        return error_response(status, message, **extra)
    except Exception:
        current_app.logger.warning("error page not rendered", exc_info=True)
        if wants_json():
            return jsonify(error=message, **extra), status
        body = (f"<!doctype html><title>Error {status}</title><h1>{status}</h1>"
                f"<p>{message}</p>")
        return current_app.response_class(body, status, mimetype="text/html")


def database_error_response(error):
    """The 409/503 for a deadlock, a lock wait or a lost connection; None for anything else."""
    kind = database_error_kind(error)
    if kind is None:
        return None
    current_app.logger.warning("database %s on %s %s: %s", kind, request.method, request.path,
                               error)
    if kind == "lost":
        _discard_connection()
    if kind == "deadlock":
        response = _safe_error_response(409, CONFLICT_MESSAGE, retry=True)
    else:
        response = _safe_error_response(503, BUSY_MESSAGE if kind == "busy"
                                        else UNREACHABLE_MESSAGE, retry=True)
    response = current_app.make_response(response)
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS if kind != "deadlock" else 1)
    if kind == "deadlock":
        response.headers[RETRY_HEADER] = "1"   # DeadlockRetry replays the request
    return response


RETRY_HEADER = "X-Autocontact-Deadlock"   # internal: the response never leaves the app with it


class DeadlockRetry:
    """WSGI middleware: replay a request whose transaction lost a deadlock.

    The request body (at most MAX_CONTENT_LENGTH) is kept so that it can be read
    again. A request is replayed only when the error handler marked its response
    (a deadlock or similar conflict, the transaction rolled back); anything the
    first attempt did — session changes, flashed messages — went out with the
    discarded response, so the replay starts from exactly the same state.
    """

    def __init__(self, wsgi_app, max_body, attempts=4, logger=None):
        self.wsgi_app, self.max_body, self.attempts = wsgi_app, max_body, attempts
        self.logger = logger

    def __call__(self, environ, start_response):
        body = self._body(environ)
        if body is None:
            return self.wsgi_app(environ, start_response)
        for attempt in range(1, self.attempts + 1):
            captured = _Captured()
            result = self.wsgi_app(dict(environ, **{"wsgi.input": io.BytesIO(body)}), captured)
            status, headers, exc_info = captured.args
            marked = any(name == RETRY_HEADER for name, _ in headers)
            if marked and attempt < self.attempts:
                if hasattr(result, "close"):
                    result.close()
                if self.logger:
                    self.logger.warning("deadlock on %s %s: attempt %d of %d, retrying",
                                        environ.get("REQUEST_METHOD"),
                                        environ.get("PATH_INFO"), attempt, self.attempts)
                time.sleep(random.uniform(0.02, 0.15) * attempt)
                continue
            start_response(status, [(n, v) for n, v in headers if n != RETRY_HEADER], exc_info)
            return result

    def _body(self, environ):
        """The body, read once; None when the request is not replayable (no retry then)."""
        if environ.get("REQUEST_METHOD") not in ("POST", "PUT", "PATCH", "DELETE"):
            return None
        length = environ.get("CONTENT_LENGTH") or "0"
        if not length.isdecimal() or int(length) > self.max_body:
            return None
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
            return None
        return environ["wsgi.input"].read(int(length)) if int(length) else b""


class _Captured:
    """A start_response that keeps what the app answered, to decide on a retry."""

    args = None

    def __call__(self, status, headers, exc_info=None):
        self.args = (status, headers, exc_info)
        return self.write

    @staticmethod
    def write(data):
        raise RuntimeError("write() is not supported under DeadlockRetry")


def init_app(app):
    app.wsgi_app = DeadlockRetry(app.wsgi_app, app.config.get("MAX_CONTENT_LENGTH") or 2 ** 21,
                                 logger=app.logger)

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        return error_response(400, _("The form has expired or lacks its security token. "
                                     "Reload the page and try again."))

    @app.errorhandler(PermissionDenied)
    def permission_denied(error):
        return error_response(403, str(error))

    @app.errorhandler(DataError)
    def data_error(error):
        app.logger.warning("value refused by the database: %s", error)
        return error_response(400, _("A value is too long or out of range for the database."))

    @app.errorhandler(IntegrityError)
    def integrity_error(error):
        app.logger.warning("concurrent change: %s", error)
        return error_response(409, CONFLICT_MESSAGE)

    @app.errorhandler(PeeweeException)
    def database_error(error):
        response = database_error_response(error)
        if response is None:
            return unexpected_error(error)
        return response

    @app.errorhandler(RecursionError)
    def too_deep(error):
        # json.loads on a body nested thousands of levels deep (get_json(silent=True)
        # only swallows ValueError): the input is at fault, not the server.
        app.logger.warning("input nested too deeply on %s %s", request.method, request.path)
        return error_response(400, _("The request body is nested too deeply."))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(error):
        limit = app.config.get("MAX_CONTENT_LENGTH") or 0
        return error_response(413, _("The request is too large (at most %(size)s KiB).",
                                     size=format_decimal(limit // 1024)))

    @app.errorhandler(HTTPException)
    def http_error(error):
        default = error.description == type(error).description
        message = HTTP_MESSAGES.get(error.code) if default else error.description
        return error_response(error.code, message or error.name)

    @app.errorhandler(Exception)
    def unexpected_error(error):
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return _safe_error_response(500, HTTP_MESSAGES[500])
