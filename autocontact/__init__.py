"""autocontact: sales representatives and document follow-up contacts for Dolibarr."""
import fcntl
import logging
import os
from pathlib import Path

from flask import Flask, g, request
from flask_babel import gettext as _
from peewee import PeeweeException
from werkzeug.routing import IntegerConverter

from . import config, i18n
from .config import StartupError
from .dolibarr import connection, models
from .dolibarr.schema import SchemaError
from .extensions import csrf, login_manager
from .web.errors import error_response

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config=None):
    """Build the Flask app: settings, database, extensions, blueprints.

    Raises StartupError with a readable message when the configuration or
    the database is not usable.
    """
    test_config = dict(test_config or {})
    environ = test_config.pop("ENVIRON", None)
    environ = os.environ if environ is None else environ
    app = Flask(
        __name__,
        instance_path=str(environ.get("AUTOCONTACT_INSTANCE_PATH") or ROOT / "instance"),
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    settings = config.load(environ, app.instance_path)
    app.config.update(settings)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["HTTPS"],
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=settings["HTTPS"],
        PERMANENT_SESSION_LIFETIME=8 * 3600,
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_CHECK_DEFAULT=False,  # checked in web.auth, which knows API Basic calls
    )
    if test_config:
        app.config.update(test_config)

    if app.config["PROXY_COUNT"]:
        # Behind a reverse proxy: the client's address (login throttling) and scheme.
        from werkzeug.middleware.proxy_fix import ProxyFix
        count = app.config["PROXY_COUNT"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)
    app.url_map.converters["id"] = RowIdConverter
    _init_ldap(app)
    _init_database(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    i18n.init_app(app)

    from .web import (
        api,
        auth,
        errors,
        jobs,
        journal,
        main,
        portfolio,
        reports,
        security,
        setup,
        thirdparties,
    )
    errors.init_app(app)
    security.init_app(app)
    auth.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(main.bp)
    app.register_blueprint(thirdparties.bp)
    app.register_blueprint(journal.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(setup.bp)
    app.register_blueprint(reports.bp)
    app.register_blueprint(portfolio.bp)

    @app.template_global()
    def dolibarr_link(path):
        """A Dolibarr card's URL, when the Dolibarr base URL is known."""
        base = app.config["DOLIBARR_URL"]
        return f"{base}{path}" if base else None
    app.register_blueprint(api.bp)

    from .cli import register
    register(app)

    if not app.debug and not app.testing:
        app.logger.setLevel(logging.INFO)
    return app


class RowIdConverter(IntegerConverter):
    """A database row id in a URL: a positive int that fits Dolibarr's int(11) columns."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=2_147_483_647)


def _init_ldap(app):
    """Read and check the LDAP settings once; a mistake stops the start-up."""
    from .services import ldap_auth
    app.extensions["autocontact.ldap"] = None
    if "ldap" in app.config["AUTH"]:
        try:
            settings = ldap_auth.LdapSettings.from_config(app.config["LDAP"])
            settings.check()
        except ldap_auth.LdapConfigError as error:
            raise StartupError(str(error)) from None
        app.extensions["autocontact.ldap"] = settings


def _init_database(app):
    """Check the database once at start-up; connect per request afterwards."""
    if app.config["DEMO"]:
        demo_path = app.config["DATABASE_URL"].removeprefix("sqlite:///")
        build_demo_once(demo_path, app.config["DB_PREFIX"], app.config["ENTITY"])
    try:
        database, info = connection.prepare(app.config["DATABASE_URL"], app.config["DB_PREFIX"])
    except (connection.DatabaseUnreachable, SchemaError) as error:
        raise StartupError(str(error)) from None
    except PeeweeException as error:
        raise StartupError(f"database error at start-up: {error}") from None
    app.extensions["autocontact.db"] = database
    app.extensions["autocontact.schema"] = info

    @app.before_request
    def _connect():
        if models.database.obj is not database:  # several apps in one process: tests only
            models.database.initialize(database)
            models.bind(info.prefix, info.salesrep_type_code)
        try:
            database.connect(reuse_if_open=True)
        except PeeweeException as error:
            app.logger.error("database unreachable: %s", error)
            if request.endpoint == "main.healthz":
                g.database_error = error.__class__.__name__
                return None
            return error_response(503, _("The Dolibarr database cannot be reached right now. "
                                         "Try again in a moment."))

    @app.teardown_request
    def _close(exc):
        if not database.is_closed():
            database.close()


def build_demo_once(path, prefix, entity):
    """Create and fill the demo database on first start.

    Built in a temporary file and renamed into place, under a lock, so that
    uWSGI workers starting together build it once and never see half of it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if path.exists():
            return
        from .dolibarr import ddl, demo
        partial = path.with_suffix(".building")
        partial.unlink(missing_ok=True)
        database = connection.open_database(f"sqlite:///{partial}")
        models.database.initialize(database)
        models.bind(prefix)
        with database.connection_context():
            ddl.create_dolibarr_tables(database, prefix)
            demo.populate(database, prefix=prefix, entity=entity)
        os.replace(partial, path)
