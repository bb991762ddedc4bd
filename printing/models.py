"""Printers on the LAN and the durable print queue.

A `PrintJob` is written in the transaction of whatever it prints (an order sent to the kitchen, a
closed business day), so there is never a print without its cause and never a cause without its print.
The spooler (printing.spooler) prints the queue later, at least once. This app knows nothing of what
it prints: the kitchen (kds) and the fiscal app hand it ready-made ESC/POS bytes, and the kitchen's
stations point at their printer (kds.Station.printer), not the other way round.
"""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Printer(models.Model):
    """An ESC/POS printer on the LAN (raw TCP, port 9100)."""

    name = models.CharField(_("name"), max_length=40, unique=True)
    host = models.CharField(_("address"), max_length=100, help_text=_("IP address or host name on the LAN."))
    port = models.PositiveIntegerField(_("port"), default=9100, validators=[MinValueValidator(1), MaxValueValidator(65535)])
    backup = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("backup printer"),
        help_text=_("Takes over this printer's jobs after repeated failures."),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    prints_reports = models.BooleanField(
        _("prints reports"), default=False, help_text=_("Z reports and other manager reports print here (the till's receipt printer).")
    )
    down_since = models.DateTimeField(_("down since"), null=True, blank=True, editable=False)
    last_error = models.CharField(_("last error"), max_length=200, blank=True, editable=False)
    checked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("printer")
        verbose_name_plural = _("printers")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(condition=~Q(backup=F("id")), name="printing_printer_backup_not_self"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_down(self) -> bool:
        return self.down_since is not None


class PrintJob(models.Model):
    """The print queue (an outbox): written in its cause's transaction, printed later by the spooler
    (printing.spooler.process_one_job), at least once."""

    class Kind(models.TextChoices):
        TICKET = "ticket", _("Kitchen ticket")
        VOID = "void", _("Void slip")
        REPORT = "report", _("Report")

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        PRINTING = "printing", _("Printing")
        DONE = "done", _("Printed")
        FAILED = "failed", _("Failed")

    printer = models.ForeignKey(Printer, on_delete=models.CASCADE, related_name="jobs", verbose_name=_("printer"))
    printed_on = models.ForeignKey(
        Printer, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("printed on")
    )
    # What was printed, named by the app that queued it ("ticket:42" for a kitchen ticket): a plain
    # reference, not a foreign key, so that the print queue sits below the apps that print.
    reference = models.CharField(_("reference"), max_length=64, blank=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.TICKET)
    data = models.BinaryField(_("ESC/POS bytes"))
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    printed_at = models.DateTimeField(_("printed"), null=True, blank=True)

    class Meta:
        verbose_name = _("print job")
        verbose_name_plural = _("print jobs")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["pending", "printing", "done", "failed"]), name="printing_printjob_status_valid"
            ),
            models.CheckConstraint(condition=Q(kind__in=["ticket", "void", "report"]), name="printing_printjob_kind_valid"),
        ]
        indexes = [
            # The spooler's claim query: the oldest due job.
            models.Index(fields=["status", "next_attempt_at"], name="printing_printjob_due_idx"),
            # A void slip prints only where its ticket was printed: "was this ticket queued?"
            models.Index(fields=["reference"], name="printing_printjob_ref_idx"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} → {self.printer} ({self.get_status_display()})"
