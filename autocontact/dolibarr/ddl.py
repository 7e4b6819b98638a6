"""Turn Dolibarr's MariaDB table definitions into SQLite ones.

The embedded demo database is built from Dolibarr's real schema
(``sql/dolibarr-23.0.0-schema.sql``) so that the demo has exactly the
tables and columns of a real installation, not a simplified copy.
"""
import re
from pathlib import Path

SCHEMA_23 = Path(__file__).with_name("sql") / "dolibarr-23.0.0-schema.sql"

_TABLE = re.compile(r"CREATE TABLE `([^`]+)` \((.*?)\n\) ENGINE=[^;]*;", re.S)
_KEY = re.compile(r"^(UNIQUE )?KEY `([^`]+)` \((.*)\)$")


def _column(line):
    line = re.sub(r" ON UPDATE current_timestamp\(\)", "", line)
    line = line.replace("current_timestamp()", "CURRENT_TIMESTAMP")
    line = re.sub(r" (CHARACTER SET|COLLATE) \w+", "", line)
    line = re.sub(r" COMMENT '(?:[^'\\]|\\.)*'", "", line)
    line = line.replace(" unsigned", "")
    if "AUTO_INCREMENT" in line:
        name = line.split()[0]
        return f"{name} INTEGER PRIMARY KEY AUTOINCREMENT"
    return line


def mysql_to_sqlite(sql, prefix="llx_"):
    """Return SQLite statements creating the tables of a MariaDB dump.

    Foreign keys are dropped (the dump references tables it does not hold);
    keys become indexes named after their table, since SQLite index names
    are global.
    """
    statements = []
    for table, body in _TABLE.findall(sql):
        table = prefix + table.removeprefix("llx_")
        columns, indexes = [], []
        has_autoincrement = "AUTO_INCREMENT" in body
        for raw in body.split("\n"):
            line = raw.strip().rstrip(",")
            if not line or line.startswith("CONSTRAINT"):
                continue
            key = _KEY.match(line)
            if key:
                unique, name, cols = key.groups()
                cols = re.sub(r"\(\d+\)", "", cols)  # prefix lengths
                indexes.append(
                    f"CREATE {unique or ''}INDEX `{table}__{name}` ON `{table}` ({cols})"
                )
            elif line.startswith("PRIMARY KEY"):
                if not has_autoincrement:
                    columns.append(line)
            else:
                columns.append(_column(line))
        statements.append(f"CREATE TABLE `{table}` (\n  " + ",\n  ".join(columns) + "\n)")
        statements.extend(indexes)
    return statements


def create_dolibarr_tables(database, prefix="llx_", schema_file=SCHEMA_23):
    """Create Dolibarr's tables in an SQLite database (demo and tests only)."""
    for statement in mysql_to_sqlite(Path(schema_file).read_text(), prefix):
        database.execute_sql(statement)
