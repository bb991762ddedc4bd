"""The tamper suite: an attacker with raw database access (triggers dropped) edits, deletes, swaps,
forges or recomputes records; `verify_store` and `manage.py fiscal_verify` name the first broken record.
Each test runs in a transaction that is rolled back, triggers included."""

import json
from datetime import date

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from fiscal import chain as fc
from fiscal import closures, codes, services, verification
from fiscal import db as fiscal_db
from fiscal.models import SealedRecord


@pytest.fixture
def store(seal, clock):
    """Ten receipts, a day closure over them, two more receipts."""
    receipts = seal(10)
    (closure,) = closures.close_day(date(2026, 11, 26))
    receipts += seal(2)
    assert verification.verify_store().ok
    fiscal_db.drop_triggers()
    return receipts, closure


def sql(statement, params=()):
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def edit_payload(record, change):
    data = json.loads(record.payload)
    change(data)
    sql("UPDATE fiscal_sealedrecord SET payload = %s WHERE id = %s", [fc.canonical_json(data), record.pk])


def first_errors():
    report = verification.verify_store()
    assert not report.ok
    return report.errors


def test_it_names_an_amount_edited_by_raw_sql(store):
    receipts, _ = store
    edit_payload(receipts[4], lambda d: d.update(total=100, vat=[dict(d["vat"][0], total=100)]))
    assert first_errors() == [("ticket", 5, "hash mismatch: the record's content was altered")]


def test_it_names_the_record_after_a_deleted_middle_row(store):
    receipts, _ = store
    sql("DELETE FROM fiscal_sealedrecord WHERE id = %s", [receipts[4].pk])
    assert first_errors() == [("ticket", 6, "sequence gap: record 5 is missing")]


def test_it_names_swapped_rows(store):
    receipts, _ = store
    a, b = receipts[3], receipts[4]
    sql("UPDATE fiscal_sealedrecord SET seq = 1000000 WHERE id = %s", [a.pk])
    sql("UPDATE fiscal_sealedrecord SET seq = 4 WHERE id = %s", [b.pk])
    sql("UPDATE fiscal_sealedrecord SET seq = 5 WHERE id = %s", [a.pk])
    (error,) = first_errors()
    assert error[:2] == ("ticket", 4)


def test_it_names_a_forged_inserted_row(store):
    receipts, _ = store
    last = receipts[-1]
    forger = Ed25519PrivateKey.generate()
    data = last.data()
    data["grand_total"] = fc.add_to_grand_total(data["grand_total"], data)  # a careful forger adds up right
    wire = dict(last.wire(), seq=13, type_seq=13, prev_hash=last.hash, prev_signature=last.signature,
                payload=fc.canonical_json(data))
    wire["hash"], wire["signature"] = fc.seal(fc.header_of(wire), wire["payload"], forger)
    sql(
        "INSERT INTO fiscal_sealedrecord (chain, seq, type, type_seq, version, timestamp, business_day, "
        "software_version, operator, device, key_id, flags, payload, prev_hash, prev_signature, hash, signature, "
        "subject, period) SELECT chain, 13, type, 13, version, timestamp, business_day, software_version, operator, "
        "device, key_id, flags, %s, %s, %s, %s, %s, subject, period FROM fiscal_sealedrecord WHERE id = %s",
        [wire["payload"], wire["prev_hash"], wire["prev_signature"], wire["hash"], wire["signature"], last.pk],
    )
    sql("UPDATE fiscal_chainhead SET seq = 13, hash = %s, signature = %s WHERE chain = 'ticket'",
        [wire["hash"], wire["signature"]])
    assert first_errors() == [("ticket", 13, "bad signature (record altered or forged without the key)")]


def test_it_names_the_first_record_of_a_chain_recomputed_without_the_key(store):
    receipts, _ = store
    forger = Ed25519PrivateKey.generate()
    prev_hash = prev_sig = None
    for record in receipts[6:]:
        wire = record.wire()
        if record.seq == 7:
            data = json.loads(wire["payload"])
            data["payments"][0]["method"] = "card"
            wire["payload"] = fc.canonical_json(data)
        if prev_hash:
            wire["prev_hash"], wire["prev_signature"] = prev_hash, prev_sig
        wire["hash"], wire["signature"] = fc.seal(fc.header_of(wire), wire["payload"], forger)
        sql("UPDATE fiscal_sealedrecord SET payload = %s, prev_hash = %s, prev_signature = %s, hash = %s, "
            "signature = %s WHERE id = %s",
            [wire["payload"], wire["prev_hash"], wire["prev_signature"], wire["hash"], wire["signature"], record.pk])
        prev_hash, prev_sig = wire["hash"], wire["signature"]
    sql("UPDATE fiscal_chainhead SET hash = %s, signature = %s WHERE chain = 'ticket'", [prev_hash, prev_sig])
    assert first_errors() == [("ticket", 7, "bad signature (record altered or forged without the key)")]


def test_it_names_an_altered_closure(store):
    _, closure = store
    edit_payload(closure, lambda d: d.update(total=d["total"] - 1000))
    assert first_errors() == [("closure", 1, "hash mismatch: the record's content was altered")]


def test_it_names_an_altered_perpetual_total(store):
    receipts, _ = store
    edit_payload(receipts[8], lambda d: d["grand_total"].update(total=0))
    assert first_errors() == [("ticket", 9, "hash mismatch: the record's content was altered")]


def test_it_names_a_closure_that_disagrees_with_its_receipts_even_when_signed(seal, clock):
    """A closure sealed with the store's key but wrong totals (a bug, or an insider with the key)."""
    seal(3)
    ticket_head = services.lock_head("ticket")
    body = {"period": "2026-11-26", "first_seq": 1, "last_seq": 3, "count": 3, "by_type": {"sale": {"count": 3, "total": 1}},
            "vat": [{"rate": 1000, "base": 0, "vat": 0, "total": 1}], "total": 1,
            "grand_total": ticket_head.grand_total, "last_hash": ticket_head.hash}
    services.append_record(chain="closure", rtype="day", build=lambda head: body, period="2026-11-26")
    (error,) = first_errors()
    assert error[:2] == ("closure", 1) and "receipts add up to" in error[2]


def test_it_notices_a_truncated_tail_against_the_chain_head(store):
    receipts, _ = store
    sql("DELETE FROM fiscal_sealedrecord WHERE id = %s", [receipts[-1].pk])
    (error,) = first_errors()
    assert error[:2] == ("ticket", 12) and "missing" in error[2]


def test_it_journals_the_failure_and_the_command_exits_non_zero(store, capsys):
    receipts, _ = store
    edit_payload(receipts[1], lambda d: d.update(tips=500))
    with pytest.raises(CommandError) as failed:
        call_command("fiscal_verify")
    assert failed.value.returncode == 2
    out = capsys.readouterr().out
    assert "ticket    BROKEN  first broken record 2: hash mismatch" in out
    assert "closure   OK" in out
    event = SealedRecord.objects.filter(chain="jet", subject=str(codes.INTEGRITY_DEFECT)).last()
    assert event.data()["details"]["errors"][0][:2] == ["ticket", 2]


def test_it_warns_when_the_triggers_are_gone(store):
    report = verification.verify_store()
    assert report.ok and report.warnings


def test_it_passes_the_command_on_an_intact_store(seal, capsys):
    seal(3)
    call_command("fiscal_verify")
    out = capsys.readouterr().out
    assert "every chain verifies" in out and "ticket    OK" in out
