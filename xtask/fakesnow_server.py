"""fakesnow's server, with DROP DATABASE.

fakesnow 0.12.1 (the newest on PyPI) turns CREATE DATABASE into DuckDB's ATTACH but passes
DROP DATABASE through to DuckDB, which cannot parse it (observed: "Parser Error: syntax error
at or near DATABASE"). Warden's delete and rollback scripts end with DROP DATABASE, and its
tests check that the database is gone; so this launcher adds the missing half the way fakesnow
does the first: DROP DATABASE [IF EXISTS] name detaches the DuckDB database of that name, and a
missing one is Snowflake's error 002003. Nothing else of fakesnow is changed. Run it with the fakesnow virtualenv's Python and fakesnow's own
arguments (`-s --host 127.0.0.1 -p PORT`).
"""

import re
import sys

import duckdb
import snowflake.connector.errors
from fakesnow import cli
from fakesnow.cursor import FakeSnowflakeCursor

DROP_DATABASE = re.compile(r'^\s*DROP\s+DATABASE\s+(IF\s+EXISTS\s+)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\s*;?\s*$', re.I)
_execute = FakeSnowflakeCursor.execute


def execute(self, command, *args, **kwargs):
    drop = DROP_DATABASE.match(command) if isinstance(command, str) else None
    if drop is None:
        return _execute(self, command, *args, **kwargs)
    quoted = drop.group(2)
    # fakesnow attaches a database under its name as written (quotes taken off, case kept).
    name = quoted[1:-1].replace('""', '"') if quoted.startswith('"') else quoted.upper()
    if_exists = "IF EXISTS " if drop.group(1) else ""
    try:
        # Snowflake drops the session's current database too (the session then has none);
        # DuckDB detaches only a database that is not its default, so step off it first.
        (current,) = self._duck_conn.execute("SELECT current_database()").fetchone()
        if current == name:
            self._duck_conn.execute("USE memory")
        self._duck_conn.execute(f'DETACH DATABASE {if_exists}"{name.replace(chr(34), chr(34) * 2)}"')
    except duckdb.Error as e:
        raise snowflake.connector.errors.ProgrammingError(
            msg=f"Database '{name}' does not exist or not authorized.", errno=2003, sqlstate="02000"
        ) from e
    if self._conn.database == name:
        self._conn.database = None
        self._conn._schema = None
    status = f"{name} successfully dropped.".replace("'", "''")
    return _execute(self, f"SELECT '{status}' AS \"status\"", *args, **kwargs)


FakeSnowflakeCursor.execute = execute

if __name__ == "__main__":
    sys.exit(cli.main())
