"""Day, month and year closures (the Z) and the closures the `serve` loop makes on its own.

A day closure seals, on the closure chain, the totals of the receipts of one business day: count, totals
by record type and by VAT rate, the last receipt's hash and the perpetual grand total after it. A month
closure summarises its day closures, a year closure its month closures; each refers to the closures it
sums by number and hash. Closures lock the receipt chain's head while they count, so no receipt is sealed
into a day being closed; a receipt sealed after a day's Z belongs to the next day (fiscal.services).
"""

from __future__ import annotations

import json
from calendar import monthrange
from datetime import date, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from fiscal import chain as fc
from fiscal import codes, services
from fiscal.business_day import business_day
from fiscal.models import ChainHead, SealedRecord


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
            record = services.append_record(chain=fc.CLOSURE, rtype=fc.DAY, build=lambda head: body,
                                            operator=operator, device=device, period=day.isoformat())
    except IntegrityError:
        raise services.AlreadyClosed(_("%(period)s is already closed.") % {"period": day}) from None
    ticket_head.closed_through = day
    if last_seq:
        ticket_head.closed_seq = last_seq
    ChainHead.objects.filter(pk=ticket_head.pk).update(closed_through=day, closed_seq=ticket_head.closed_seq)
    services.journal(codes.CLOSURE_DAY, message=f"day {day} closed", operator=operator, device=device,
                     details={"closure": services.reference(record), "total": total, "count": count})
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
        ticket_head = services.lock_head(fc.TICKET)  # freezes the receipts while they are counted
        today = business_day(services.now())
        day = day or today - timedelta(days=1)
        if day > today:
            raise services.FiscalError(_("%(period)s has not started yet.") % {"period": day})
        if ticket_head.closed_through is not None and day <= ticket_head.closed_through:
            raise services.AlreadyClosed(_("%(period)s is already closed (closed through %(through)s).")
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
            record = services.append_record(chain=fc.CLOSURE, rtype=kind, build=lambda head: body,
                                            operator=operator, device=device, period=period)
    except IntegrityError:
        raise services.AlreadyClosed(_("%(period)s is already closed.") % {"period": period}) from None
    services.journal(codes.CLOSURE_PERIOD, message=f"{kind} {period} closed", operator=operator,
                     device=device, details={"closure": services.reference(record), "total": body["total"],
                                             "count": body["count"]})
    return record


def close_month(year: int, month: int, *, operator="", device="") -> SealedRecord:
    """Close a finished month: its open days first, then a month closure summarising its day closures."""
    period = f"{year:04d}-{month:02d}"
    last_day = date(year, month, monthrange(year, month)[1])
    with transaction.atomic():
        ticket_head = services.lock_head(fc.TICKET)
        if business_day(services.now()) <= last_day:
            raise services.FiscalError(_("%(period)s is not over yet.") % {"period": period})
        if SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.MONTH, period=period).exists():
            raise services.AlreadyClosed(_("%(period)s is already closed.") % {"period": period})
        _close_days_through(last_day, ticket_head, include_empty=False, operator=operator, device=device)
        days = list(SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.DAY, period__startswith=period + "-")
                    .order_by("seq"))
        return _summarise(fc.MONTH, period, days, operator=operator, device=device)


def close_year(year: int, *, operator="", device="") -> SealedRecord:
    """Close a finished year: its open months first, then a year closure summarising the month closures."""
    period = f"{year:04d}"
    with transaction.atomic():
        services.lock_head(fc.TICKET)
        if business_day(services.now()) <= date(year, 12, 31):
            raise services.FiscalError(_("%(period)s is not over yet.") % {"period": period})
        if SealedRecord.objects.filter(chain=fc.CLOSURE, type=fc.YEAR, period=period).exists():
            raise services.AlreadyClosed(_("%(period)s is already closed.") % {"period": period})
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
    today = business_day(services.now())
    with transaction.atomic():
        ticket_head = services.lock_head(fc.TICKET)
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
        services.journal(codes.START, message="server started", details={"version": settings.VERSION})
        if last is not None and last != settings.VERSION:
            services.journal(codes.NEW_VERSION, message=f"software version {last} → {settings.VERSION}",
                             details={"previous": last, "version": settings.VERSION})
