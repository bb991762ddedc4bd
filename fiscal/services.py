"""Sealing: every write to the fiscal chains goes through here, inside the caller's transaction.

Locking contract: each seal locks its chain's head row (SELECT ... FOR UPDATE on PostgreSQL; on SQLite
the IMMEDIATE transaction already holds the database write lock) until the caller's transaction
commits, so two tills paying at the same moment get consecutive numbers, never the same one and never
a gap. Call these functions inside the transaction that writes the business change (the payment, the
closure); if it rolls back, the record and its number are rolled back with it.

Records are built by fiscal/chain.py (canonical bytes, hash, signature); this module adds the database,
the clock, the numbering and grand totals, and writes receipts, cancellations (credit notes), pre-bills,
copies and journal (JET) entries. Closures are fiscal/closures.py, verification fiscal/verification.py.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fiscal import chain as fc
from fiscal import codes, db, keys
from fiscal.business_day import business_day
from fiscal.models import ChainHead, SealedRecord


class FiscalError(Exception):
    """A fiscal operation that the rules refuse (the message is shown to the user)."""


class AlreadyCancelled(FiscalError):
    pass


class AlreadyClosed(FiscalError):
    pass


def now() -> datetime:
    """The clock (tests patch this)."""
    return timezone.now()


def _name(who) -> str:
    """Operators and devices are recorded by name: a string, a User (username) or a Device (name)."""
    if who is None:
        return ""
    if isinstance(who, str):
        return who
    return str(getattr(who, "username", None) or getattr(who, "name", None) or who)


# --- the one way a record is appended ------------------------------------------------------------------


def lock_head(chain: str) -> ChainHead:
    """The head of `chain`, locked until the caller's transaction ends (created on first use; a head
    created meanwhile by another transaction is read, not duplicated: get_or_create reads it again)."""
    head = db.select_head(chain)
    if head is None:
        ChainHead.objects.get_or_create(chain=chain)
        head = db.select_head(chain)
    return head


def append_record(
    *, chain: str, rtype: str, build, operator="", device="", refers_to: SealedRecord | None = None,
    subject: str = "", period: str = "", head: ChainHead | None = None, journal_clock: bool = True,
) -> SealedRecord:
    """Seal one record at the end of `chain`. `build(head) -> dict` returns the canonical payload; it runs
    with the head locked, so it may read the running totals and counters."""
    with transaction.atomic(savepoint=False):
        if head is None:
            head = lock_head(chain)
        private_key, public_key, kid = keys.signing_key()
        moment = now()
        flags = []
        if head.timestamp is not None and moment < head.timestamp:
            flags.append(fc.CLOCK_BACK)
        day = business_day(moment)
        if head.business_day is not None and day < head.business_day:
            day = head.business_day  # a clock set back never moves records into an earlier day
        if head.closed_through is not None and day <= head.closed_through:
            day = head.closed_through + timedelta(days=1)  # after a Z, sales belong to the next day
        payload = build(head)
        payload_text = fc.canonical_json(payload)
        seq = head.seq + 1
        type_seqs = dict(head.type_seqs)
        type_seq = type_seqs.get(rtype, 0) + 1
        type_seqs[rtype] = type_seq
        header = {
            "v": fc.FORMAT_VERSION, "chain": chain, "seq": seq, "type": rtype, "type_seq": type_seq,
            "timestamp": fc.format_timestamp(moment), "business_day": day.isoformat(),
            "software_version": settings.VERSION, "operator": _name(operator), "device": _name(device),
            "key_id": kid, "flags": flags,
            "prev_hash": head.hash if head.seq else fc.genesis_hash(chain, public_key),
            "prev_signature": head.signature if head.seq else "",
        }
        digest, signature = fc.seal(header, payload_text, private_key)
        record = db.insert_record({
            "chain": chain, "seq": seq, "type": rtype, "type_seq": type_seq, "version": fc.FORMAT_VERSION,
            "timestamp": moment, "business_day": day, "software_version": header["software_version"],
            "operator": header["operator"], "device": header["device"], "key_id": header["key_id"],
            "flags": ",".join(flags), "payload": payload_text, "prev_hash": header["prev_hash"],
            "prev_signature": header["prev_signature"], "hash": digest, "signature": signature,
            "refers_to_id": refers_to.pk if refers_to is not None else None, "subject": subject, "period": period,
        })
        if refers_to is not None:
            record.refers_to = refers_to
        head.seq, head.hash, head.signature = seq, digest, signature
        head.timestamp = moment if head.timestamp is None else max(head.timestamp, moment)
        head.business_day = day
        head.type_seqs = type_seqs
        if chain in fc.TOTAL_CHAINS:
            head.grand_total = payload["grand_total"]
        db.update_head(head)
        if flags and journal_clock:
            journal(
                codes.CLOCK_CHANGE, message=f"clock went backwards before {chain} record {seq}",
                operator=operator, device=device, journal_clock=False,
                details={"chain": chain, "seq": seq, "previous": fc.format_timestamp(head.timestamp),
                         "now": header["timestamp"]},
            )
        return record


# --- receipts ---------------------------------------------------------------------------------------------


def seal_receipt(*, payload: dict, operator: str, device: str, training: bool = False) -> SealedRecord:
    """Seal a settled order's receipt. Called inside the payment transaction.

    `payload` is the orders app's receipt (orders.receipts.receipt_payload: amounts as Decimal strings);
    it is signed in canonical form (cents) with the perpetual grand total after it. Training receipts go
    to their own chain and never touch the real totals. Raises ValueError on a receipt that does not add up."""
    canonical = fc.canonical_payload(payload)
    fc.check_receipt_payload(canonical)
    chain = fc.TRAINING if training else fc.TICKET

    def build(head):
        body = dict(canonical)
        if training:
            body["training"] = True
        body["grand_total"] = fc.add_to_grand_total(head.grand_total, canonical)
        return body

    return append_record(chain=chain, rtype=fc.SALE, build=build, operator=operator, device=device,
                         subject=_order_subject(canonical))


def _order_subject(canonical: dict) -> str:
    """"2026-11-26/12": the order a receipt or pre-bill is about (lookup column, not hashed)."""
    order = canonical.get("order") or {}
    return f"{order.get('business_day', '')}/{order.get('number', '')}"[:64]


def find_receipt(*, business_day, number: int, training: bool = False) -> SealedRecord | None:
    """The sale receipt sealed for order `number` of `business_day` (a date or "YYYY-MM-DD")."""
    day = business_day if isinstance(business_day, str) else business_day.isoformat()
    return (SealedRecord.objects.filter(chain=fc.TRAINING if training else fc.TICKET, type=fc.SALE,
                                        subject=f"{day}/{number}").order_by("-seq").first())


_NEGATED = frozenset({"total", "base", "vat", "amount", "tips", "discount", "change", "subtotal", "tendered"})


def _negate(value, key=None):
    """The mirror image of a receipt: every amount negated (unit prices stay, quantities flip)."""
    if isinstance(value, dict):
        return {k: _negate(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_negate(v, key) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and (key in _NEGATED or key == "quantity"):
        return -value
    return value


def seal_cancellation(*, original: SealedRecord, operator, device, reason: str) -> SealedRecord:
    """A credit note cancelling a sealed sale in full: a new record with the negated amounts, referring
    to the original by number and hash (the original stays as it was). A receipt is cancelled once."""
    if original.type != fc.SALE or original.chain not in fc.TOTAL_CHAINS:
        raise FiscalError(_("Only a sale receipt can be cancelled."))
    reason = str(reason).strip()
    if not reason:
        raise FiscalError(_("A cancellation needs a reason."))
    with transaction.atomic():  # a savepoint: a refusal leaves the caller's transaction usable
        head = lock_head(original.chain)
        if SealedRecord.objects.filter(refers_to=original, type=fc.CANCELLATION).exists():
            raise AlreadyCancelled(_("Receipt %(number)d is already cancelled.") % {"number": original.type_seq})
        sale = original.data()
        body = {k: v for k, v in sale.items() if k not in ("grand_total",)}
        body = _negate(body)
        body["cancels"] = reference(original)
        body["reason"] = reason

        def build(head):
            return dict(body, grand_total=fc.add_to_grand_total(head.grand_total, body))

        try:
            with transaction.atomic():
                record = append_record(
                    chain=original.chain, rtype=fc.CANCELLATION, build=build, operator=operator, device=device,
                    refers_to=original, head=head, subject=original.subject,
                )
        except IntegrityError:
            raise AlreadyCancelled(_("Receipt %(number)d is already cancelled.") % {"number": original.type_seq}) from None
        journal(
            codes.CANCELLATION, message=f"receipt {original.type_seq} cancelled: {reason}", operator=operator,
            device=device, details={"original": reference(original), "cancellation": reference(record)},
        )
        return record


def reference(record: SealedRecord) -> dict:
    """How a later record (cancellation, copy, closure, journal entry) names an earlier one."""
    return {"chain": record.chain, "seq": record.seq, "type": record.type, "number": record.type_seq,
            "hash": record.hash}


def seal_pre_bill(*, payload: dict, operator, device) -> SealedRecord:
    """A pre-bill (provisional note) as printed; `payload` has the receipt's shape, without payments.
    Each print of the same order is a new record numbered by "print" (1 = first, 2 = first reprint…)."""
    canonical = fc.canonical_payload(payload)
    subject = _order_subject(canonical)

    def build(head):
        prints = SealedRecord.objects.filter(chain=fc.PREBILL, subject=subject).count() + 1
        return dict(canonical, provisional=True, print=prints)

    return append_record(chain=fc.PREBILL, rtype=fc.PREBILL_TYPE, build=build, operator=operator,
                         device=device, subject=subject)


def seal_copy(*, original: SealedRecord, operator, device) -> SealedRecord:
    """A reprint of a receipt: a signed "DUPLICATA n" record referring to the original (n counts up)."""
    if original.chain not in fc.TOTAL_CHAINS:
        raise FiscalError(_("Only receipts are reprinted as copies."))
    with transaction.atomic():
        head = lock_head(fc.COPY)
        number = SealedRecord.objects.filter(refers_to=original, type=fc.COPY_TYPE).count() + 1
        record = append_record(
            chain=fc.COPY, rtype=fc.COPY_TYPE, head=head, operator=operator, device=device, refers_to=original,
            build=lambda head: {"original": reference(original), "copy": number},
        )
        journal(codes.REPRINT, message=f"copy {number} of receipt {original.type_seq}", operator=operator,
                device=device, details={"original": reference(original), "copy": reference(record)})
        return record


def copy_number(record: SealedRecord) -> int:
    return record.data()["copy"]


# --- journal -------------------------------------------------------------------------------------------


def _plain(value):
    """Journal details as plain JSON: floats and other objects become strings (never refuse an event)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        return fc.format_timestamp(value) if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def journal(code: int, *, message, operator="", device="", details=None, journal_clock: bool = True) -> SealedRecord:
    """Append an event to the technical event journal (JET). Codes: fiscal.codes."""
    payload = {"code": int(code), "label": codes.LABELS.get(int(code), ""), "message": str(message),
               "details": _plain(details or {})}
    return append_record(chain=fc.JET, rtype=fc.EVENT, build=lambda head: payload, operator=operator,
                         device=device, subject=str(int(code)), journal_clock=journal_clock)


def rotate_key(*, operator="", device="") -> SealedRecord:
    """Replace the store's signing key. The change is itself a signed journal entry (code 275), made
    with the OLD key and carrying the new public key, so anyone who trusts the old key can follow the
    rotation; records after it are signed with the new key (their key_id says which). The old key is
    kept as `<key file>.<key id>.retired` for verification. Register the new public key with the cloud."""
    old_kid = keys.current_key_id()
    new_key = keys.prepare_next_key()
    new_public = new_key.public_key()
    with transaction.atomic():
        record = journal(
            codes.KEY_ROTATION, message=f"signing key {old_kid} replaced by {fc.key_id(new_public)}",
            operator=operator, device=device,
            details={"old_key_id": old_kid, "new_key_id": fc.key_id(new_public),
                     "new_public_key": fc.raw_public_bytes(new_public).hex()},
        )
    keys.activate_next_key()
    return record
