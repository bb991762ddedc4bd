"""Sealed records refuse UPDATE and DELETE at the database level (see fiscal/db.py for the reasoning).
The SQL is copied here so that later edits to fiscal/db.py never change what this migration did."""

from django.db import migrations

SQLITE_CREATE = [
    """CREATE TRIGGER IF NOT EXISTS fiscal_sealedrecord_no_update BEFORE UPDATE ON fiscal_sealedrecord
       BEGIN SELECT RAISE(ABORT, 'fiscal: sealed records cannot be updated'); END""",
    """CREATE TRIGGER IF NOT EXISTS fiscal_sealedrecord_no_delete BEFORE DELETE ON fiscal_sealedrecord
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
    "DROP TRIGGER IF EXISTS fiscal_sealedrecord_immutable ON fiscal_sealedrecord",
    """CREATE TRIGGER fiscal_sealedrecord_immutable BEFORE UPDATE OR DELETE ON fiscal_sealedrecord
       FOR EACH ROW EXECUTE FUNCTION fiscal_refuse_change()""",
]
POSTGRES_DROP = [
    "DROP TRIGGER IF EXISTS fiscal_sealedrecord_immutable ON fiscal_sealedrecord",
    "DROP FUNCTION IF EXISTS fiscal_refuse_change()",
]


def _run(schema_editor, statements):
    for sql in statements:
        schema_editor.execute(sql, params=None)


def create_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_CREATE)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_CREATE)


def drop_triggers(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_DROP)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_DROP)


class Migration(migrations.Migration):
    dependencies = [("fiscal", "0001_initial")]

    operations = [migrations.RunPython(create_triggers, drop_triggers)]
