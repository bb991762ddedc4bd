"""Sealing through fiscal.services: receipts, grand totals, training, cancellations, pre-bills, copies,
the journal, the clock, the key file."""

import json
import stat
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization

from fiscal import chain as fc
from fiscal import codes, keys, services, verification
from fiscal.models import SealedRecord

from .conftest import TEST_SEED, receipt_payload
from .test_chain import GOLDEN_HASH_1, GOLDEN_PAYLOAD, GOLDEN_SIGNATURE_1, PAYLOAD


@pytest.fixture
def golden_key(fiscal_key, settings):
    """The test seed written as the store's key file."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    fiscal_key.parent.mkdir(parents=True, exist_ok=True)
    fiscal_key.write_bytes(Ed25519PrivateKey.from_private_bytes(TEST_SEED).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    keys.forget_cache()
    settings.VERSION = "0.1.0"
    settings.TIME_ZONE = "Europe/Paris"
    return fiscal_key


def test_it_seals_the_golden_receipt_byte_for_byte(db, clock, golden_key):
    clock.set(datetime(2026, 11, 26, 11, 30, tzinfo=UTC))
    record = services.seal_receipt(payload=PAYLOAD, operator="alice", device="Till 1")
    assert record.payload == GOLDEN_PAYLOAD
    assert record.hash == GOLDEN_HASH_1
    assert record.signature == GOLDEN_SIGNATURE_1
    # and the same from the database row, through the wire format
    stored = SealedRecord.objects.get(pk=record.pk)
    assert stored.wire()["hash"] == fc.record_hash(fc.header_of(stored.wire()), stored.payload)


def test_it_creates_the_key_file_once_readable_by_the_owner_only(db, fiscal_key):
    assert not fiscal_key.exists()
    first = keys.public_key_pem()
    assert stat.S_IMODE(fiscal_key.stat().st_mode) == 0o600
    keys.forget_cache()
    assert keys.public_key_pem() == first


def test_it_seals_a_receipt_with_every_field(seal, clock):
    (record,) = seal()
    assert (record.chain, record.seq, record.type, record.type_seq) == ("ticket", 1, "sale", 1)
    assert record.operator == "alice" and record.device == "Till 1"
    assert record.business_day.isoformat() == "2026-11-26"
    assert record.key_id == keys.current_key_id()
    assert record.prev_hash == fc.genesis_hash("ticket", keys.public_key())
    data = record.data()
    assert data["total"] == 5050 and data["lines"][0]["unit_price"] == 2400
    assert data["grand_total"] == {"total": 5050, "absolute": 5050, "by_rate": {"1000": 5050}}
    summary = record.summary()
    assert summary["seq"] == 1 and summary["hash"] == record.hash and summary["signature_excerpt"] == record.signature[:4].upper()


def test_it_chains_receipts_and_carries_the_perpetual_grand_total(seal):
    records = seal(3)
    assert [r.seq for r in records] == [1, 2, 3]
    assert records[1].prev_hash == records[0].hash and records[1].prev_signature == records[0].signature
    assert records[2].data()["grand_total"]["total"] == 3 * 5050
    assert verification.verify_store().ok


def test_it_keeps_training_receipts_out_of_the_totals(seal):
    seal(2)
    (training,) = seal(training=True)
    assert training.chain == "training" and training.seq == 1
    assert training.data()["training"] is True
    (real,) = seal()
    assert real.seq == 3
    assert real.data()["grand_total"]["total"] == 3 * 5050
    assert verification.verify_store().ok


def test_it_refuses_a_receipt_that_does_not_add_up(db, clock):
    bad = receipt_payload()
    bad["total"] = "1.00"
    with pytest.raises(ValueError):
        services.seal_receipt(payload=bad, operator="alice", device="Till 1")
    assert not SealedRecord.objects.exists()


def test_it_cancels_a_receipt_once_with_a_credit_note(seal):
    sale, _ = seal(2)
    credit = services.seal_cancellation(original=sale, operator="marie", device="Till 1", reason="Erreur de table")
    assert (credit.chain, credit.type, credit.seq, credit.type_seq) == ("ticket", "cancellation", 3, 1)
    data = credit.data()
    assert data["total"] == -5050 and data["lines"][0]["quantity"] == -2 and data["lines"][0]["unit_price"] == 2400
    assert data["payments"][0]["amount"] == -5050
    assert data["cancels"]["hash"] == sale.hash and data["cancels"]["seq"] == sale.seq
    assert data["grand_total"]["total"] == 5050 and data["grand_total"]["absolute"] == 3 * 5050
    assert credit.refers_to == sale
    with pytest.raises(services.AlreadyCancelled):
        services.seal_cancellation(original=sale, operator="marie", device="Till 1", reason="again")
    with pytest.raises(services.FiscalError):
        services.seal_cancellation(original=credit, operator="marie", device="Till 1", reason="cancel the cancel")
    assert SealedRecord.objects.filter(type="cancellation").count() == 1
    event = SealedRecord.objects.filter(chain="jet", subject=str(codes.CANCELLATION)).get()
    assert event.data()["details"]["original"]["hash"] == sale.hash
    assert verification.verify_store().ok


def test_it_refuses_a_double_cancellation_at_the_database_level(seal):
    """Even bypassing the service's check, the conditional unique constraint holds."""
    from django.db import IntegrityError, transaction

    (sale,) = seal()
    services.seal_cancellation(original=sale, operator="marie", device="Till 1", reason="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        services.append_record(chain="ticket", rtype="cancellation", refers_to=sale, operator="", device="",
                               build=lambda head: {"total": 0, "vat": [], "grand_total": head.grand_total})


def test_it_counts_pre_bill_prints_per_order(db, clock):
    first = services.seal_pre_bill(payload=receipt_payload(number=7), operator="alice", device="Till 1")
    other = services.seal_pre_bill(payload=receipt_payload(number=8), operator="alice", device="Till 1")
    again = services.seal_pre_bill(payload=receipt_payload(number=7), operator="alice", device="Till 1")
    assert [r.data()["print"] for r in (first, other, again)] == [1, 1, 2]
    assert again.chain == "prebill" and again.seq == 3 and again.data()["provisional"] is True
    assert verification.verify_store().ok


def test_it_numbers_copies_of_a_receipt(seal):
    sale, other = seal(2)
    c1 = services.seal_copy(original=sale, operator="alice", device="Till 1")
    c2 = services.seal_copy(original=sale, operator="alice", device="Till 1")
    c3 = services.seal_copy(original=other, operator="alice", device="Till 1")
    assert [services.copy_number(c) for c in (c1, c2, c3)] == [1, 2, 1]
    assert c2.data()["original"]["hash"] == sale.hash and c2.chain == "copy" and c2.seq == 2
    assert SealedRecord.objects.filter(chain="jet", subject=str(codes.REPRINT)).count() == 3


def test_it_journals_events_with_plain_details(db, clock):
    event = services.journal(codes.LOGIN, message="Alice logged in", operator="alice", device="Till 1",
                             details={"when": clock(), "ratio": 0.5, "ids": {1, 2}})
    data = event.data()
    assert data["code"] == 80 and data["label"] == "login" and data["message"] == "Alice logged in"
    assert data["details"]["ratio"] == "0.5"
    assert event.chain == "jet" and event.type == "event"


def test_it_flags_and_journals_a_clock_set_back(seal, clock):
    first, _ = seal(2)
    clock.advance(hours=-2)  # somebody sets the clock back
    record = services.seal_receipt(payload=receipt_payload(), operator="alice", device="Till 1")
    assert record.seq == 3 and record.is_clock_back
    assert record.timestamp < first.timestamp
    assert record.business_day == first.business_day
    event = SealedRecord.objects.get(chain="jet", subject=str(codes.CLOCK_CHANGE))
    assert event.data()["details"]["chain"] == "ticket" and event.data()["details"]["seq"] == 3
    clock.advance(hours=3)
    (later,) = seal()
    assert not later.is_clock_back
    assert verification.verify_store().ok


def test_it_accepts_users_and_devices_as_operator_and_device(db, clock, alice, till):
    record = services.seal_receipt(payload=receipt_payload(), operator=alice, device=till)
    assert (record.operator, record.device) == ("alice", "Till 1")


def test_it_rolls_the_number_back_with_the_payment(db, clock):
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        services.seal_receipt(payload=receipt_payload(), operator="alice", device="Till 1")
        raise RuntimeError("payment failed")
    record = services.seal_receipt(payload=receipt_payload(), operator="alice", device="Till 1")
    assert record.seq == 1
    assert json.loads(record.payload)["grand_total"]["total"] == 5050
