"""Languages: English and Italian (Flask-Babel), chosen as Dolibarr would.

The language is the Dolibarr user's own setting (``llx_user.lang``), else the
company default (``MAIN_LANG_DEFAULT``, unless "auto"), else the browser's
Accept-Language, else English. Dates and numbers are formatted per locale by
the template filters below. Catalogs: ``translations/<lang>/LC_MESSAGES``
(``make translations`` extracts and compiles them).
"""
from flask import g, has_request_context, request
from flask_babel import Babel, format_date, format_datetime, format_decimal
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import PeeweeException

LANGUAGES = ("en", "it")
DEFAULT = "en"

babel = Babel()


# Words the services store or return as codes (journal actions and states, undo
# conflicts, role reasons), shown in the reader's language by the ``label`` global.
LABELS = {
    "assign": _l("assign"), "unassign": _l("unassign"), "clear": _l("remove all"),
    "transfer": _l("transfer"), "documents_sync": _l("documents sync"),
    "documents_replace": _l("documents replace"), "settings": _l("setup"), "undo": _l("undo"),
    "applied": _l("applied"), "undone": _l("undone"), "partly_undone": _l("partly undone"),
    "link": _l("Sales-rep link"), "contact": _l("Document contact"), "setting": _l("Setting"),
    "removed by the batch; the thirdparty or user is gone since":
        _l("removed by the batch; the thirdparty or user is gone since"),
    "added by the batch, removed since": _l("added by the batch, removed since"),
    "removed by the batch, added again since": _l("removed by the batch, added again since"),
    "removed by the batch; the document is gone since":
        _l("removed by the batch; the document is gone since"),
    "added by the batch, removed or changed since":
        _l("added by the batch, removed or changed since"),
    "changed again since": _l("changed again since"),
    "viewer": _l("viewer"), "editor": _l("editor"), "manager": _l("manager"),
    "administrator": _l("administrator"),
    "internal user": _l("internal user"), "Dolibarr administrator": _l("Dolibarr administrator"),
    "member of a Dolibarr group with this role": _l("member of a Dolibarr group with this role"),
    "member of an LDAP group with this role": _l("member of an LDAP group with this role"),
    "Starting": _l("Starting"), "Done": _l("Done"),
    "added": _l("added"), "removed": _l("removed"),
    "The operation was interrupted (its worker or the database stopped); nothing was changed — "
    "you can run it again.": _l("The operation was interrupted (its worker or the database "
                                "stopped); nothing was changed — you can run it again."),
    "The operation failed and nothing was changed.":
        _l("The operation failed and nothing was changed."),
}


def language_of(dolibarr_lang):
    """'it_IT', 'it', 'en_US' → 'it' / 'en'; None when unknown or 'auto'."""
    if not dolibarr_lang:
        return None
    code = str(dolibarr_lang).split("_")[0].split("-")[0].lower()
    return code if code in LANGUAGES else None


def select_locale():
    if not has_request_context():
        return DEFAULT
    if "locale" not in g:
        # Provisional while the user loads (a message translated meanwhile uses it).
        g.locale = request.accept_languages.best_match(LANGUAGES) or DEFAULT
        g.locale = _request_locale()
    return g.locale


def _request_locale():
    from .web.auth import constants  # the request's single read of the constants
    try:
        chosen = (language_of(getattr(current_user, "lang", None))
                  or language_of(constants().get("MAIN_LANG_DEFAULT")))
    except PeeweeException:  # database down: the 503 page still needs a language
        chosen = None
    return chosen or request.accept_languages.best_match(LANGUAGES) or DEFAULT


def init_app(app):
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(app.root_path + "/../translations"))
    babel.init_app(app, locale_selector=select_locale)

    @app.template_filter("number")
    def number(value):
        """1240 → "1,240" (en) / "1.240" (it)."""
        return format_decimal(value or 0)

    @app.template_filter("date")
    def date(value):
        if not value:
            return ""
        if isinstance(value, str):
            return value
        return format_date(value, "medium")

    @app.template_filter("datetime")
    def datetime(value):
        if not value:
            return ""
        if isinstance(value, str):
            return value
        return format_datetime(value, "medium")

    @app.context_processor
    def _language():
        return {"current_language": select_locale()}

    app.jinja_env.policies["ext.i18n.trimmed"] = True
    app.jinja_env.globals["label"] = lambda code: LABELS.get(code, code)
