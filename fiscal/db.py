"""Database-level immutability of sealed records: triggers on SQLite and PostgreSQL.

Migration 0002 creates the triggers (its own copy of this SQL, so later edits here never change an
applied migration); `ensure_triggers()` re-creates them (tests that drop them to simulate an attacker,
repairs) and `triggers_present()` lets `fiscal_verify` warn when they are gone.

SQLite: UPDATE is always refused. DELETE is refused unless the application-defined SQL function
`fiscal_delete_refused()` says 0, which it does only while Django's flush empties the whole database
(test teardown, `manage.py flush`). Outside Brigade (the sqlite3 shell) the function does not exist,
so any DELETE fails. A future migration that rebuilds the table on SQLite (most ALTERs) drops its
triggers: it must call `ensure_triggers()` again.

PostgreSQL: a row-level trigger refuses UPDATE and DELETE. TRUNCATE (statement-level, needs table
ownership; Django's flush uses it) is not blocked: tail truncation is caught against the cloud's mark.
"""

import sys

from django.db import connection as default_connection
from django.db.backends.signals import connection_created
from django.dispatch import receiver

TABLE = "fiscal_sealedrecord"

SQLITE_CREATE = [
    f"""CREATE TRIGGER IF NOT EXISTS fiscal_sealedrecord_no_update BEFORE UPDATE ON {TABLE}
        BEGIN SELECT RAISE(ABORT, 'fiscal: sealed records cannot be updated'); END""",
    f"""CREATE TRIGGER IF NOT EXISTS fiscal_sealedrecord_no_delete BEFORE DELETE ON {TABLE}
        WHEN fiscal_delete_refused()
        BEGIN SELECT RAISE(ABORT, 'fiscal: sealed records cannot be deleted'); END""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS fiscal_sealedrecord_no_update",
    "DROP TRIGGER IF EXISTS fiscal_sealedrecord_no_delete",
]
POSTGRES_CREATE = [
    """CREATE OR REPLACE FUNCTION fiscal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN RAISE EXCEPTION 'fiscal: sealed records cannot be changed (% refused)', TG_OP; END $$""",
    f"DROP TRIGGER IF EXISTS fiscal_sealedrecord_immutable ON {TABLE}",
    f"""CREATE TRIGGER fiscal_sealedrecord_immutable BEFORE UPDATE OR DELETE ON {TABLE}
        FOR EACH ROW EXECUTE FUNCTION fiscal_refuse_change()""",
]
POSTGRES_DROP = [
    f"DROP TRIGGER IF EXISTS fiscal_sealedrecord_immutable ON {TABLE}",
    "DROP FUNCTION IF EXISTS fiscal_refuse_change()",
]


def _statements(vendor: str, create: bool) -> list[str]:
    if vendor == "sqlite":
        return SQLITE_CREATE if create else SQLITE_DROP
    if vendor == "postgresql":
        return POSTGRES_CREATE if create else POSTGRES_DROP
    return []  # other databases: model- and admin-level protection only


def ensure_triggers(connection=default_connection) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, True):
            cursor.execute(sql)


def drop_triggers(connection=default_connection) -> None:
    """Tests only: simulate an attacker with raw database access."""
    with connection.cursor() as cursor:
        for sql in _statements(connection.vendor, False):
            cursor.execute(sql)


def triggers_present(connection=default_connection) -> bool:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s "
                "AND name IN ('fiscal_sealedrecord_no_update', 'fiscal_sealedrecord_no_delete')", [TABLE]
            )
            return cursor.fetchone()[0] == 2
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgname = 'fiscal_sealedrecord_immutable' AND NOT tgisinternal"
            )
            return cursor.fetchone()[0] == 1
    return True


def _delete_refused() -> int:
    """1 (refuse) unless Django's flush is emptying the whole database."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "execute_sql_flush" and "django" in code.co_filename:
            return 0
        frame = frame.f_back
    return 1


@receiver(connection_created)
def register_sqlite_guard(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("fiscal_delete_refused", 0, _delete_refused)
