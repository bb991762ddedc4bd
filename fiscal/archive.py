"""Fiscal archives: a self-contained, signed zip of a closed period that anyone can check without our
database (and, with the README inside, without our software).

Contents of brigade-fiscal-<period>.zip:
    manifest.json    format, period, store key id, per-chain ranges (first/last seq, count, hashes),
                     and the SHA-256 of every other file
    manifest.sig     Ed25519 signature (hex) of SHA-256(manifest.json), by the key named in the manifest
    keys.pem         the store's public key(s), PEM
    records.jsonl    every record of the period, one wire dict per line (fiscal/chain.py format), by chain
    anchors.jsonl    per chain, the record just before the period (links the archive to the previous one)
    records.csv      the same records, one per line, for a spreadsheet
    receipts.csv     receipts and credit notes in euros, per VAT rate
    closures.csv     the closures of the period
    README.txt       how to check it by hand

A period's records are, per chain, the contiguous range of sequence numbers from the first to the last
record of that business period (closures and archives: also those *about* the period, which are sealed
just after it ends). Ranges of consecutive archives may overlap by a few records; they never leave a gap.

`write_archive()` needs the database; `verify_archive()` needs only the file (and optionally a public key
obtained elsewhere — the key inside the archive proves nothing on its own).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from django.utils.translation import gettext as _

from fiscal import chain as fc
from fiscal.verifier import ClosureTally, VerifyResult, verify_chain

FORMAT = "brigade-fiscal-archive/1"

README = """Brigade fiscal archive — {period}

Every record is a JSON object in records.jsonl (one per line). To check a record by hand:
  1. header = the record without "payload", "hash" and "signature";
  2. bytes  = JSON of header with sorted keys and no spaces (UTF-8), then a newline, then "payload"
     exactly as stored (it is already canonical JSON text);
  3. SHA-256(bytes) must equal "hash"; the Ed25519 signature "signature" (hex) must verify over the 32
     raw bytes of the hash with the public key in keys.pem (key id = first 16 hex characters of the
     SHA-256 of the raw 32-byte key);
  4. each record's "prev_hash" and "prev_signature" are the previous record's "hash" and "signature"
     within its chain; sequence numbers have no gaps.
Amounts are integer cents; VAT rates integer hundredths of a percent (1000 = 10 %).
manifest.json lists the SHA-256 of every file; manifest.sig is the Ed25519 signature of the SHA-256 of
manifest.json. With Brigade: python manage.py fiscal_verify --archive <this file> [--public-key KEY.pem]
"""


class ArchiveError(Exception):
    pass


# --- writing (database) --------------------------------------------------------------------------------


def _period_bounds(period: str) -> tuple[date, date, str]:
    if len(period) == 4 and period.isdigit():
        year = int(period)
        return date(year, 1, 1), date(year, 12, 31), "year"
    try:
        year, month = (int(p) for p in period.split("-"))
        start = date(year, month, 1)
    except ValueError:
        raise ArchiveError(_("The period must be YYYY-MM or YYYY, not %(period)r.") % {"period": period}) from None
    end = date(year + (month == 12), month % 12 + 1, 1)
    from datetime import timedelta

    return start, end - timedelta(days=1), "month"


def write_archive(period: str, *, directory: Path | None = None, operator="", device="") -> tuple[Path, object]:
    """Write the archive of a closed month ("2026-11") or year ("2026") into the data dir's archives/
    folder, then seal it as a record of the archive chain and journal it (20 month, 30 year).
    Returns (path, archive record)."""
    from django.conf import settings
    from django.db import transaction
    from django.db.models import Q

    from fiscal import codes, keys, services
    from fiscal.models import SealedRecord, row_to_wire, WIRE_COLUMNS

    start, end, kind = _period_bounds(period)
    closure_type = fc.MONTH if kind == "month" else fc.YEAR
    if not SealedRecord.objects.filter(chain=fc.CLOSURE, type=closure_type, period=period).exists():
        raise ArchiveError(_("%(period)s is not closed yet: run fiscal_close --%(kind)s %(period)s first.")
                           % {"period": period, "kind": kind})
    if SealedRecord.objects.filter(chain=fc.ARCHIVE, period=period).exists():
        raise ArchiveError(_("%(period)s is already archived.") % {"period": period})
    directory = Path(directory or Path(settings.DATA_DIR) / "archives")
    directory.mkdir(parents=True, exist_ok=True)

    in_period = Q(business_day__gte=start, business_day__lte=end)
    about_period = Q(chain__in=[fc.CLOSURE, fc.ARCHIVE]) & (Q(period=period) | Q(period__startswith=period + "-"))
    records, anchors, ranges = [], [], {}
    for chain in fc.CHAINS:
        base = SealedRecord.objects.filter(chain=chain)
        bounds = base.filter(in_period | about_period).order_by("seq").values_list("seq", flat=True)
        first = bounds.first()
        if first is None:
            continue
        last = bounds.last()
        rows = base.filter(seq__gte=first, seq__lte=last).order_by("seq").values_list(*WIRE_COLUMNS)
        chain_records = [row_to_wire(r) for r in rows.iterator(chunk_size=2000)]
        records.extend(chain_records)
        anchor = base.filter(seq=first - 1).values_list(*WIRE_COLUMNS).first()
        if anchor is not None:
            anchors.append(row_to_wire(anchor))
        ranges[chain] = {"first_seq": first, "last_seq": last, "count": len(chain_records),
                         "first_prev_hash": chain_records[0]["prev_hash"], "last_hash": chain_records[-1]["hash"]}

    private_key = keys.private_key()
    public_keys = [keys.public_key()] + keys.retired_keys()
    files = {
        "records.jsonl": "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in records).encode(),
        "anchors.jsonl": "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in anchors).encode(),
        "keys.pem": "".join(fc.public_key_pem(k) for k in public_keys).encode("ascii"),
        "records.csv": _records_csv(records),
        "receipts.csv": _receipts_csv(records),
        "closures.csv": _closures_csv(records),
        "README.txt": README.format(period=period).encode(),
    }
    manifest = {
        "format": FORMAT, "period": period, "kind": kind, "created": fc.format_timestamp(services.now()),
        "software_version": settings.VERSION, "signed_by": fc.key_id(public_keys[0]),
        "key_ids": [fc.key_id(k) for k in public_keys], "chains": ranges,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    manifest_bytes = fc.canonical_json(manifest).encode("utf-8")
    files["manifest.json"] = manifest_bytes
    files["manifest.sig"] = fc.sign_document(private_key, manifest_bytes).encode("ascii")

    path = directory / f"brigade-fiscal-{period}.zip"
    tmp = path.with_suffix(".zip.part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in ("manifest.json", "manifest.sig", "README.txt", "keys.pem", "records.jsonl", "anchors.jsonl",
                     "records.csv", "receipts.csv", "closures.csv"):
            zf.writestr(name, files[name])
    archive_hash = hashlib.sha256(tmp.read_bytes()).hexdigest()
    try:
        with transaction.atomic():
            record = services.append_record(
                chain=fc.ARCHIVE, rtype=fc.ARCHIVE_TYPE, operator=operator, device=device, period=period,
                build=lambda head: {"period": period, "kind": kind, "file": path.name, "sha256": archive_hash,
                                    "manifest_sha256": hashlib.sha256(manifest_bytes).hexdigest(), "chains": ranges},
            )
            services.journal(
                codes.ARCHIVE_PERIOD if kind == "month" else codes.ARCHIVE_YEAR,
                message=f"archive {period} written", operator=operator, device=device,
                details={"file": path.name, "sha256": archive_hash, "records": len(records)},
            )
    except Exception:
        tmp.unlink(missing_ok=True)
        raise
    tmp.replace(path)
    return path, record


def _csv(header: list[str], rows) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8-sig")  # BOM: spreadsheets open the accents right


def _records_csv(records: list[dict]) -> bytes:
    return _csv(list(fc.WIRE_FIELDS), ([";".join(r[f]) if f == "flags" else r[f] for f in fc.WIRE_FIELDS] for r in records))


def _receipts_csv(records: list[dict]) -> bytes:
    rows, rates = [], set()
    receipts = [(r, json.loads(r["payload"])) for r in records if r["chain"] in fc.TOTAL_CHAINS]
    for _r, p in receipts:
        rates.update(int(v["rate"]) for v in p.get("vat", []))
    rates = sorted(rates)
    for r, p in receipts:
        by_rate = {int(v["rate"]): v["total"] for v in p.get("vat", [])}
        payments = " + ".join(f"{x['method']} {fc.cents_to_str(x['amount'])}" for x in p.get("payments", []))
        rows.append([r["chain"], r["seq"], r["type"], r["type_seq"], r["timestamp"], r["business_day"], r["operator"],
                     r["device"], fc.cents_to_str(p["total"])] + [fc.cents_to_str(by_rate.get(rate, 0)) for rate in rates]
                    + [payments, fc.cents_to_str(p["grand_total"]["total"]), r["hash"], r["signature"][:4].upper()])
    header = (["chain", "seq", "type", "number", "timestamp_utc", "business_day", "operator", "device", "total_eur"]
              + [f"vat_{fc.cents_to_str(rate)}_total_eur" for rate in rates]
              + ["payments", "grand_total_eur", "hash", "signature_excerpt"])
    return _csv(header, rows)


def _closures_csv(records: list[dict]) -> bytes:
    rows = []
    for r in records:
        if r["chain"] != fc.CLOSURE:
            continue
        p = json.loads(r["payload"])
        rows.append([r["seq"], r["type"], r["type_seq"], p["period"], r["timestamp"], p["count"], p["first_seq"] or "",
                     p["last_seq"] or "", fc.cents_to_str(p["total"]), fc.cents_to_str(p["grand_total"]["total"]),
                     p["last_hash"], r["hash"]])
    return _csv(["seq", "kind", "number", "period", "timestamp_utc", "receipts", "first_seq", "last_seq", "total_eur",
                 "grand_total_eur", "last_receipt_hash", "hash"], rows)


# --- verifying (no database) ---------------------------------------------------------------------------


@dataclass
class ArchiveReport:
    manifest: dict = field(default_factory=dict)
    results: dict[str, VerifyResult] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    key_ids: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def count(self) -> int:
        return sum(r.count for r in self.results.values())


def _single_record_ok(wire: dict, ring: fc.Keyring) -> bool:
    key = ring.keys.get(wire.get("key_id"))
    return (key is not None and fc.record_hash(fc.header_of(wire), wire["payload"]) == wire["hash"]
            and fc.signature_ok(key, wire["hash"], wire["signature"]))


def verify_archive(path: str | Path, public_key=None) -> ArchiveReport:
    """Check an archive file: manifest signature, every file's hash, every chain (from its anchor), the
    manifest's ranges, and the day closures against the receipts. `public_key` (PEM / key / Keyring),
    when given, is the only key trusted; otherwise the archive's own keys.pem is used (say so)."""
    report = ArchiveReport()
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        report.errors.append(f"cannot open the archive: {exc}")
        return report
    with zf:
        try:
            manifest_bytes = zf.read("manifest.json")
            signature = zf.read("manifest.sig").decode("ascii").strip()
            keys_pem = zf.read("keys.pem")
            manifest = json.loads(manifest_bytes)
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            report.errors.append(f"manifest missing or unreadable: {exc}")
            return report
        report.manifest = manifest
        if public_key is not None:
            ring = fc.Keyring.of(public_key)
        else:
            blocks = [b"-----BEGIN" + part for part in keys_pem.split(b"-----BEGIN")[1:]]
            ring = fc.Keyring(fc.load_public_key(b) for b in blocks)
        report.key_ids = sorted(ring.keys)
        signer = ring.keys.get(manifest.get("signed_by"))
        if signer is None:
            report.errors.append(f"manifest signed by key {manifest.get('signed_by')}, which is not trusted")
        elif not fc.document_signature_ok(signer, manifest_bytes, signature):
            report.errors.append("manifest.json: bad signature (the manifest was altered)")
        for name, expected in sorted(manifest.get("files", {}).items()):
            try:
                actual = hashlib.sha256(zf.read(name)).hexdigest()
            except KeyError:
                report.errors.append(f"{name}: missing from the archive")
                continue
            if actual != expected:
                report.errors.append(f"{name}: content differs from the signed manifest (file edited)")
        try:
            records = [json.loads(line) for line in zf.read("records.jsonl").decode("utf-8").splitlines() if line]
            anchors = {a["chain"]: a for a in (json.loads(line) for line in
                       zf.read("anchors.jsonl").decode("utf-8").splitlines() if line)}
        except (KeyError, ValueError, UnicodeDecodeError) as exc:
            report.errors.append(f"records unreadable: {exc}")
            return report

    by_chain: dict[str, list[dict]] = {}
    for r in records:
        by_chain.setdefault(r.get("chain"), []).append(r)
    expected_ranges = manifest.get("chains", {})
    for chain in sorted(set(by_chain) | set(expected_ranges), key=lambda c: (c != fc.CLOSURE, c)):
        chain_records = by_chain.get(chain, [])
        anchor = anchors.get(chain)
        start = None
        if anchor is not None:
            if not _single_record_ok(anchor, ring):
                report.errors.append(f"{chain}: the anchor record {anchor.get('seq')} does not verify")
                continue
            start = anchor
        elif chain_records and chain_records[0].get("seq") != 1:
            first = chain_records[0]
            start = (first["seq"] - 1, first["prev_hash"], first["prev_signature"])
        tally = observer = None
        if chain == fc.TICKET and fc.CLOSURE in report.results:
            first_seq = chain_records[0]["seq"] if chain_records else 0
            last_seq = chain_records[-1]["seq"] if chain_records else 0
            days = [(r["seq"], json.loads(r["payload"])) for r in by_chain.get(fc.CLOSURE, []) if r["type"] == fc.DAY]
            days = [(s, p) for s, p in days if p.get("first_seq") and first_seq <= p["first_seq"] and p["last_seq"] <= last_seq]
            tally = ClosureTally(days)
            observer = tally.observe
        result = verify_chain(chain_records, ring, start=start, chain=chain, observer=observer)
        report.results[chain] = result
        if result.first_error:
            _c, seq, reason = result.first_error
            report.errors.append(f"{chain}: record {seq}: {reason}")
            continue
        expected = expected_ranges.get(chain)
        actual = {"first_seq": chain_records[0]["seq"], "last_seq": chain_records[-1]["seq"],
                  "count": len(chain_records)} if chain_records else None
        if expected is None or actual is None or any(expected[k] != actual[k] for k in ("first_seq", "last_seq", "count")):
            report.errors.append(f"{chain}: records {actual} do not match the manifest's range {expected}")
        if tally is not None:
            error = tally.finish(result.last_seq)
            if error:
                report.errors.append(f"{error[0]}: record {error[1]}: {error[2]}")
    return report
