"""Open the database named by a URL and prepare it for the tool."""
from urllib.parse import urlsplit

from peewee import InterfaceError, MySQLDatabase, OperationalError
from playhouse.db_url import connect

from . import models, schema, tool_tables


class DatabaseUnreachable(Exception):
    """The database cannot be reached."""


def describe(url):
    """The URL without its password, for messages and /healthz."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(":" + parts.password + "@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


def open_database(url):
    """Return an unconnected peewee database for ``url``."""
    scheme = urlsplit(url).scheme
    if scheme.startswith("sqlite"):
        return connect(url, pragmas={"journal_mode": "wal", "busy_timeout": 10000,
                                     "foreign_keys": 0}, timeout=10)
    if scheme.startswith("mysql"):
        return connect(url, charset="utf8mb4")
    raise DatabaseUnreachable(f"unsupported database URL scheme '{scheme}': use sqlite:// or mysql://")


def _create_tool_tables(database):
    """Create the tool's own tables once, even when uWSGI workers start together."""
    if isinstance(database, MySQLDatabase):
        # MySQL has no CREATE INDEX IF NOT EXISTS in peewee: serialise the workers.
        database.execute_sql("SELECT GET_LOCK('autocontact_schema', 60)")
        try:
            database.create_tables(tool_tables.TOOL_MODELS, safe=True)
        finally:
            database.execute_sql("SELECT RELEASE_LOCK('autocontact_schema')")
    else:
        with database.atomic():
            database.create_tables(tool_tables.TOOL_MODELS, safe=True)


def prepare(url, prefix):
    """Connect, detect the schema, create the tool's own tables if missing.

    Returns (database, SchemaInfo).
    """
    database = open_database(url)
    models.database.initialize(database)
    models.bind(prefix)
    try:
        database.connect(reuse_if_open=True)
    except (OperationalError, InterfaceError) as error:
        raise DatabaseUnreachable(f"cannot connect to {describe(url)}: {error}") from None
    try:
        info = schema.detect(database, prefix)
        models.bind(prefix, info.salesrep_type_code)
        _create_tool_tables(database)
    finally:
        database.close()
    return database, info
