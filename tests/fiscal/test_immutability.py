"""Sealed records cannot be changed: model, queryset, database triggers (on the active vendor), admin."""

import pytest
from django.db import DatabaseError, connection, transaction

from fiscal import db as fiscal_db
from fiscal.models import SealedRecord, SealedRecordError


def test_it_refuses_save_and_delete_on_a_sealed_record(seal):
    (record,) = seal()
    record.operator = "mallory"
    with pytest.raises(SealedRecordError):
        record.save()
    with pytest.raises(SealedRecordError):
        record.delete()
    with pytest.raises(SealedRecordError):
        SealedRecord.objects.filter(pk=record.pk).update(operator="mallory")
    with pytest.raises(SealedRecordError):
        SealedRecord.objects.filter(pk=record.pk).delete()
    assert SealedRecord.objects.get(pk=record.pk).operator == "alice"


def test_it_has_the_triggers_installed_by_the_migration(db):
    assert fiscal_db.triggers_present() or connection.vendor not in ("sqlite", "postgresql")


@pytest.mark.parametrize("sql", [
    "UPDATE fiscal_sealedrecord SET payload = '{}' WHERE seq = 1",
    "UPDATE fiscal_sealedrecord SET operator = 'mallory'",
    "DELETE FROM fiscal_sealedrecord WHERE seq = 2",
    "DELETE FROM fiscal_sealedrecord",
])
def test_it_refuses_raw_sql_update_and_delete(seal, sql):
    if connection.vendor not in ("sqlite", "postgresql"):
        pytest.fail(f"no immutability triggers for {connection.vendor}")
    seal(3)
    with pytest.raises(DatabaseError, match="sealed records cannot be"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(sql)
    assert SealedRecord.objects.filter(chain="ticket").count() == 3
    assert SealedRecord.objects.filter(operator="mallory").count() == 0


@pytest.mark.django_db(transaction=True)
def test_flush_alone_empties_the_sealed_records(clock, fiscal_key):
    """`manage.py flush` (fiscal's, around Django's) empties the database; the same DELETE outside it is
    refused. PostgreSQL's flush truncates, which row triggers do not see."""
    from django.core.management import call_command

    from fiscal import services

    from .conftest import receipt_payload

    with transaction.atomic():
        services.seal_receipt(payload=receipt_payload(), operator="alice", device="Till 1")
    if connection.vendor == "sqlite":
        with pytest.raises(DatabaseError, match="sealed records cannot be"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("DELETE FROM fiscal_sealedrecord")
    call_command("flush", interactive=False, verbosity=0)
    assert SealedRecord.objects.count() == 0


def test_it_offers_a_read_only_admin(seal, client, manager):
    (record,) = seal()
    client.force_login(manager)
    page = client.get(f"/admin/fiscal/sealedrecord/{record.pk}/change/")
    assert page.status_code == 200
    assert record.hash in page.content.decode()
    assert b'name="_save"' not in page.content
    assert client.get("/admin/fiscal/sealedrecord/add/").status_code == 403
    assert client.post(f"/admin/fiscal/sealedrecord/{record.pk}/delete/", {"post": "yes"}).status_code == 403
    assert SealedRecord.objects.filter(pk=record.pk).exists()
    listing = client.get("/admin/fiscal/sealedrecord/")
    assert listing.status_code == 200
