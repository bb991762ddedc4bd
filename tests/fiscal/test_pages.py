"""The receipt seal block, the verification page and the public-key command."""

import re

from django.core.management import call_command
from django.template import Context, Template

from fiscal import chain as fc
from fiscal import codes, keys, receipt, services
from fiscal import db as fiscal_db
from fiscal.models import SealedRecord


def test_it_renders_the_receipt_seal_with_number_excerpt_and_qr(seal):
    _, record = seal(2)
    html = Template('{% include "fiscal/_receipt_seal.html" with seal=record %}').render(Context({"record": record}))
    assert record.signature[:4].upper() in html
    assert 'data-seq="2"' in html
    assert "<svg" in html and "</svg>" in html
    content = receipt.qr_content(record)
    parsed = receipt.parse_qr(content)
    assert parsed == {"chain": "ticket", "seq": 2, "hash": record.hash, "signature": record.signature, "device": "Till 1"}
    assert fc.signature_ok(keys.public_key(), parsed["hash"], parsed["signature"])


def test_it_labels_training_copies_and_credit_notes(seal):
    (sale,) = seal()
    (training,) = seal(training=True)
    copy = services.seal_copy(original=sale, operator="alice", device="Till 1")
    credit = services.seal_cancellation(original=sale, operator="marie", device="Till 1", reason="x")
    from django.utils import translation

    with translation.override("en"):
        assert receipt.document_label(copy) == "DUPLICATA 1"
        assert "TRAINING" in receipt.document_label(training)
        assert receipt.document_label(credit) == "Credit note 1"
        lines = receipt.seal_text_lines(sale)
    assert all(len(line) <= 42 for line in lines)
    assert any(sale.signature[:4].upper() in line for line in lines)


def test_it_prints_the_public_key(db, capsys):
    call_command("fiscal_public_key")
    out = capsys.readouterr().out
    assert out.startswith("-----BEGIN PUBLIC KEY-----") and out == keys.public_key_pem()
    assert fc.key_id(fc.load_public_key(out)) == keys.current_key_id()


def test_it_runs_the_verification_page_for_managers_only(seal, client, manager, alice):
    seal(3)
    assert client.get("/fiscal/verify/").status_code == 302
    client.force_login(alice)
    assert client.post("/fiscal/verify/").status_code == 403
    client.force_login(manager)
    page = client.get("/fiscal/verify/")
    assert page.status_code == 200 and keys.public_key_pem().splitlines()[1] in page.content.decode()
    result = client.post("/fiscal/verify/")
    assert result.status_code == 200
    assert re.search(r"fiscal-ok", result.content.decode())


def test_it_shows_and_journals_a_failed_verification(seal, client, manager):
    (record,) = seal()
    fiscal_db.drop_triggers()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("UPDATE fiscal_sealedrecord SET operator = 'mallory' WHERE id = %s", [record.pk])
    client.force_login(manager)
    page = client.post("/fiscal/verify/").content.decode()
    assert "fiscal-broken" in page and "hash mismatch" in page
    event = SealedRecord.objects.get(chain="jet", subject=str(codes.INTEGRITY_DEFECT))
    assert event.operator == "marie"


def test_it_shows_the_public_key_in_the_admin(seal, client, manager):
    seal()
    client.force_login(manager)
    page = client.get("/admin/fiscal/sealedrecord/").content.decode()
    assert keys.current_key_id() in page and "BEGIN PUBLIC KEY" in page


def test_it_prints_the_seal_block_with_a_native_qr_code(seal):
    (record,) = seal()
    data = receipt.seal_escpos(record)
    assert record.signature[:4].upper().encode() in data
    assert b"\x1d(k" in data and receipt.qr_content(record).encode() in data


def test_it_finds_the_receipt_of_an_order(seal):
    _, latest_41 = seal(2, number=41)
    (only_42,) = seal(1, number=42)
    assert services.find_receipt(business_day="2026-11-26", number=42) == only_42
    assert services.find_receipt(business_day="2026-11-26", number=41) == latest_41
    assert services.find_receipt(business_day="2026-11-26", number=43) is None
