"""What a printed or on-screen receipt shows of its seal, and the Z report of a closure.

For the till's receipt page: `{% include "fiscal/_receipt_seal.html" with seal=record %}` (or
`seal_context(record)` for your own template); for a receipt printer `seal_escpos(record)` (text lines
and a native QR code) or `seal_text_lines(record)` plus `qr_content(record)`.

QR content (byte mode, ~220 characters, QR version 11-M):
    BRG1|<chain>|<seq>|<hash hex>|<signature hex>|<device name>
Anyone with the store's public key checks the signature over the hash from the QR alone; the hash
finds the full record in an archive or the cloud.
"""

from __future__ import annotations

import segno
from django.utils.formats import date_format
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from fiscal import chain as fc
from fiscal.models import SealedRecord
from printing import queue

QR_PREFIX = "BRG1"


def qr_content(record: SealedRecord) -> str:
    return "|".join((QR_PREFIX, record.chain, str(record.seq), record.hash, record.signature, record.device))


def parse_qr(content: str) -> dict:
    prefix, chain, seq, digest, signature, device = content.split("|", 5)
    if prefix != QR_PREFIX:
        raise ValueError("not a Brigade fiscal QR code")
    return {"chain": chain, "seq": int(seq), "hash": digest, "signature": signature, "device": device}


def qr_svg(record: SealedRecord, *, scale: int = 2) -> str:
    """The QR code as an inline <svg> element (safe to put in a template: segno escapes nothing we
    do not control — the content is encoded as modules, never as text)."""
    return mark_safe(segno.make(qr_content(record), error="m", micro=False).svg_inline(scale=scale, title=None))


def document_label(record: SealedRecord) -> str:
    if record.chain == fc.TRAINING:
        return _("TRAINING — NOT A RECEIPT")
    if record.type == fc.CANCELLATION:
        return _("Credit note %(number)d") % {"number": record.type_seq}
    if record.chain == fc.PREBILL:
        return _("PRE-BILL — NOT A RECEIPT")
    if record.chain == fc.COPY:
        return _("DUPLICATA %(number)d") % {"number": record.data()["copy"]}
    return _("Receipt %(number)d") % {"number": record.type_seq}


def seal_context(record: SealedRecord) -> dict:
    return {
        "seal": record,
        "label": document_label(record),
        "number": record.type_seq,
        "seq": record.seq,
        "excerpt": record.signature_excerpt,
        "qr_svg": qr_svg(record),
        "timestamp": record.timestamp,
        "training": record.chain == fc.TRAINING,
    }


def seal_text_lines(record: SealedRecord, width: int = 42) -> list[str]:
    """The seal block of a receipt as plain lines for an ESC/POS printer (print the QR separately with
    `qr_content(record)`, e.g. python-escpos' `printer.qr(...)`)."""
    lines = [document_label(record).center(width)]
    number, seq, signature, key = _("No."), _("Seq."), _("Signature"), _("key")
    lines.append(f"{number} {record.type_seq}  ·  {seq} {record.chain}/{record.seq}"[:width])
    lines.append(f"{signature}: {record.signature_excerpt}  ({key} {record.key_id[:8]})"[:width])
    lines.append(date_format(record.timestamp, "SHORT_DATETIME_FORMAT")[:width])
    return lines


def escpos_qr(content: str, *, size: int = 4) -> bytes:
    """ESC/POS native QR code (GS ( k, model 2, error level M): printers draw it themselves."""
    data = content.encode("utf-8")
    store = len(data) + 3

    def gs_k(fn: bytes) -> bytes:
        return b"\x1d(k" + bytes([len(fn) & 0xFF, len(fn) >> 8]) + fn

    return (gs_k(b"1A2\x00") + gs_k(b"1C" + bytes([size])) + gs_k(b"1E1")
            + b"\x1d(k" + bytes([store & 0xFF, store >> 8]) + b"1P0" + data + gs_k(b"1Q0"))


# Characters our texts use that the printers' CP858 code page lacks, and what prints instead.
PRINTABLE = str.maketrans({"·": "-", "…": "...", "–": "-", "—": "-", "×": "x", "\u202f": " ", "\u00a0": " "})


def printer_text(text: str) -> bytes:
    """`text` in the receipt printers' code page (CP858, which has €)."""
    return text.translate(PRINTABLE).encode("cp858", errors="replace")


def seal_escpos(record: SealedRecord) -> bytes:
    """The seal block for a receipt printer: centred text lines, then the QR code (CP858 text)."""
    text = "\n".join(seal_text_lines(record)) + "\n"
    return b"\x1ba\x01" + printer_text(text) + escpos_qr(qr_content(record)) + b"\n\x1ba\x00"


# --- Z report -----------------------------------------------------------------------------------------


def z_report_context(closure: SealedRecord) -> dict:
    data = closure.data()
    rows = [
        {"rate": fc.cents_to_str(row["rate"]), "base": fc.cents_to_str(row["base"]), "vat": fc.cents_to_str(row["vat"]),
         "total": fc.cents_to_str(row["total"])}
        for row in data["vat"]
    ]
    grand = data["grand_total"]
    return {
        "closure": closure,
        "data": data,
        "kind": closure.get_type_display(),
        "period": data["period"],
        "vat_rows": rows,
        "total": fc.cents_to_str(data["total"]),
        "count": data["count"],
        "by_type": {k: {"count": v["count"], "total": fc.cents_to_str(v["total"])} for k, v in data["by_type"].items()},
        "grand_total": fc.cents_to_str(grand["total"]),
        "grand_absolute": fc.cents_to_str(grand["absolute"]),
        "grand_by_rate": [(fc.cents_to_str(int(rate)), fc.cents_to_str(amount))
                          for rate, amount in sorted(grand["by_rate"].items(), key=lambda kv: int(kv[0]))],
        "summarised": data.get("closures", []),
    }


def z_report_text(closure: SealedRecord, width: int = 42) -> str:
    """The Z report as plain text (screen <pre>, e-mail, or an ESC/POS job)."""
    ctx = z_report_context(closure)

    def pair(left: str, right: str) -> str:
        return f"{left[: width - len(right) - 1]:<{width - len(right)}}{right}"

    lines = [
        _("Z REPORT").center(width),
        f"{ctx['kind']} {ctx['period']}".center(width),
        "{} {} · {} {}".format(_("Closure"), closure.type_seq, _("Seq."), closure.seq).center(width),
        "-" * width,
    ]
    for rtype, t in ctx["by_type"].items():
        lines.append(pair(f"{rtype} × {t['count']}", t["total"]))
    lines.append("-" * width)
    lines.append(_("VAT rate    base       VAT      total"))
    for row in ctx["vat_rows"]:
        lines.append(f"{row['rate'] + ' %':<8}{row['base']:>10}{row['vat']:>10}{row['total']:>11}"[:width])
    lines.append("-" * width)
    lines.append(pair(_("Period total"), ctx["total"]))
    lines.append(pair(_("Perpetual grand total"), ctx["grand_total"]))
    lines.append(pair(_("Perpetual absolute total"), ctx["grand_absolute"]))
    for rate, amount in ctx["grand_by_rate"]:
        lines.append(pair(f"  {rate} %", amount))
    data = ctx["data"]
    if data.get("first_seq"):
        lines.append(pair(_("Receipts"), f"{data['first_seq']}–{data['last_seq']}"))
    if data.get("last_hash"):
        lines.append("{}: {}…".format(_("Last receipt hash"), data["last_hash"][:16])[:width])
    signed_at = date_format(closure.timestamp, "SHORT_DATETIME_FORMAT")
    lines.append("{}: {}  {}".format(_("Signature"), closure.signature_excerpt, signed_at)[:width])
    return "\n".join(lines) + "\n"


def z_report_escpos(closure: SealedRecord) -> bytes:
    """ESC/POS bytes for a receipt printer: init, the text in CP858 (€-capable), feed and cut."""
    return b"\x1b@" + b"\x1bt\x13" + printer_text(z_report_text(closure)) + b"\n\n\n\x1dV\x00"


def print_z_report(closure: SealedRecord) -> bool:
    """Queue the Z report on the report printer (printing.queue, in the caller's transaction; the
    spooler prints it with its retries and backup printer). False when no printer is set to print
    reports."""
    return queue.enqueue_report(data=z_report_escpos(closure)) is not None
