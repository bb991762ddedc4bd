"""The spooler: prints the queue (printing.models.PrintJob) on the LAN's ESC/POS printers.

Jobs are written by the apps that print (the kitchen, the fiscal Z report) inside their own
transaction, and printed here, later, by `process_one_job`, which `manage.py serve` runs in a loop
(core/background.py). A printer that is off or unplugged therefore never slows an order down; it
only raises an alert on the screens.

Delivery is at least once: a job is marked done only after its bytes were handed to the printer's
socket; a process killed in between reprints it (a duplicate ticket beats a lost one).
"""

import logging
import socket
from datetime import timedelta

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core.events import publish_on_commit
from printing.models import PrintJob, Printer

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 3.0  # seconds: a printer on the LAN answers in milliseconds or not at all
SEND_TIMEOUT = 5.0  # once connected, 80 mm of ticket is a few kilobytes
FAILOVER_AFTER = 2  # failed attempts on a printer before its backup takes over
MAX_ATTEMPTS = 8  # then the job is "failed" (about 4 minutes): the screens showed the ticket anyway
STUCK_AFTER = timedelta(seconds=60)  # a job "printing" this long was left by a killed process
PROBE_EVERY = timedelta(seconds=30)  # how often a printer marked down is tried again when idle
# The "printer down / back" doorbell. The kitchen screens join this group and redraw their banner
# (their consumer handles the "kds.alert" type); the spooler only rings it.
ALERT_GROUP = "alerts"
ALERT_EVENT = {"type": "kds.alert"}


def now():
    """The spooler's clock (tests patch it)."""
    return timezone.now()


# --- The spooler --------------------------------------------------------------------------------------


def retry_delay(attempts: int) -> timedelta:
    """2, 4, 8… seconds after each failure, at most a minute."""
    return timedelta(seconds=min(60, 2 ** max(1, attempts)))


def choose_printer(job: PrintJob) -> Printer | None:
    """The job's printer, or its backup once the printer failed this job FAILOVER_AFTER times
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
        publish_on_commit(ALERT_GROUP, ALERT_EVENT)
    else:
        Printer.objects.filter(pk=printer.pk).update(last_error=error, checked_at=t)


def mark_up(printer: Printer) -> None:
    if Printer.objects.filter(pk=printer.pk, down_since__isnull=False).update(down_since=None, last_error=""):
        logger.info("printer %s is back", printer)
        publish_on_commit(ALERT_GROUP, ALERT_EVENT)
