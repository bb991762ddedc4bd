"""Sealing: every write to the fiscal chains goes through here, inside the caller's transaction.

Locking contract: each seal locks its chain's head row (SELECT ... FOR UPDATE on PostgreSQL; on SQLite
the IMMEDIATE transaction already holds the database write lock) until the caller's transaction
commits, so two tills paying at the same moment get consecutive numbers, never the same one and never
a gap. Call these functions inside the transaction that writes the business change (the payment, the
closure); if it rolls back, the record and its number are rolled back with it.

Records are built by fiscal/chain.py (canonical bytes, hash, signature); this module adds the database,
the clock, grand totals, closures and the journal.
"""

from __future__ import annotations

import json
import logging
from calendar import monthrange
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from fiscal import chain as fc
from fiscal import codes, keys
from fiscal.business_day import business_day
from fiscal.models import ChainHead, SealedRecord

log = logging.getLogger(__name__)


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


# The three statements of a seal are the payment's hot path. The ORM spent more time compiling them
# than the database took to run them, so they are written once per process from the models' own field
# definitions; dates and JSON still go through each field's get_db_prep_save, plain values as they are.
_sql_cache: dict[tuple, tuple] = {}
_PREPARED = frozenset({"DateTimeField", "DateField", "JSONField"})


def _params(fields, obj, conn) -> list:
    return [f.get_db_prep_save(getattr(obj, f.attname), conn) if prep else getattr(obj, f.attname)
            for f, prep in fields]


def _head_sql(conn):
    key = ("head", conn.vendor)
    if key not in _sql_cache:
        meta = ChainHead._meta
        qn = conn.ops.quote_name
        columns = ", ".join(qn(f.column) for f in meta.concrete_fields)
        select = f"SELECT {columns} FROM {qn(meta.db_table)} WHERE {qn('chain')} = %s"
        if conn.features.has_select_for_update:
            select += " FOR UPDATE"
        _sql_cache[key] = (select, list(meta.concrete_fields))
    return _sql_cache[key]


def _lock_head(chain: str) -> ChainHead:
    conn = connections[DEFAULT_DB_ALIAS]
    sql, fields = _head_sql(conn)
    with conn.cursor() as cursor:
        cursor.execute(sql, [chain])
        row = cursor.fetchone()
    if row is None:
        try:
            with transaction.atomic():
                ChainHead.objects.create(chain=chain)
        except IntegrityError:
            pass  # created meanwhile by another transaction
        with conn.cursor() as cursor:
            cursor.execute(sql, [chain])
            row = cursor.fetchone()
    values = [_to_python(f, f.from_db_value(v, None, conn) if hasattr(f, "from_db_value") else v)
              for f, v in zip(fields, row)]
    return ChainHead.from_db(conn.alias, [f.attname for f in fields], values)


def _to_python(field, value):
    """Raw cursors return what the driver gives (SQLite: text for dates); normalise like the ORM does."""
    if value is None:
        return None
    internal = field.get_internal_type()
    if internal == "DateTimeField":
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    if internal == "DateField" and not isinstance(value, date):
        return date.fromisoformat(str(value))
    return value


_HEAD_UPDATE = ("seq", "hash", "signature", "timestamp", "business_day", "type_seqs", "grand_total")


def _save_head(head: ChainHead, names=_HEAD_UPDATE) -> None:
    conn = connections[DEFAULT_DB_ALIAS]
    key = ("update", conn.vendor, names)
    if key not in _sql_cache:
        meta = ChainHead._meta
        qn = conn.ops.quote_name
        fields = [meta.get_field(n) for n in names]
        sets = ", ".join(f"{qn(f.column)} = %s" for f in fields)
        _sql_cache[key] = (f"UPDATE {qn(meta.db_table)} SET {sets} WHERE {qn('id')} = %s",
                           [(f, f.get_internal_type() in _PREPARED) for f in fields])
    sql, fields = _sql_cache[key]
    with conn.cursor() as cursor:
        cursor.execute(sql, _params(fields, head, conn) + [head.pk])


def _insert_record(record: SealedRecord) -> None:
    conn = connections[DEFAULT_DB_ALIAS]
    key = ("insert", conn.vendor)
    if key not in _sql_cache:
        meta = SealedRecord._meta
        qn = conn.ops.quote_name
        fields = [f for f in meta.concrete_fields if not f.primary_key]
        sql = (f"INSERT INTO {qn(meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "
               f"VALUES ({', '.join(['%s'] * len(fields))})")
        returning = conn.features.can_return_columns_from_insert
        if returning:
            sql += f" RETURNING {qn(meta.pk.column)}"
        _sql_cache[key] = (sql, [(f, f.get_internal_type() in _PREPARED) for f in fields], returning)
    sql, fields, returning = _sql_cache[key]
    with conn.cursor() as cursor:
        cursor.execute(sql, _params(fields, record, conn))
        record.pk = cursor.fetchone()[0] if returning else cursor.lastrowid
    record._state.adding = False
    record._state.db = conn.alias


def _append(
    *, chain: str, rtype: str, build, operator="", device="", refers_to: SealedRecord | None = None,
    subject: str = "", period: str = "", head: ChainHead | None = None, journal_clock: bool = True,
) -> SealedRecord:
    """Seal one record at the end of `chain`. `build(head) -> dict` returns the canonical payload; it runs
    with the head locked, so it may read the running totals and counters."""
    with transaction.atomic(savepoint=False):
        if head is None:
            head = _lock_head(chain)
        private_key, public_key, kid = keys._loaded()
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
        record = SealedRecord(
            chain=chain, seq=seq, type=rtype, type_seq=type_seq, version=fc.FORMAT_VERSION, timestamp=moment,
            business_day=day, software_version=header["software_version"], operator=header["operator"],
            device=header["device"], key_id=header["key_id"], flags=",".join(flags), payload=payload_text,
            prev_hash=header["prev_hash"], prev_signature=header["prev_signature"], hash=digest,
            signature=signature, refers_to=refers_to, subject=subject, period=period,
        )
        _insert_record(record)
        head.seq, head.hash, head.signature = seq, digest, signature
        head.timestamp = moment if head.timestamp is None else max(head.timestamp, moment)
        head.business_day = day
        head.type_seqs = type_seqs
        if chain in fc.TOTAL_CHAINS:
            head.grand_total = payload["grand_total"]
        _save_head(head)
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

    `payload` is the orders app's receipt (amounts as Decimal strings, see the brief); it is signed in
    canonical form (cents) with the perpetual grand total after it. Training receipts go to their own
    chain and never touch the real totals. Raises ValueError on a receipt that does not add up."""
    canonical = fc.canonical_payload(payload)
    fc.check_receipt_payload(canonical)
    chain = fc.TRAINING if training else fc.TICKET

    def build(head):
        body = dict(canonical)
        if training:
            body["training"] = True
        body["grand_total"] = fc.add_to_grand_total(head.grand_total, canonical)
        return body

    return _append(chain=chain, rtype=fc.SALE, build=build, operator=operator, device=device,
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
        head = _lock_head(original.chain)
        if SealedRecord.objects.filter(refers_to=original, type=fc.CANCELLATION).exists():
            raise AlreadyCancelled(_("Receipt %(number)d is already cancelled.") % {"number": original.type_seq})
        sale = original.data()
        body = {k: v for k, v in sale.items() if k not in ("grand_total",)}
        body = _negate(body)
        body["cancels"] = _reference(original)
        body["reason"] = reason

        def build(head):
            return dict(body, grand_total=fc.add_to_grand_total(head.grand_total, body))

        try:
            with transaction.atomic():
                record = _append(
                    chain=original.chain, rtype=fc.CANCELLATION, build=build, operator=operator, device=device,
                    refers_to=original, head=head, subject=original.subject,
                )
        except IntegrityError:
            raise AlreadyCancelled(_("Receipt %(number)d is already cancelled.") % {"number": original.type_seq}) from None
        journal(
            codes.CANCELLATION, message=f"receipt {original.type_seq} cancelled: {reason}", operator=operator,
            device=device, details={"original": _reference(original), "cancellation": _reference(record)},
        )
        return record


def _reference(record: SealedRecord) -> dict:
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

    return _append(chain=fc.PREBILL, rtype=fc.PREBILL_TYPE, build=build, operator=operator, device=device,
                   subject=subject)


def seal_copy(*, original: SealedRecord, operator, device) -> SealedRecord:
    """A reprint of a receipt: a signed "DUPLICATA n" record referring to the original (n counts up)."""
    if original.chain not in fc.TOTAL_CHAINS:
        raise FiscalError(_("Only receipts are reprinted as copies."))
    with transaction.atomic():
        head = _lock_head(fc.COPY)
        number = SealedRecord.objects.filter(refers_to=original, type=fc.COPY_TYPE).count() + 1
        record = _append(
            chain=fc.COPY, rtype=fc.COPY_TYPE, head=head, operator=operator, device=device, refers_to=original,
            build=lambda head: {"original": _reference(original), "copy": number},
        )
        journal(codes.REPRINT, message=f"copy {number} of receipt {original.type_seq}", operator=operator,
                device=device, details={"original": _reference(original), "copy": _reference(record)})
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
    return _append(chain=fc.JET, rtype=fc.EVENT, build=lambda head: payload, operator=operator, device=device,
                   subject=str(int(code)), journal_clock=journal_clock)


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


# --- closures ------------------------------------------------------------------------------------------


def _sum_rows(rows_lists) -> list[dict]:
    by_rate: dict[int, dict] = {}
    for rows in rows_lists:
        for row in rows:
            acc = by_rate.setdefault(int(row["rate"]), {"rate": int(row["rate"]), "base": 0, "vat": 0, "total": 0})
            acc["base"] += row["base"]
            acc["vat"] += row["vat"]
            acc["total"] += row["total"]
    return [by_rate[r] for r in sorted(by_rate)]


def _sum_by_type(parts) -> dict:
    out: dict[str, dict] = {}
    for part in parts:
        for rtype, t in part.items():
            acc = out.setdefault(rtype, {"count": 0, "total": 0})
            acc["count"] += t["count"]
            acc["total"] += t["total"]
    return out


def _grand_total_at(seq: int) -> dict:
    if not seq:
        return fc.zero_grand_total()
    payload = SealedRecord.objects.filter(chain=fc.TICKET, seq=seq).values_list("payload", flat=True).get()
    return json.loads(payload)["grand_total"]


def _close_one_day(day: date, ticket_head: ChainHead, *, operator="", device="") -> SealedRecord:
    receipts = SealedRecord.objects.filter(chain=fc.TICKET, seq__gt=ticket_head.closed_seq, business_day__lte=day)
    count, first_seq, last_seq, last_hash, total = 0, None, None, None, 0
    vat_rows, by_type = [], {}
    for seq, rtype, digest, text in receipts.order_by("seq").values_list("seq", "type", "hash", "payload").iterator():
        payload = json.loads(text)
        count += 1
        first_seq = first_seq or seq
        last_seq, last_hash = seq, digest
        total += payload["total"]
        vat_rows.append(payload.get("vat") or [])
        t = by_type.setdefault(rtype, {"count": 0, "total": 0})
        t["count"] += 1
        t["total"] += payload["total"]
        grand = payload["grand_total"]
    if not count:
        grand = _grand_total_at(ticket_head.closed_seq)
        last_hash = SealedRecord.objects.filter(chain=fc.TICKET, seq=ticket_head.closed_seq).values_list(
            "hash", flat=True).first() or ""
    body = {
        "period": day.isoformat(), "first_seq": first_seq, "last_seq": last_seq, "count": count,
        "last_hash": last_hash, "by_type": by_type, "vat": _sum_rows(vat_rows), "total": total,
        "grand_total": grand,
    }
    try:
        with transaction.atomic():
            record = _append(chain=fc.CLOSURE, rtype=fc.DAY, build=lambda head: body, operator=operator,
                             device=device, period=day.isoformat())
    except IntegrityError:
        raise AlreadyClosed(_("%(period)s is already closed.") % {"period": day}) from None
    ticket_head.closed_through = day
    if last_seq:
        ticket_head.closed_seq = last_seq
    _save_head(ticket_head, ("closed_through", "closed_seq"))
    journal(codes.CLOSURE_DAY, message=f"day {day} closed", operator=operator, device=device,
            details={"closure": _reference(record), "total": total, "count": count})
    return record


def _close_days_through(day: date, ticket_head: ChainHead, *, include_empty: bool, operator="", device="") -> list:
    """Close, in order, every business day up to `day` that has unclosed receipts (and `day` itself
    even without receipts when include_empty)."""
    made = []
    while True:
        nxt = (SealedRecord.objects.filter(chain=fc.TICKET, seq__gt=ticket_head.closed_seq)
               .order_by("seq").values_list("business_day", flat=True).first())
        if nxt is None or nxt > day:
            break
        made.append(_close_one_day(nxt, ticket_head, operator=operator, device=device))
    if include_empty and (ticket_head.closed_through is None or ticket_head.closed_through < day):
        made.append(_close_one_day(day, ticket_head, operator=operator, device=device))
    return made


def close_day(day: date | None = None, *, operator="", device="") -> list[SealedRecord]:
    """Close business day `day` (default: yesterday's business day), closing first any earlier day that
    still has unclosed receipts. Returns the day closures made (the last one is `day`'s)."""
    with transaction.atomic():
        ticket_head = _lock_head(fc.TICKET)  # freezes the receipts while they are counted
        today = business_day(now())
        day = day or today - timedelta(days=1)
        if day > today:
            raise FiscalError(_("%(period)s has not started yet.") % {"period": day})
        if ticket_head.closed_through is not None and day <= ticket_head.closed_through:
            raise AlreadyClosed(_("%(period)s is already closed (closed through %(through)s).")
                                % {"period": day, "through": ticket_head.closed_through})
        return _close_days_through(day, ticket_head, include_empty=True, operator=operator, device=device)


def _summarise(kind: str, period: str, parts: list[SealedRecord], *, operator, device) -> SealedRecord:
    payloads = [p.data() for p in parts]
    firsts = [p["first_seq"] for p in payloads if p["first_seq"]]
    lasts = [p["last_seq"] for p in payloads if p["last_seq"]]
    if payloads:
        grand, last_hash = payloads[-1]["grand_total"], payloads[-1]["last_hash"]
    else:
        head = ChainHead.objects.filter(chain=fc.TICKET).first()
        closed_seq = head.closed_seq if head else 0
        grand = _grand_total_at(closed_seq)
        last_hash = SealedRecord.objects.filter(chain=fc.TICKET, seq=closed_seq).values_list("hash", flat=True).first() or ""
    body = {
        "period": period,
        "closures": [{"seq": p.seq, "period": p.period, "hash": p.hash} for p in parts],
        "first_seq": min(firsts) if firsts else None, "last_seq": max(lasts) if lasts else None,
        "count": sum(p["count"] for p in payloads), "last_hash": last_hash,
        "by_type": _sum_by_type(p["by_type"] for p in payloads),
        "vat": _sum_rows(p["vat"] for p in payloads), "total": sum(p["total"] for p in payloads),
        "grand_total": grand,
    }
    try:
        with transaction.atomic():
            record = _append(chain=fc.CLOSURE, rtype=kind, build=lambda head: body, operator=operator,
                             device=device, period=period)
    except IntegrityError:
        raise AlreadyClosed(_("%(period)s is already closed.") % {"period": period}) from None
    journal(codes.CLOSURE_PERIOD, message=f"{kind} {period} closed", operator=operator, device=device,
            details={"closure": _reference(record), "total": body["total"], "count": body["count"]})
    return record


def close_month(year: int, month: int, *, operator="", device="") -> SealedRecord:
    """Close a finished month: its open days first, then a month closure summarising its day closures."""
    period = f"{year:04d}-{month:02d}"
    last_day = date(year, month, monthrange(year, month)[1])
    with transaction.atomic():
        ticket_head = _lock_head(fc.TICKET)
        if business_day(now()) <= last_day:
            raise FiscalError(_("%(period)s is not over yet.") % {"period": period})
        if SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.MONTH, period=period).exists():
            raise AlreadyClosed(_("%(period)s is already closed.") % {"period": period})
        _close_days_through(last_day, ticket_head, include_empty=False, operator=operator, device=device)
        days = list(SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.DAY, period__startswith=period + "-")
                    .order_by("seq"))
        return _summarise(fc.MONTH, period, days, operator=operator, device=device)


def close_year(year: int, *, operator="", device="") -> SealedRecord:
    """Close a finished year: its open months first, then a year closure summarising the month closures."""
    period = f"{year:04d}"
    with transaction.atomic():
        _lock_head(fc.TICKET)
        if business_day(now()) <= date(year, 12, 31):
            raise FiscalError(_("%(period)s is not over yet.") % {"period": period})
        if SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.YEAR, period=period).exists():
            raise AlreadyClosed(_("%(period)s is already closed.") % {"period": period})
        for month in range(1, 13):
            month_period = f"{year:04d}-{month:02d}"
            has_days = SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.DAY, period__startswith=month_period + "-").exists()
            has_receipts = SealedRecord.objects.filter(
                chain=fc.TICKET, business_day__year=year, business_day__month=month).exists()
            closed = SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.MONTH, period=month_period).exists()
            if (has_days or has_receipts) and not closed:
                close_month(year, month, operator=operator, device=device)
        months = list(SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.MONTH, period__startswith=period + "-")
                      .order_by("seq"))
        return _summarise(fc.YEAR, period, months, operator=operator, device=device)


_started = False


def run_scheduled_closures() -> bool:
    """The `serve` loop step: close every finished business day that has receipts, then every finished
    month and year whose days are closed. Journals start-up and a new software version the first time it
    runs in a process. Returns True when it did something."""
    global _started
    if settings.KDS_ROLE != "store":
        return False  # the cloud keeps the stores' records; it seals nothing of its own
    did = False
    if not _started:
        _started = True
        _journal_start()
        did = True
    today = business_day(now())
    with transaction.atomic():
        ticket_head = _lock_head(fc.TICKET)
        if _close_days_through(today - timedelta(days=1), ticket_head, include_empty=False):
            did = True
    # Months: day closures made since the last month closure, in months that are over.
    last_month = SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.MONTH).order_by("-seq").values_list("seq", flat=True).first() or 0
    periods = SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.DAY, seq__gt=last_month).values_list("period", flat=True)
    for year, month in sorted({(int(p[:4]), int(p[5:7])) for p in periods}):
        if date(year, month, monthrange(year, month)[1]) < today and not SealedRecord.objects.filter(
                chain=fc.CLOSURE, type=fc.MONTH, period=f"{year:04d}-{month:02d}").exists():
            close_month(year, month)
            did = True
    last_year = SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.YEAR).order_by("-seq").values_list("seq", flat=True).first() or 0
    periods = SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.MONTH, seq__gt=last_year).values_list("period", flat=True)
    for year in sorted({int(p[:4]) for p in periods}):
        if date(year, 12, 31) < today and not SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.YEAR, period=f"{year:04d}").exists():
            close_year(year)
            did = True
    return did


def _journal_start() -> None:
    last = (SealedRecord.objects.filter(chain=fc.JET).order_by("-seq").values_list("software_version", flat=True).first())
    with transaction.atomic():
        journal(codes.START, message="server started", details={"version": settings.VERSION})
        if last is not None and last != settings.VERSION:
            journal(codes.NEW_VERSION, message=f"software version {last} → {settings.VERSION}",
                    details={"previous": last, "version": settings.VERSION})


# --- verification --------------------------------------------------------------------------------------


@dataclass
class StoreReport:
    """The verification of every chain of this store."""

    results: dict[str, fc.VerifyResult] = field(default_factory=dict)
    errors: list[tuple[str, int, str]] = field(default_factory=list)  # first broken record of each chain
    warnings: list[str] = field(default_factory=list)
    closures_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def count(self) -> int:
        return sum(r.count for r in self.results.values())


def keyring() -> fc.Keyring:
    ring = fc.Keyring([keys.public_key()])
    for key in keys.retired_keys():
        ring.add(key)
    return ring


def verify_store(*, strict: bool = False, journal_failure: bool = True, operator="", device="") -> StoreReport:
    """Verify every chain in the database (streamed), cross-check day closures against the receipts they
    summarise and each chain head against its last record. A failure is journaled (code 90)."""
    from fiscal import db

    ring = keyring()
    report = StoreReport()
    if not db.triggers_present():
        report.warnings.append("the immutability triggers are missing from the database")
    heads = {h.chain: h for h in ChainHead.objects.all()}
    day_closures: list[tuple[int, dict]] = []

    def collect(wire, payload):
        if wire["type"] == fc.DAY:
            day_closures.append((wire["seq"], payload))

    order = [fc.CLOSURE, fc.TICKET] + [c for c in fc.CHAINS if c not in (fc.CLOSURE, fc.TICKET)]
    tally = None
    for chain in order:
        observer = None
        if chain == fc.CLOSURE:
            observer = collect
        elif chain == fc.TICKET:
            tally = fc.ClosureTally(day_closures)
            observer = tally.observe
        records = SealedRecord.objects.filter(chain=chain).wire()
        result = fc.verify_chain(records, ring, chain=chain, strict=strict, observer=observer)
        report.results[chain] = result
        if result.first_error:
            report.errors.append(result.first_error)
            continue
        head = heads.get(chain)
        head_seq = head.seq if head else 0
        if head_seq != result.last_seq or (head and head.seq and head.hash != result.last_hash):
            if head_seq > result.last_seq:
                error = (chain, result.last_seq + 1, f"record {result.last_seq + 1} is missing "
                         f"(the chain head says the chain ends at {head_seq})")
            else:
                error = (chain, result.last_seq, f"the chain head ({head_seq}) does not match the last record")
            report.errors.append(error)
            result.ok = False
            result.first_error = error
    if tally is not None and report.results[fc.TICKET].ok:  # a broken receipt chain is reported already
        ticket = report.results[fc.TICKET]
        closure_error = tally.finish(ticket.last_seq)
        report.closures_checked = tally.checked
        if closure_error and not report.results[fc.CLOSURE].first_error:
            report.errors.append(closure_error)
            report.results[fc.CLOSURE].ok = False
            report.results[fc.CLOSURE].first_error = closure_error
    if not report.ok and journal_failure:
        try:
            with transaction.atomic():
                journal(codes.INTEGRITY_DEFECT, message="fiscal verification failed", operator=operator,
                        device=device, details={"errors": [list(e) for e in report.errors]})
        except Exception:  # a broken JET must not hide the report itself
            log.exception("could not journal the integrity defect")
    return report
