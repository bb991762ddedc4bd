"""Archives: written for a closed period, sealed and journaled, verifiable from the file alone; an
edited archive is caught with the broken file and record named."""

import csv
import io
import json
import zipfile
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.core.management.base import CommandError

from fiscal import chain as fc
from fiscal import closures, codes, keys, services, verification
from fiscal.archive import ArchiveError, verify_archive, write_archive
from fiscal.models import SealedRecord

from .conftest import receipt_payload


@pytest.fixture
def closed_november(db, clock):
    """October has a few receipts (so November's chains start mid-way), November is sold and closed."""
    for day, n in ((30, 2), (31, 1)):
        clock.set(datetime(2026, 10, day, 11, 0, tzinfo=UTC))
        for _ in range(n):
            clock.advance(minutes=1)
            services.seal_receipt(payload=receipt_payload(), operator="alice", device="Till 1")
    for day in (2, 3, 30):
        clock.set(datetime(2026, 11, day, 11, 0, tzinfo=UTC))
        for _ in range(3):
            clock.advance(minutes=1)
            services.seal_receipt(payload=receipt_payload(), operator="alice", device="Till 1")
        services.journal(codes.LOGIN, message="login", operator="alice")
    clock.set(datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    closures.run_scheduled_closures()
    assert SealedRecord.objects.filter(chain="closure", type="month", period="2026-11").exists()


def rewrite(path, name, change):
    """Copy the archive with one member changed (what someone editing the zip by hand does)."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[name] = change(members[name])
    edited = path.with_name("edited.zip")
    with zipfile.ZipFile(edited, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return edited


def test_it_writes_seals_and_journals_an_archive_that_verifies(closed_november, tmp_path):
    path, record = write_archive("2026-11")
    assert path.parent == tmp_path / "archives" and path.name == "brigade-fiscal-2026-11.zip"
    assert record.chain == "archive" and record.period == "2026-11"
    import hashlib
    assert record.data()["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert SealedRecord.objects.filter(chain="jet", subject=str(codes.ARCHIVE_PERIOD)).exists()
    report = verify_archive(path, keys.public_key())
    assert report.ok, report.errors
    tickets = report.manifest["chains"]["ticket"]
    assert (tickets["first_seq"], tickets["last_seq"]) == (4, 12)  # October's 3 receipts stay out
    assert report.results["ticket"].count == 9
    assert "closure" in report.results and report.results["closure"].ok
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        rows = list(csv.reader(io.StringIO(zf.read("receipts.csv").decode("utf-8-sig"))))
    assert {"manifest.json", "manifest.sig", "keys.pem", "records.jsonl", "records.csv", "receipts.csv",
            "closures.csv", "README.txt", "anchors.jsonl"} <= names
    assert rows[0][:3] == ["chain", "seq", "type"] and rows[1][8] == "50.50"
    assert verification.verify_store().ok


def test_it_refuses_an_unclosed_or_already_archived_period(closed_november):
    with pytest.raises(ArchiveError, match="not closed"):
        write_archive("2026-12")
    write_archive("2026-11")
    with pytest.raises(ArchiveError, match="already archived"):
        write_archive("2026-11")
    with pytest.raises(ArchiveError):
        write_archive("November")


def test_it_names_the_record_in_an_edited_archive(closed_november):
    path, _ = write_archive("2026-11")

    def cheaper(data: bytes) -> bytes:
        lines = data.decode().splitlines()
        for i, line in enumerate(lines):
            record = json.loads(line)
            if record["chain"] == "ticket" and record["seq"] == 6:
                payload = json.loads(record["payload"])
                payload["total"] = 10
                record["payload"] = fc.canonical_json(payload)
                lines[i] = json.dumps(record)
        return ("\n".join(lines) + "\n").encode()

    report = verify_archive(rewrite(path, "records.jsonl", cheaper), keys.public_key())
    assert not report.ok
    assert "records.jsonl: content differs from the signed manifest (file edited)" in report.errors
    assert "ticket: record 6: hash mismatch: the record's content was altered" in report.errors


def test_it_catches_an_edited_csv_and_a_rewritten_manifest(closed_november):
    path, _ = write_archive("2026-11")
    edited = rewrite(path, "receipts.csv", lambda b: b.replace(b"50.50", b"40.50", 1))
    assert verify_archive(edited, keys.public_key()).errors == [
        "receipts.csv: content differs from the signed manifest (file edited)"]

    def drop_chain(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest["chains"].pop("copy", None)
        manifest["period"] = "2026-10"
        return json.dumps(manifest).encode()

    report = verify_archive(rewrite(path, "manifest.json", drop_chain), keys.public_key())
    assert "manifest.json: bad signature (the manifest was altered)" in report.errors


def test_it_refuses_an_archive_signed_by_another_key_when_given_the_right_one(closed_november):
    path, _ = write_archive("2026-11")
    other = Ed25519PrivateKey.generate().public_key()
    report = verify_archive(path, other)
    assert not report.ok
    assert any("not trusted" in e for e in report.errors)


def test_it_verifies_an_archive_from_the_command_line_without_the_database(closed_november, tmp_path, capsys):
    path, _ = write_archive("2026-11")
    pem = tmp_path / "store.pem"
    pem.write_text(keys.public_key_pem())
    call_command("fiscal_verify", "--archive", str(path), "--public-key", str(pem))
    assert "archive verifies" in capsys.readouterr().out
    edited = rewrite(path, "records.jsonl", lambda b: b.replace(b'"operator": "alice"', b'"operator": "bob"', 1))
    with pytest.raises(CommandError) as failed:
        call_command("fiscal_verify", "--archive", str(edited))
    assert failed.value.returncode == 2
    out = capsys.readouterr().out
    assert "ERROR records.jsonl" in out and "hash mismatch" in out


def test_it_archives_a_year_from_the_command_line(closed_november, clock, capsys):
    clock.set(datetime(2027, 1, 2, 10, 0, tzinfo=UTC))
    closures.run_scheduled_closures()
    call_command("fiscal_archive", "--year", "2026")
    out = capsys.readouterr().out
    assert "brigade-fiscal-2026.zip" in out
    path = keys.key_path().parent.parent / "archives" / "brigade-fiscal-2026.zip"
    report = verify_archive(path, keys.public_key())
    assert report.ok, report.errors
    assert report.manifest["chains"]["ticket"]["first_seq"] == 1
    assert SealedRecord.objects.filter(chain="jet", subject=str(codes.ARCHIVE_YEAR)).exists()
    with pytest.raises(CommandError):
        call_command("fiscal_archive", "--period", "2025-01")
