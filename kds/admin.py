"""Kitchen admin: stations and their routing, screens, printers and the print queue, tickets and the
speed-of-service report (Kitchen › Kitchen tickets › Speed of service)."""

from datetime import date

from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from kds import selectors
from kds.models import Printer, PrintJob, Screen, Station, StationEvent, Ticket


class PrinterInline(admin.TabularInline):
    model = Printer
    fk_name = "station"
    extra = 0
    fields = ["name", "host", "port", "backup", "enabled"]


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "amber_after", "red_after", "sound_on", "is_default", "position"]
    list_editable = ["position"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["categories", "items"]
    inlines = [PrinterInline]
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "position"]}),
        (_("Screen"), {"fields": ["amber_after", "red_after", "sound_on"]}),
        (
            _("Routing"),
            {
                "fields": ["categories", "items", "is_default"],
                "description": _(
                    "An item goes to the stations that list it; otherwise to the stations of its category; "
                    "otherwise to the default station. Expo sees every order."
                ),
            },
        ),
    ]


@admin.register(Screen)
class ScreenAdmin(admin.ModelAdmin):
    list_display = ["device", "station", "ready_board", "last_seen"]
    list_select_related = ["device", "station"]

    @admin.display(description=_("last seen"))
    def last_seen(self, screen):
        return screen.device.last_seen_at


@admin.register(Printer)
class PrinterAdmin(admin.ModelAdmin):
    list_display = ["name", "host", "port", "station", "backup", "enabled", "prints_reports", "state", "last_error"]
    list_filter = ["enabled", "station"]

    @admin.display(description=_("state"))
    def state(self, printer):
        if printer.down_since:
            return format_html('<span style="color:#c62828">● {}</span>', _("down"))
        return format_html('<span style="color:#2e7d32">● {}</span>', _("ok"))


@admin.register(PrintJob)
class PrintJobAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "printer", "printed_on", "status", "attempts", "next_attempt_at", "last_error"]
    list_filter = ["status", "kind", "printer"]
    readonly_fields = [f.name for f in PrintJob._meta.fields]
    actions = ["retry_now"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    @admin.action(description=_("Print again now"))
    def retry_now(self, request, queryset):
        count = queryset.update(status=PrintJob.Status.PENDING, next_attempt_at=timezone.now(), attempts=0)
        messages.success(request, ngettext("%(n)d job queued.", "%(n)d jobs queued.", count) % {"n": count})


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["id", "order", "station", "status", "is_rush", "sent_at", "bumped_at", "prep_seconds"]
    list_filter = ["station", "status"]
    list_select_related = ["order", "station"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Ticket._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def get_urls(self):
        speed = self.admin_site.admin_view(self.speed_view)
        return [path("speed/", speed, name="kds_ticket_speed"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "speed_url": reverse("admin:kds_ticket_speed")}
        return super().changelist_view(request, extra_context)

    def speed_view(self, request):
        """Average sent→bumped time per station and hour, for one day (?day=YYYY-MM-DD)."""
        try:
            day = date.fromisoformat(request.GET.get("day", ""))
        except ValueError:
            day = timezone.localdate()
        stations, hours, cells = selectors.speed_of_service(day)
        rows = [
            {"hour": hour, "cells": [cells.get((station.pk, hour)) for station in stations]}
            for hour in hours
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("Speed of service"),
            "opts": self.model._meta,
            "day": day,
            "stations": stations,
            "rows": rows,
        }
        return TemplateResponse(request, "kds/speed.html", context)


@admin.register(StationEvent)
class StationEventAdmin(admin.ModelAdmin):
    list_display = ["station", "seq", "kind", "ticket", "created_at"]
    list_filter = ["station", "kind"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
