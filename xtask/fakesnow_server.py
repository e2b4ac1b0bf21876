"""fakesnow's server, with DROP DATABASE, and SHOW ROLES / SHOW GRANTS as a stand-in.

fakesnow 0.12.1 (the newest on PyPI) turns CREATE DATABASE into DuckDB's ATTACH but passes
DROP DATABASE through to DuckDB, which cannot parse it (observed: "Parser Error: syntax error
at or near DATABASE"). Warden's delete and rollback scripts end with DROP DATABASE, and its
tests check that the database is gone; so this launcher adds the missing half the way fakesnow
does the first: DROP DATABASE [IF EXISTS] name detaches the DuckDB database of that name, and a
missing one is Snowflake's error 002003.

fakesnow has no roles (CREATE ROLE and GRANT go through its `nop_regexes`, doing nothing), and
answers SHOW ROLES and SHOW GRANTS with an error. So that Warden's checks of an automatic setup
can run end to end, this launcher answers them as a STAND-IN, in the column layout Snowflake
documents for each, for an account with no roles of its own whose every user is an account
administrator (fakesnow lets anyone do anything): SHOW ROLES lists nothing; SHOW GRANTS TO
USER names ACCOUNTADMIN; SHOW GRANTS TO ROLE follows Snowflake's system role hierarchy
(ACCOUNTADMIN has USAGE on SYSADMIN and SECURITYADMIN, SECURITYADMIN on USERADMIN). What Warden
reads from richer answers is tested against crates/snowflake/tests/stand_in.rs. Nothing else
of fakesnow is changed. Run it with the fakesnow virtualenv's Python and fakesnow's own
arguments (`-s --host 127.0.0.1 -p PORT`).
"""

import re
import sys

import duckdb
import snowflake.connector.errors
from fakesnow import cli
from fakesnow.cursor import FakeSnowflakeCursor

DROP_DATABASE = re.compile(r'^\s*DROP\s+DATABASE\s+(IF\s+EXISTS\s+)?("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\s*;?\s*$', re.I)
SHOW_ROLES = re.compile(r"^\s*SHOW\s+ROLES\b", re.I)
SHOW_GRANTS_TO = re.compile(r'^\s*SHOW\s+GRANTS\s+TO\s+(USER|ROLE)\s+("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_$]*)\s*;?\s*$', re.I)
ROLE_COLUMNS = ["created_on", "name", "is_default", "is_current", "is_inherited", "assigned_to_users",
                "granted_to_roles", "granted_roles", "owner", "comment"]
USER_GRANT_COLUMNS = ["created_on", "role", "granted_to", "grantee_name", "granted_by"]
ROLE_GRANT_COLUMNS = ["created_on", "privilege", "granted_on", "name", "granted_to", "grantee_name", "grant_option",
                      "granted_by"]
SYSTEM_ROLES = {"ACCOUNTADMIN": ["SYSADMIN", "SECURITYADMIN"], "SECURITYADMIN": ["USERADMIN"]}
_execute = FakeSnowflakeCursor.execute


def literal(value):
    return "'" + str(value).replace("'", "''") + "'"


def answer(self, columns, rows, *args, **kwargs):
    """Runs a SELECT whose result has `columns` (named exactly so) and `rows` (strings)."""
    names = ", ".join('"' + c + '"' for c in columns)
    if not rows:
        nulls = ", ".join("CAST(NULL AS VARCHAR)" for _ in columns)
        return _execute(self, f"SELECT * FROM (SELECT {nulls}) AS t({names}) WHERE 1 = 0", *args, **kwargs)
    values = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    return _execute(self, f"SELECT * FROM (VALUES {values}) AS t({names})", *args, **kwargs)


def unquote(name):
    return name[1:-1].replace('""', '"') if name.startswith('"') else name.upper()


def execute(self, command, *args, **kwargs):
    if not isinstance(command, str):
        return _execute(self, command, *args, **kwargs)
    if SHOW_ROLES.match(command):
        return answer(self, ROLE_COLUMNS, [], *args, **kwargs)
    grants = SHOW_GRANTS_TO.match(command)
    if grants:
        grantee = unquote(grants.group(2))
        if grants.group(1).upper() == "USER":
            rows = [["2026-01-01 00:00:00.000 +0000", "ACCOUNTADMIN", "USER", grantee, ""]]
            return answer(self, USER_GRANT_COLUMNS, rows, *args, **kwargs)
        rows = [["2026-01-01 00:00:00.000 +0000", "USAGE", "ROLE", child, "ROLE", grantee, "false", ""]
                for child in SYSTEM_ROLES.get(grantee, [])]
        return answer(self, ROLE_GRANT_COLUMNS, rows, *args, **kwargs)
    drop = DROP_DATABASE.match(command)
    if drop is None:
        return _execute(self, command, *args, **kwargs)
    # fakesnow attaches a database under its name as written (quotes taken off, case kept).
    name = unquote(drop.group(2))
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
