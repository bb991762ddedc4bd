"""Printing admin: the printers (with their backup, "prints reports" and their state) and the print
queue, with "print again"."""

from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from printing.models import Printer, PrintJob


@admin.register(Printer)
class PrinterAdmin(admin.ModelAdmin):
    list_display = ["name", "host", "port", "backup", "enabled", "prints_reports", "state", "last_error"]
    list_filter = ["enabled", "prints_reports"]
    list_select_related = ["backup"]

    @admin.display(description=_("state"))
    def state(self, printer):
        if printer.down_since:
            return format_html('<span style="color:#c62828">● {}</span>', _("down"))
        return format_html('<span style="color:#2e7d32">● {}</span>', _("ok"))


@admin.register(PrintJob)
class PrintJobAdmin(admin.ModelAdmin):
    list_display = [
        "created_at", "kind", "printer", "printed_on", "reference", "status", "attempts", "next_attempt_at", "last_error",
    ]
    list_filter = ["status", "kind", "printer"]
    list_select_related = ["printer", "printed_on"]
    readonly_fields = [f.name for f in PrintJob._meta.fields]
    actions = ["retry_now"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Print again now"))
    def retry_now(self, request, queryset):
        count = queryset.update(status=PrintJob.Status.PENDING, next_attempt_at=timezone.now(), attempts=0)
        messages.success(request, ngettext("%(n)d job queued.", "%(n)d jobs queued.", count) % {"n": count})
