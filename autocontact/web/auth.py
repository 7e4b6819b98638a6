"""Login, logout, and who the current user is on every request.

Sessions live in the signed cookie, and each also has a row on the server
(``LoginSession``) whose random token the cookie carries: logout deletes the row,
so a cookie copied before the logout no longer signs anyone in. The row is read in
the same query as the user on every request, and refreshed every few minutes.
"""
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from peewee import PeeweeException, SqliteDatabase
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from ..dolibarr import connection, models
from ..dolibarr.models import User
from ..dolibarr.tool_tables import LoginSession
from ..extensions import csrf, login_manager
from ..i18n import LABELS
from ..services import auth as auth_service
from ..services import ldap_auth, permissions
from ..services import settings as settings_service
from ..services.directory import user_entities
from .errors import error_response

bp = Blueprint("auth", __name__)


@dataclass
class CurrentUser(permissions.Actor, UserMixin):
    """The Flask-Login user: an Actor whose roles were computed for this request."""

    def get_id(self):
        return str(self.user_id)

    @property
    def role_label(self):
        if self.is_admin:
            return "administrator"
        for role in (permissions.MANAGER, permissions.EDITOR):
            if self.can(role):
                return role
        return permissions.VIEWER


class LoginForm(FlaskForm):
    login = StringField("Login", validators=[DataRequired(), Length(max=255)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    next = HiddenField()


def constants():
    """The AUTOCONTACT_* and related Dolibarr constants, read once per request."""
    if "constants" not in g:
        g.constants = settings_service.read_constants(current_app.config["ENTITY"])
    return g.constants


def current_settings():
    """autocontact's settings for this request (from the same single query)."""
    if "settings" not in g:
        g.settings = settings_service.from_constants(constants())
    return g.settings


def ldap_settings():
    """The LDAP settings checked at start-up (None when LDAP is not used)."""
    return current_app.extensions["autocontact.ldap"]


def safe_next(target):
    """Only the app's own paths: no scheme, no host, no protocol-relative URL."""
    if not target or not isinstance(target, str):
        return None
    try:
        parts = urlsplit(target)
    except ValueError:
        return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") \
            or "\\" in target or any(ord(ch) < 32 for ch in target):
        return None
    return target


# When LDAP does not answer, skip it for a while instead of making every request wait.
_ldap_down_until = 0.0
LDAP_RETRY_SECONDS = 30


def _current_ldap_groups(login):
    """The LDAP groups of a login right now; () when LDAP is down; None when gone."""
    global _ldap_down_until
    if time.monotonic() < _ldap_down_until:
        return ()
    try:
        return ldap_auth.user_groups(ldap_settings(), login)
    except ldap_auth.LdapUnavailable as error:
        current_app.logger.warning("LDAP group roles ignored for %ss: %s", LDAP_RETRY_SECONDS, error)
        _ldap_down_until = time.monotonic() + LDAP_RETRY_SECONDS
        return ()


def _actor_for(user, backend, login, ldap_groups=None):
    """Roles of a Dolibarr user now, or None when they may no longer use the tool.

    ``ldap_groups`` come from the login itself; on later requests they are
    read again from LDAP (when setup lists LDAP groups), so a change of group
    applies at the next request.
    """
    if not auth_service.may_use(user):
        return None
    settings = current_settings()
    if backend == "ldap" and ldap_groups is None and (
            settings.editor_ldap_groups or settings.manager_ldap_groups):
        ldap_groups = _current_ldap_groups(login)
        if ldap_groups is None:  # gone from the directory
            return None
    actor = permissions.compute_roles(user, current_app.config["ENTITY"], settings, ldap_groups)
    return CurrentUser(**vars(actor))


# --- Server-side sessions -----------------------------------------------------------

SESSION_KEY = "auth_session"    # the cookie's token of its LoginSession row
TOUCH_SECONDS = 600             # last_seen is refreshed at most this often
# Lower-case hex: MariaDB compares the column without case and without trailing spaces.
TOKEN = re.compile(r"[0-9a-f]{64}")


def _now():
    return datetime.now().replace(microsecond=0)


def _idle_limit():
    return timedelta(seconds=current_app.permanent_session_lifetime.total_seconds())


def _open_session(user_id):
    """A new server-side session for ``user_id``; its token goes into the cookie.

    Sessions idle for longer than the session lifetime are purged on the way (their
    cookies have expired too).
    """
    now = _now()
    LoginSession.delete().where(LoginSession.last_seen < now - _idle_limit()).execute()
    token = secrets.token_hex(32)
    LoginSession.insert(token=token, user_id=user_id, created_at=now, last_seen=now).execute()
    return token


def _end_session(token):
    if isinstance(token, str) and TOKEN.fullmatch(token):
        LoginSession.delete().where(LoginSession.token == token).execute()


def _touch_session(session_id, now):
    """Record that the session is in use. Never makes the request wait or fail: on
    SQLite a long operation may hold the only writer lock, so this gives up at once
    (the next request tries again); the session stays valid meanwhile."""
    query = LoginSession.update(last_seen=now).where(LoginSession.id == session_id)
    database = models.database.obj
    try:
        if isinstance(database, SqliteDatabase) and database.database not in ("", ":memory:"):
            short = connection.open_database(f"sqlite:///{database.database}", timeout=0.2)
            with short.connection_context():
                query.execute(short)
        else:
            query.execute()
    except PeeweeException as error:
        current_app.logger.info("session %s: last use not recorded (%s)", session_id, error)


@login_manager.user_loader
def load_user(user_id):
    """Reload the Dolibarr user each request, so changes apply at once — with its
    server-side session, in the same query: no session row (logged out), no user."""
    token = session.get(SESSION_KEY)
    if not str(user_id).isdecimal() or not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    user = (User.select(User, LoginSession.id.alias("session_id"),
                        LoginSession.last_seen.alias("session_last_seen"))
            .join(LoginSession, on=(LoginSession.user_id == User.rowid))
            .where(User.rowid == int(user_id), LoginSession.token == token,
                   User.entity.in_(user_entities(current_app.config["ENTITY"])))
            .objects().first())
    if user is None:
        return None
    now = _now()
    last_seen = _as_datetime(user.session_last_seen)
    if last_seen is None or now - last_seen > _idle_limit():
        _end_session(token)
        return None
    if now - last_seen >= timedelta(seconds=TOUCH_SECONDS):
        _touch_session(user.session_id, now)
    return _actor_for(user, session.get("auth_backend"), session.get("auth_login"))


def _as_datetime(value):
    if isinstance(value, datetime) or value is None:
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return None


def _basic_auth_user():
    """HTTP Basic on /api/, with the same backends and throttling as the form."""
    credentials = request.authorization
    if credentials is None or credentials.type != "basic":
        return None
    try:
        result = _authenticate(credentials.username, credentials.password)
    except auth_service.LoginRefused as refused:
        g.auth_refusal = str(refused)
        return None
    return _actor_for(result.user, result.backend, credentials.username, result.ldap_groups)


def _authenticate(login, password):
    config = current_app.config
    return auth_service.authenticate(
        login, password,
        backends=config["AUTH"], entity=config["ENTITY"],
        ldap_settings=ldap_settings(),
        salt=constants().get("MAIN_SECURITY_SALT") or "",
        address=request.remote_addr or "",
    )


def is_api_basic_request():
    """Scripts calling the API with Basic credentials and a JSON body (or a GET).

    A cross-site form cannot send application/json without a CORS preflight,
    so these requests need no CSRF token.
    """
    return (
        request.path.startswith("/api/")
        and request.authorization is not None
        and (request.method in ("GET", "HEAD", "OPTIONS") or request.is_json)
    )


def init_app(app):
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"

    @app.before_request
    def _authenticate_and_protect():
        if request.path.startswith("/api/") and request.authorization is not None:
            # Basic credentials decide who calls, never a cookie riding along.
            g._login_user = _basic_auth_user() or login_manager.anonymous_user()
        if is_api_basic_request():
            return None
        if (request.method not in ("GET", "HEAD", "OPTIONS") and not current_user.is_authenticated
                and request.endpoint != "auth.login"):
            # A session that ended (expired, logged out elsewhere) took its CSRF token with
            # it: send the person to log in and back, rather than a "form expired" error.
            return login_manager.unauthorized()
        csrf.protect()

    @login_manager.unauthorized_handler
    def _unauthorized():
        if request.path.startswith("/api/"):
            response = jsonify(error=str(g.get("auth_refusal") or _("Authentication required.")))
            response.headers["WWW-Authenticate"] = 'Basic realm="autocontact"'
            return response, 401
        next_path = request.full_path.rstrip("?")
        if request.headers.get("HX-Request"):
            # Send the whole page to the login screen, then back to where the user was.
            try:
                current = urlsplit(request.headers.get("HX-Current-URL", ""))
                next_path = current.path + (f"?{current.query}" if current.query else "")
            except ValueError:
                next_path = None
            response = current_app.response_class(status=401)
            response.headers["HX-Redirect"] = url_for("auth.login", next=safe_next(next_path))
            return response
        if request.path != "/":
            flash(_("Please log in to continue."), "info")
        return redirect(url_for("auth.login", next=safe_next(next_path)))


def role_required(role):
    """View decorator: 403 unless the current user has ``role`` right now."""
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not current_user.can(role):
                return error_response(403, _("You need the %(role)s role for this.", role=LABELS[role]))
            return view(*args, **kwargs)
        wrapped.required_role = role  # lets tests walk every route with its role
        return wrapped
    return decorator


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with the company login (LDAP) or the Dolibarr password."""
    # The login is a form post: never read a JSON body as the form (Flask-WTF would build
    # its fields from any JSON value, and a list or a number there was a 500).
    form = LoginForm(formdata=request.form if request.method == "POST" else None)
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next"))
    error = None
    status = 200
    if form.validate_on_submit():
        try:
            result = _authenticate(form.login.data, form.password.data)
        except auth_service.LoginRefused as refused:
            error, status = str(refused), 401
        else:
            # A fresh session at login: nothing from before survives (fixation), and
            # the session this browser had before, if any, ends on the server too.
            _end_session(session.get(SESSION_KEY))
            session.clear()
            session.permanent = True
            session["auth_backend"] = result.backend
            session["auth_login"] = form.login.data.strip()
            actor = _actor_for(result.user, result.backend, form.login.data.strip(),
                               result.ldap_groups)
            session[SESSION_KEY] = _open_session(actor.user_id)
            login_user(actor)
            return redirect(safe_next(form.next.data) or url_for("main.index"))
    elif request.method == "POST":
        status = 400
    demo = None
    if current_app.config["DEMO"]:
        from ..dolibarr import demo as demo_data
        demo = {"logins": demo_data.DEMO_LOGINS, "password": demo_data.DEMO_PASSWORD}
    return render_template("auth/login.html", form=form, error=error, demo=demo), status


@bp.route("/logout", methods=["POST"])
def logout():
    """End the session, on the server first: a copy of the cookie stops working too.
    (If the database cannot be reached, this is a 503 and the session goes on: the
    person is not told they are logged out when they are not.)"""
    _end_session(session.get(SESSION_KEY))
    logout_user()
    session.clear()
    flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))
