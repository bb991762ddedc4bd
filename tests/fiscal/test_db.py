"""The seal's hand-written statements (fiscal.db) against what the ORM reads back, on whichever database
the suite runs (SQLite by default, PostgreSQL with DATABASE_URL)."""

from datetime import UTC, date, datetime

import pytest
from django.db import transaction

from fiscal import db as fiscal_db
from fiscal import services
from fiscal.models import ChainHead, SealedRecord, SealedRecordError


def test_a_sealed_record_is_what_the_orm_reads_back(seal, clock):
    clock.set(datetime(2026, 11, 26, 11, 30, 0, 0, tzinfo=UTC))  # no microseconds: the shortest text form
    (sale,) = seal()
    stored = SealedRecord.objects.get(pk=sale.pk)
    assert sale.pk is not None
    assert sale.wire() == stored.wire()
    assert (sale.subject, sale.period, sale.refers_to_id) == (stored.subject, stored.period, None)
    assert stored.timestamp == sale.timestamp and stored.timestamp.tzinfo is not None
    assert stored.business_day == sale.business_day == date(2026, 11, 26)
    with pytest.raises(SealedRecordError):
        sale.save()  # loaded as an existing row: the model refuses to write it again


def test_a_reference_to_an_earlier_record_is_stored(seal):
    (sale,) = seal()
    cancellation = services.seal_cancellation(original=sale, operator="marie", device="Till 1", reason="erreur")
    assert SealedRecord.objects.get(pk=cancellation.pk).refers_to == sale
    assert cancellation.refers_to == sale


def test_the_locked_head_is_what_the_orm_reads(seal, clock):
    clock.set(datetime(2026, 11, 26, 11, 30, 5, 123456, tzinfo=UTC))
    seal(2)
    with transaction.atomic():
        head = fiscal_db.select_head("ticket")
    stored = ChainHead.objects.get(chain="ticket")
    for name in ("id", "chain", "seq", "hash", "signature", "timestamp", "business_day", "type_seqs",
                 "grand_total", "closed_through", "closed_seq"):
        assert getattr(head, name) == getattr(stored, name), name
    assert head.seq == 2 and head.type_seqs == {"sale": 2} and head.grand_total["total"] > 0
    assert head.timestamp.tzinfo is not None


def test_moving_the_head_writes_every_column_it_names(db):
    ChainHead.objects.create(chain="jet")
    with transaction.atomic():
        head = fiscal_db.select_head("jet")
        head.seq, head.hash, head.signature = 7, "a" * 64, "b" * 128
        head.timestamp = datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=UTC)
        head.business_day = date(2026, 11, 26)
        head.type_seqs = {"event": 7}
        head.grand_total = {"total": 0, "absolute": 0, "by_rate": {"1000": 5}}
        fiscal_db.update_head(head)
    stored = ChainHead.objects.get(chain="jet")
    assert (stored.seq, stored.hash, stored.signature) == (7, "a" * 64, "b" * 128)
    assert stored.timestamp == datetime(2026, 11, 26, 23, 59, 59, 999999, tzinfo=UTC)
    assert stored.business_day == date(2026, 11, 26)
    assert stored.type_seqs == {"event": 7}
    assert stored.grand_total == {"total": 0, "absolute": 0, "by_rate": {"1000": 5}}


def test_there_is_no_head_before_the_first_seal(db):
    with transaction.atomic():
        assert fiscal_db.select_head("copy") is None
        assert services.lock_head("copy").seq == 0
    assert ChainHead.objects.filter(chain="copy").count() == 1
