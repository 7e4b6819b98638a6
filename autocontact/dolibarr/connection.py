"""Open the database named by a URL and prepare it for the tool."""
from urllib.parse import urlsplit

from peewee import InterfaceError, MySQLDatabase, OperationalError
from playhouse.db_url import connect
from playhouse.migrate import SchemaMigrator, migrate

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


def open_database(url, timeout=10):
    """Return an unconnected peewee database for ``url``."""
    scheme = urlsplit(url).scheme
    if scheme.startswith("sqlite"):
        return connect(url, pragmas={"journal_mode": "wal", "busy_timeout": int(timeout * 1000),
                                     "foreign_keys": 0}, timeout=timeout)
    if scheme.startswith("mysql"):
        return connect(url, charset="utf8mb4")
    raise DatabaseUnreachable(f"unsupported database URL scheme '{scheme}': use sqlite:// or mysql://")


def _create_tool_tables(database):
    """Create the tool's own tables once, even when uWSGI workers start together."""
    if isinstance(database, MySQLDatabase):
        # MySQL has no CREATE INDEX IF NOT EXISTS in peewee: serialise the workers.
        database.execute_sql("SELECT GET_LOCK('autocontact_schema', 60)")
        try:
            _create_or_complete(database)
        finally:
            database.execute_sql("SELECT RELEASE_LOCK('autocontact_schema')")
    else:
        with database.atomic():
            _create_or_complete(database)


def _create_or_complete(database):
    """Create missing tool tables; add the columns and indexes a newer version of the
    tool declares (``create_tables(safe=True)`` leaves an existing table as it is).

    Only the tool's own tables (prefix + autocontact_) are ever touched.
    """
    database.create_tables(tool_tables.TOOL_MODELS, safe=True)
    migrator = SchemaMigrator.from_database(database)
    for model in tool_tables.TOOL_MODELS:
        table = model._meta.table_name
        existing = {column.name for column in database.get_columns(table)}
        missing = [field for field in model._meta.sorted_fields if field.column_name not in existing]
        if missing:
            migrate(*(migrator.add_column(table, field.column_name, field) for field in missing))
        indexes = missing_indexes(database, model)
        if indexes:
            migrate(*(migrator.add_index(table, columns, unique, name=name)
                      for name, columns, unique in indexes))


def missing_indexes(database, model):
    """The indexes ``model`` declares that its table lacks: [(name, columns, unique)].

    An index counts as present when one of that name, or on the same columns in the same
    order, exists (whatever created it).
    """
    present = database.get_indexes(model._meta.table_name)
    names = {index.name for index in present}
    columns = {tuple(index.columns) for index in present}
    wanted = []
    for index in model._meta.fields_to_index():
        index_columns = tuple(field.column_name for field in index._expressions)
        if index._name not in names and index_columns not in columns:
            wanted.append((index._name, index_columns, index._unique))
    return wanted


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
