"""Kitchen admin: stations (their routing and printer), screens, tickets and the speed-of-service
report (Kitchen › Kitchen tickets › Speed of service). Printers and the print queue: printing/admin.py."""

from datetime import date

from django.contrib import admin
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kds import selectors, speed_chart
from kds.models import Screen, Station, StationEvent, Ticket


@admin.register(Station)
class StationAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "printer", "amber_after", "red_after", "sound_on", "is_default", "position"]
    list_select_related = ["printer"]
    list_editable = ["position"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["categories", "items"]
    fieldsets = [
        (None, {"fields": ["name", "slug", "kind", "position", "printer"]}),
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
            "charts": speed_chart.charts(stations, hours, cells),
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
