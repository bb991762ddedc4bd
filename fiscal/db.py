"""The fiscal app's own SQL: the immutability triggers of sealed records, and the three statements of
a seal (lock the chain head, insert the record, move the head).

Immutability
------------

Migration 0002 creates the triggers (its own copy of this SQL, so later edits here never change an
applied migration); `ensure_triggers()` re-creates them (tests that drop them to simulate an attacker,
repairs) and `triggers_present()` lets `fiscal_verify` warn when they are gone.

SQLite: UPDATE is always refused. DELETE is refused unless the application-defined SQL function
`fiscal_delete_refused()` says 0, which it does only while `manage.py flush` empties the whole
database (fiscal overrides the command to say so; the tests' teardown between transactional tests
calls it too). Outside Brigade (the sqlite3 shell) the function does not exist,
so any DELETE fails. A future migration that rebuilds the table on SQLite (most ALTERs) drops its
triggers: it must call `ensure_triggers()` again.

PostgreSQL: a row-level trigger refuses UPDATE and DELETE. TRUNCATE (statement-level, needs table
ownership; Django's flush uses it) is not blocked: tail truncation is caught against the cloud's mark.

The statements of a seal
------------------------
Every payment seals a receipt, and a seal is three statements. Through the ORM, building them costs
about half a millisecond of Python per seal, more than the database takes to run them, and the payment
rate fell below its target of 1,000 receipts per second (bench/sealing.py). So they are written out
here by hand, with the columns named as in migration 0001; tests/fiscal/test_db.py runs them on SQLite
and PostgreSQL. Everything else in the fiscal app goes through the ORM.
"""

import json
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime

from django.db import connection as default_connection
from django.db.backends.signals import connection_created
from django.dispatch import receiver

from fiscal.models import ChainHead, SealedRecord

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


_flushing: ContextVar[bool] = ContextVar("fiscal_flushing", default=False)


@contextmanager
def flushing():
    """Inside: the whole database is being emptied (fiscal's `flush` command), DELETE is let through."""
    token = _flushing.set(True)
    try:
        yield
    finally:
        _flushing.reset(token)


def _delete_refused() -> int:
    """1 (refuse) unless `manage.py flush` is emptying the whole database."""
    return 0 if _flushing.get() else 1


@receiver(connection_created)
def register_sqlite_guard(sender, connection, **kwargs):
    if connection.vendor == "sqlite":
        connection.connection.create_function("fiscal_delete_refused", 0, _delete_refused)


# --- the statements of a seal ----------------------------------------------------------------------


# In the models' field order: Model.from_db takes a full row in that order (test_db checks it).
HEAD_COLUMNS = ("id", "chain", "seq", "hash", "signature", "timestamp", "business_day", "type_seqs",
                "grand_total", "closed_through", "closed_seq")
RECORD_COLUMNS = ("chain", "seq", "type", "type_seq", "version", "timestamp", "business_day", "software_version",
                  "operator", "device", "key_id", "flags", "payload", "prev_hash", "prev_signature", "hash",
                  "signature", "refers_to_id", "subject", "period")


def _utc(value) -> datetime | None:
    """A timestamp as the driver returns it (aware on PostgreSQL, naive UTC or text on SQLite)."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _day(value) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _json(value):
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _columns(names) -> str:
    return ", ".join(f'"{name}"' for name in names)


def _params(connection, values: dict) -> dict:
    """Timestamps, days and JSON as the column types want them: SQLite stores naive UTC text (as
    Django does), PostgreSQL takes aware datetimes and dates; JSON is sent as text to both."""
    out = {}
    for name, value in values.items():
        if isinstance(value, datetime) and connection.vendor == "sqlite":
            value = value.astimezone(UTC).replace(tzinfo=None).isoformat(" ")
        elif isinstance(value, date) and not isinstance(value, datetime) and connection.vendor == "sqlite":
            value = value.isoformat()
        elif isinstance(value, (dict, list)):
            value = json.dumps(value)
        out[name] = value
    return out


def select_head(chain: str, *, connection=default_connection) -> ChainHead | None:
    """The ChainHead of `chain`, locked until the transaction ends (FOR UPDATE where the database has
    row locks; SQLite's IMMEDIATE transaction already holds the write lock), or None."""
    sql = f'SELECT {_columns(HEAD_COLUMNS)} FROM fiscal_chainhead WHERE "chain" = %s'
    if connection.vendor == "postgresql":
        sql += " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [chain])
        row = cursor.fetchone()
    if row is None:
        return None
    values = dict(zip(HEAD_COLUMNS, row))
    values["timestamp"] = _utc(values["timestamp"])
    values["business_day"] = _day(values["business_day"])
    values["closed_through"] = _day(values["closed_through"])
    values["type_seqs"] = _json(values["type_seqs"])
    values["grand_total"] = _json(values["grand_total"])
    return ChainHead.from_db(connection.alias, list(HEAD_COLUMNS), list(values.values()))


def update_head(head: ChainHead, *, connection=default_connection) -> None:
    """Write back what a seal moves: the last number, hash, signature, timestamp and business day, the
    numbers per type and the grand total."""
    names = ("seq", "hash", "signature", "timestamp", "business_day", "type_seqs", "grand_total")
    params = _params(connection, {name: getattr(head, name) for name in names})
    sets = ", ".join(f'"{name}" = %s' for name in names)
    with connection.cursor() as cursor:
        cursor.execute(f'UPDATE fiscal_chainhead SET {sets} WHERE "id" = %s', [*params.values(), head.pk])


def insert_record(values: dict, *, connection=default_connection) -> SealedRecord:
    """Insert one sealed record (`values`: every column of RECORD_COLUMNS) and return it as a
    SealedRecord read back from the database would be (its id set; saving it again is refused)."""
    params = _params(connection, {name: values[name] for name in RECORD_COLUMNS})
    sql = (f"INSERT INTO fiscal_sealedrecord ({_columns(RECORD_COLUMNS)}) "
           f"VALUES ({', '.join(['%s'] * len(RECORD_COLUMNS))})")
    returning = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(sql + (' RETURNING "id"' if returning else ""), list(params.values()))
        pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    names = ["id", *RECORD_COLUMNS]
    return SealedRecord.from_db(connection.alias, names, [pk, *(values[name] for name in RECORD_COLUMNS)])
