"""Putting prints in the queue. Called inside the caller's transaction (the outbox): the job commits
or rolls back with what it prints. Nothing here opens a socket; the spooler prints later."""

from collections.abc import Iterable
from dataclasses import dataclass

from printing.models import Printer, PrintJob


@dataclass(frozen=True)
class Print:
    """One print to queue: ESC/POS bytes for a printer, and what they are (see PrintJob.reference)."""

    printer_id: int
    kind: str
    data: bytes
    reference: str = ""


def enqueue(*, printer_id: int, kind: str, data: bytes, reference: str = "") -> PrintJob:
    """Queue one print (one INSERT)."""
    return PrintJob.objects.create(printer_id=printer_id, kind=kind, data=data, reference=reference)


def enqueue_many(*, prints: Iterable[Print]) -> list[PrintJob]:
    """Queue several prints in one INSERT (a kitchen send prints at every station at once)."""
    jobs = [PrintJob(printer_id=p.printer_id, kind=p.kind, data=p.data, reference=p.reference) for p in prints]
    return PrintJob.objects.bulk_create(jobs) if jobs else []


def enqueue_report(*, data: bytes) -> PrintJob | None:
    """Queue ready-made ESC/POS bytes (a Z report) on the report printer, in the caller's transaction.
    None when no enabled printer is set to print reports."""
    printer_id = (
        Printer.objects.filter(enabled=True, prints_reports=True).order_by("name").values_list("pk", flat=True).first()
    )
    if printer_id is None:
        return None
    return enqueue(printer_id=printer_id, kind=PrintJob.Kind.REPORT, data=data)


def queued_references(*, references: Iterable[str], kind: str) -> set[str]:
    """Which of `references` have a job of `kind` in the queue (whatever its state)."""
    references = list(references)
    if not references:
        return set()
    return set(PrintJob.objects.filter(reference__in=references, kind=kind).values_list("reference", flat=True))
