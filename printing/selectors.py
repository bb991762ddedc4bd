"""Printer reads for the screens' "printer down" banner."""

from django.db.models import Count, Q

from printing.models import Printer, PrintJob


def down_printers() -> list[dict]:
    """Enabled printers marked down, each with the number of jobs waiting for it (one query)."""
    waiting = Count("jobs", filter=Q(jobs__status__in=[PrintJob.Status.PENDING, PrintJob.Status.PRINTING]))
    printers = (
        Printer.objects.filter(down_since__isnull=False, enabled=True)
        .select_related("backup")
        .annotate(waiting=waiting)
        .order_by("name")
    )
    return [{"printer": printer, "waiting": printer.waiting} for printer in printers]


def down_fingerprint() -> tuple:
    """Which printers are down, cheaply: a screen redraws its banner when this changes."""
    return tuple(Printer.objects.filter(down_since__isnull=False, enabled=True).order_by("pk").values_list("pk", flat=True))
