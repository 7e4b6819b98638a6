"""Settings from the environment and, when given, Dolibarr's conf.php.

Precedence: explicit ``AUTOCONTACT_*`` environment variables, then conf.php,
then the defaults below. With no database configured at all, the embedded
SQLite demo is used.
"""
import os
import secrets
import time
from pathlib import Path
from urllib.parse import quote

from .dolibarr.conf_php import ConfPhpError, read_conf_php


class StartupError(Exception):
    """A configuration problem worth a one-line message, not a traceback."""


DEFAULTS = {
    "DB_PREFIX": "llx_",
    "ENTITY": 1,
    "DOLIBARR_URL": "",
    "AUTH": ["dolibarr"],
    "HTTPS": False,
    "PROXY_COUNT": 0,
    "LDAP": {},
}

# conf.php LDAP keys -> our LDAP settings keys
_LDAP_KEYS = {
    "dolibarr_main_auth_ldap_host": "host",
    "dolibarr_main_auth_ldap_port": "port",
    "dolibarr_main_auth_ldap_version": "version",
    "dolibarr_main_auth_ldap_servertype": "servertype",
    "dolibarr_main_auth_ldap_login_attribute": "login_attribute",
    "dolibarr_main_auth_ldap_dn": "dn",
    "dolibarr_main_auth_ldap_filter": "filter",
    "dolibarr_main_auth_ldap_admin_login": "admin_login",
    "dolibarr_main_auth_ldap_admin_pass": "admin_pass",
}
# environment variables -> our LDAP settings keys (these win over conf.php)
_LDAP_ENV = {
    "AUTOCONTACT_LDAP_HOST": "host",
    "AUTOCONTACT_LDAP_PORT": "port",
    "AUTOCONTACT_LDAP_VERSION": "version",
    "AUTOCONTACT_LDAP_LOGIN_ATTRIBUTE": "login_attribute",
    "AUTOCONTACT_LDAP_DN": "dn",
    "AUTOCONTACT_LDAP_FILTER": "filter",
    "AUTOCONTACT_LDAP_ADMIN_LOGIN": "admin_login",
    "AUTOCONTACT_LDAP_ADMIN_PASS": "admin_pass",
    "AUTOCONTACT_LDAP_STARTTLS": "starttls",
    "AUTOCONTACT_LDAP_CA_FILE": "ca_file",
    "AUTOCONTACT_LDAP_GROUP_BASE": "group_base",
}


def _database_url_from_conf(conf):
    db_type = str(conf.get("dolibarr_main_db_type", "mysqli")).lower()
    if db_type not in ("mysql", "mysqli"):
        raise StartupError(
            f"conf.php says the database type is '{db_type}': autocontact supports MySQL/MariaDB"
        )
    host = conf.get("dolibarr_main_db_host") or "localhost"
    port = conf.get("dolibarr_main_db_port") or 3306
    name = conf.get("dolibarr_main_db_name")
    if not name:
        raise StartupError("conf.php has no $dolibarr_main_db_name")
    user = quote(str(conf.get("dolibarr_main_db_user") or ""), safe="")
    password = quote(str(conf.get("dolibarr_main_db_pass") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    return f"mysql://{credentials}{host}:{port}/{name}"


def _auth_list(value):
    return [part.strip().lower() for part in str(value).split(",") if part.strip()]


def _truthy(value):
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def load(environ=None, instance_path=None):
    """Return the app settings as a dict of Flask config keys."""
    environ = os.environ if environ is None else environ
    settings = dict(DEFAULTS, LDAP={})
    conf_path = environ.get("AUTOCONTACT_DOLIBARR_CONF")
    if conf_path:
        try:
            conf = read_conf_php(conf_path)
        except ConfPhpError as error:
            raise StartupError(str(error)) from None
        settings["DATABASE_URL"] = _database_url_from_conf(conf)
        settings["DB_PREFIX"] = conf.get("dolibarr_main_db_prefix") or "llx_"
        if conf.get("dolibarr_main_authentication"):
            settings["AUTH"] = _auth_list(conf["dolibarr_main_authentication"])
        if conf.get("dolibarr_main_url_root"):
            settings["DOLIBARR_URL"] = str(conf["dolibarr_main_url_root"])
        settings["LDAP"] = {ours: conf[theirs] for theirs, ours in _LDAP_KEYS.items()
                            if conf.get(theirs) not in (None, "")}
        settings["DOLIBARR_CONF"] = conf_path

    if environ.get("AUTOCONTACT_DATABASE_URL"):
        settings["DATABASE_URL"] = environ["AUTOCONTACT_DATABASE_URL"]
    if environ.get("AUTOCONTACT_DB_PREFIX"):
        settings["DB_PREFIX"] = environ["AUTOCONTACT_DB_PREFIX"]
    if environ.get("AUTOCONTACT_ENTITY"):
        try:
            settings["ENTITY"] = int(environ["AUTOCONTACT_ENTITY"])
        except ValueError:
            raise StartupError("AUTOCONTACT_ENTITY must be a whole number") from None
    if environ.get("AUTOCONTACT_DOLIBARR_URL"):
        settings["DOLIBARR_URL"] = environ["AUTOCONTACT_DOLIBARR_URL"]
    settings["DOLIBARR_URL"] = settings["DOLIBARR_URL"].rstrip("/")
    if environ.get("AUTOCONTACT_AUTH"):
        settings["AUTH"] = _auth_list(environ["AUTOCONTACT_AUTH"])
    if environ.get("AUTOCONTACT_HTTPS"):
        settings["HTTPS"] = _truthy(environ["AUTOCONTACT_HTTPS"])
    proxies = environ.get("AUTOCONTACT_PROXY_COUNT", "0")
    if not proxies.isdecimal():
        raise StartupError("AUTOCONTACT_PROXY_COUNT must be a whole number (0 without a proxy)")
    settings["PROXY_COUNT"] = int(proxies)
    background = environ.get("AUTOCONTACT_BACKGROUND_ROWS", "20000")
    if not background.isdecimal():
        raise StartupError("AUTOCONTACT_BACKGROUND_ROWS must be a whole number of rows")
    settings["BACKGROUND_ROWS"] = int(background)
    for variable, key in _LDAP_ENV.items():
        if environ.get(variable):
            settings["LDAP"][key] = environ[variable]

    unknown = [name for name in settings["AUTH"] if name not in ("dolibarr", "ldap")]
    if unknown:
        raise StartupError(
            f"authentication mode(s) {', '.join(unknown)} not supported: use dolibarr and/or ldap"
        )
    if "ldap" in settings["AUTH"] and not settings["LDAP"].get("host"):
        raise StartupError("LDAP authentication is enabled but no LDAP host is configured")

    settings["DEMO"] = "DATABASE_URL" not in settings
    if settings["DEMO"]:
        path = Path(instance_path) / "demo.sqlite"
        settings["DATABASE_URL"] = f"sqlite:///{path}"

    secret = environ.get("SECRET_KEY")
    if not secret and settings["DEMO"]:
        secret = _demo_secret(Path(instance_path))
    if not secret:
        raise StartupError("SECRET_KEY must be set (the demo database is the only exception)")
    settings["SECRET_KEY"] = secret
    return settings


def _demo_secret(instance_path):
    """Generate the demo's secret key once and keep it in instance/."""
    instance_path.mkdir(parents=True, exist_ok=True)
    key_file = instance_path / "secret_key"
    try:
        # O_EXCL: workers starting together create it once and all read the same key.
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    for _ in range(50):  # another worker may be writing it this very moment
        key = key_file.read_text().strip()
        if key:
            return key
        time.sleep(0.02)
    raise StartupError(f"{key_file} is empty: delete it and start again")
