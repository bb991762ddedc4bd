"""Kitchen printers: ESC/POS bytes for a ticket, and the spooler step that sends print jobs.

Jobs are written by kds.services inside the order's transaction (the outbox) and printed here, later,
by `process_one_job`, which `manage.py serve` runs in a loop (kds/background.py). A printer that is
off or unplugged therefore never slows an order down; it only raises an alert on the screens.

Delivery is at least once: a job is marked done only after its bytes were handed to the printer's
socket; a process killed in between reprints it (a duplicate ticket beats a lost one).
"""

import logging
import socket
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from escpos.printer import Dummy

from core.events import publish_on_commit
from kds.models import PrintJob, Printer

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0  # seconds: a printer on the LAN answers in milliseconds or not at all
SEND_TIMEOUT = 5.0
FAILOVER_AFTER = 2  # failed attempts on the station's printer before its backup takes over
MAX_ATTEMPTS = 8  # then the job is "failed" (about 4 minutes): the screens showed the ticket anyway
STUCK_AFTER = timedelta(seconds=60)  # a job "printing" this long was left by a killed process
PROBE_EVERY = timedelta(seconds=30)  # how often a printer marked down is tried again when idle
ALERT_EVENT = {"type": "kds.alert"}
WIDTH = 42  # characters per line in font A on 80 mm paper


def now():
    """The spooler's clock (tests patch it)."""
    return timezone.now()


# --- Rendering ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintItem:
    quantity: int
    name: str
    modifiers: tuple[str, ...] = ()
    note: str = ""
    seat: int | None = None
    within: str = ""  # the set menu this dish belongs to


@dataclass(frozen=True)
class TicketSpec:
    station: str
    order_number: int
    where: str
    server: str
    time: str
    items: tuple[PrintItem, ...] = field(default_factory=tuple)
    rush: bool = False
    held_course: int | None = None
    void_reason: str | None = None


def ticket_spec(ticket, order, lines, *, void_reason: str | None = None) -> TicketSpec:
    """What goes on the paper for `ticket`, in the kitchen's language."""
    with translation.override(settings.LANGUAGE_CODE):
        return TicketSpec(
            station=ticket.station.name,
            order_number=order.number,
            where=where_label(order),
            server=order.server.first_name or order.server.username if order.server_id else "",
            time=formats.time_format(timezone.localtime(ticket.sent_at or ticket.created_at), "H:i"),
            items=tuple(
                PrintItem(
                    quantity=line.quantity,
                    name=line.kitchen_name or line.name,
                    modifiers=tuple(m.kitchen_name or m.name for m in line.modifiers.all()),
                    note=line.note,
                    seat=line.seat,
                    within=(line.parent.kitchen_name or line.parent.name) if line.parent_id else "",
                )
                for line in lines
            ),
            rush=ticket.is_rush,
            held_course=ticket.course if ticket.status == "held" else None,
            void_reason=void_reason,
        )


def where_label(order) -> str:
    """"Table 4", "À emporter", "Borne" — the same words on paper and on screens."""
    return describe_where(order.table.label if order.table_id else None, order.source, order.order_type)


def describe_where(table_label: str | None, source: str, order_type: str) -> str:
    if table_label:
        return _("Table %(label)s") % {"label": table_label}
    if source == "kiosk":
        return _("Kiosk")
    if source == "api":
        return _("Delivery")
    if order_type == "take_away":
        return _("Take away")
    return _("Counter")


def render_ticket(spec: TicketSpec) -> bytes:
    """ESC/POS bytes for an 80 mm printer (python-escpos picks the code page for accents)."""
    p = Dummy()
    p.hw("INIT")
    if spec.void_reason is not None:
        p.set(align="center", bold=True, invert=True, double_height=True, double_width=True)
        p.text(_("VOID") + "\n")
    p.set(align="center", bold=True, double_height=True, double_width=True)
    p.text(f"#{spec.order_number}\n")
    p.set(align="center", normal_textsize=True, bold=True)
    p.text(f"{spec.where}\n")
    p.set(align="left", normal_textsize=True)
    p.text(f"{spec.station} - {spec.time}" + (f" - {spec.server}" if spec.server else "") + "\n")
    if spec.rush:
        p.set(align="center", bold=True, invert=True)
        p.text(" " + _("RUSH") + " \n")
    if spec.held_course is not None:
        p.set(align="center", bold=True)
        p.text(_("HOLD — course %(n)s") % {"n": spec.held_course} + "\n")
    p.set(align="left", normal_textsize=True)
    p.text("-" * WIDTH + "\n")
    for item in spec.items:
        p.set(bold=True, double_height=True)
        p.text(f"{item.quantity} x {item.name}\n")
        p.set(normal_textsize=True)
        for modifier in item.modifiers:
            p.text(f"   + {modifier}\n")
        if item.note:
            p.set(bold=True)
            p.text(f"   ! {item.note}\n")
            p.set(bold=False)
        if item.seat:
            p.text("   " + _("seat %(n)s") % {"n": item.seat} + "\n")
        if item.within:
            p.text(f"   ({item.within})\n")
    if spec.void_reason is not None:
        p.text("-" * WIDTH + "\n")
        p.text(_("Reason: %(reason)s") % {"reason": spec.void_reason} + "\n")
    p.text("\n")
    p.cut()
    return p.output


# --- The spooler --------------------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """2, 4, 8… seconds after each failure, at most a minute."""
    return timedelta(seconds=min(60, 2 ** max(1, attempts)))


def choose_printer(job: PrintJob) -> Printer | None:
    """The station's printer, or its backup once the printer failed this job FAILOVER_AFTER times
    (or is already known to be down, or was disabled)."""
    primary = job.printer
    backup = primary.backup if primary.backup_id and primary.backup_id != primary.pk else None
    if backup is not None and not backup.enabled:
        backup = None
    if not primary.enabled:
        return backup
    if backup is not None and (job.attempts >= FAILOVER_AFTER or (primary.is_down and not backup.is_down)):
        return backup
    return primary


def send(host: str, port: int, data: bytes) -> None:
    """Hand `data` to a raw-TCP printer (JetDirect, port 9100). Raises OSError on any failure."""
    with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT) as sock:
        sock.settimeout(SEND_TIMEOUT)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)


def enqueue_report(*, data: bytes) -> PrintJob | None:
    """Queue ready-made ESC/POS bytes (a Z report) on the report printer, in the caller's transaction.
    None when no enabled printer is set to print reports."""
    printer = Printer.objects.filter(enabled=True, prints_reports=True).order_by("name").first()
    if printer is None:
        return None
    return PrintJob.objects.create(printer=printer, kind=PrintJob.Kind.REPORT, data=data)


def process_one_job() -> bool:
    """Print the oldest due job. Returns True when there was work (the loop comes back at once).

    1. pick a due job (pending and due, or "printing" for too long: its process died);
    2. claim it with compare-and-set (status and attempts unchanged), else leave it to the winner;
    3. send its bytes to the chosen printer with socket timeouts;
    4. mark it done after the send succeeded, or count the failure and retry later with backoff;
    5. raise or clear the printer's "down" alert on the screens.
    """
    t = now()
    job = (
        PrintJob.objects.filter(
            Q(status=PrintJob.Status.PENDING, next_attempt_at__lte=t)
            | Q(status=PrintJob.Status.PRINTING, claimed_at__lt=t - STUCK_AFTER)
        )
        .select_related("printer__backup")
        .order_by("next_attempt_at", "id")
        .first()
    )
    if job is None:
        return probe_down_printers()
    claimed = PrintJob.objects.filter(pk=job.pk, status=job.status, attempts=job.attempts).update(
        status=PrintJob.Status.PRINTING, claimed_at=t
    )
    if not claimed:
        return True
    target = choose_printer(job)
    if target is None:
        PrintJob.objects.filter(pk=job.pk).update(status=PrintJob.Status.FAILED, last_error=_("Printer disabled."))
        return True
    try:
        send(target.host, target.port, bytes(job.data))
    except OSError as exc:
        attempts = job.attempts + 1
        error = describe(exc, target)
        logger.warning("print job %s on %s failed (attempt %s): %s", job.pk, target, attempts, error)
        PrintJob.objects.filter(pk=job.pk).update(
            status=PrintJob.Status.FAILED if attempts >= MAX_ATTEMPTS else PrintJob.Status.PENDING,
            attempts=attempts,
            last_error=error,
            next_attempt_at=t + retry_delay(attempts),
        )
        mark_down(target, error)
        return True
    PrintJob.objects.filter(pk=job.pk).update(
        status=PrintJob.Status.DONE, attempts=job.attempts + 1, printed_on=target, printed_at=now(), last_error=""
    )
    mark_up(target)
    return True


def probe_down_printers() -> bool:
    """When idle, knock on printers marked down (a connection, no data) so that a printer that came
    back clears its alert even while its backup prints everything."""
    t = now()
    found = False
    for printer in Printer.objects.filter(down_since__isnull=False, enabled=True):
        if printer.checked_at and printer.checked_at > t - PROBE_EVERY:
            continue
        Printer.objects.filter(pk=printer.pk).update(checked_at=t)
        found = True
        try:
            with socket.create_connection((printer.host, printer.port), timeout=CONNECT_TIMEOUT):
                pass
        except OSError as exc:
            Printer.objects.filter(pk=printer.pk).update(last_error=describe(exc, printer))
        else:
            mark_up(printer)
    return found


def describe(exc: OSError, printer: Printer) -> str:
    if isinstance(exc, TimeoutError | socket.timeout):
        reason = _("no answer")
    elif isinstance(exc, ConnectionRefusedError):
        reason = _("connection refused")
    else:
        reason = exc.strerror or exc.__class__.__name__
    return f"{printer.host}:{printer.port}: {reason}"[:200]


def mark_down(printer: Printer, error: str) -> None:
    t = now()
    if Printer.objects.filter(pk=printer.pk, down_since__isnull=True).update(down_since=t, last_error=error, checked_at=t):
        logger.error("printer %s is down: %s", printer, error)
        publish_on_commit("alerts", ALERT_EVENT)
    else:
        Printer.objects.filter(pk=printer.pk).update(last_error=error, checked_at=t)


def mark_up(printer: Printer) -> None:
    if Printer.objects.filter(pk=printer.pk, down_since__isnull=False).update(down_since=None, last_error=""):
        logger.info("printer %s is back", printer)
        publish_on_commit("alerts", ALERT_EVENT)
