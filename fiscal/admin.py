"""Read-only admin for the fiscal chains: records can be looked at, never added, changed or deleted.
The records list shows the store's public key and links to the verification page."""

import json

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from fiscal import chain as fc
from fiscal import keys
from fiscal.models import ChainHead, SealedRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SealedRecord)
class SealedRecordAdmin(ReadOnlyAdmin):
    list_display = ("chain", "seq", "type", "type_seq", "timestamp", "business_day", "operator", "device", "amount",
                    "signature_excerpt", "clock_flag")
    list_filter = ("chain", "type", "business_day")
    search_fields = ("hash", "operator", "device", "period")
    date_hierarchy = "business_day"
    list_per_page = 100
    show_full_result_count = False  # the chains grow large: no COUNT(*) on every page
    change_list_template = "fiscal/admin_change_list.html"
    fields = ("chain", "seq", "type", "type_seq", "version", "timestamp", "business_day", "software_version",
              "operator", "device", "key_id", "flags", "pretty_payload", "prev_hash", "prev_signature", "hash",
              "signature", "refers_to", "period", "links")
    readonly_fields = fields

    @admin.display(description=_("amount"))
    def amount(self, record):
        if record.chain in fc.TOTAL_CHAINS or record.chain == fc.CLOSURE:
            total = record.data().get("total")
            return fc.cents_to_str(total) if isinstance(total, int) else ""
        return ""

    @admin.display(description=_("signature"))
    def signature_excerpt(self, record):
        return record.signature_excerpt

    @admin.display(description=_("clock"), boolean=True)
    def clock_flag(self, record):
        return not record.is_clock_back

    @admin.display(description=_("payload"))
    def pretty_payload(self, record):
        return format_html("<pre>{}</pre>", json.dumps(record.data(), indent=2, ensure_ascii=False, sort_keys=True))

    @admin.display(description=_("links"))
    def links(self, record):
        if record.chain == fc.CLOSURE:
            return format_html('<a href="{}">{}</a>', reverse("fiscal:closure", args=[record.pk]), _("Z report"))
        return ""

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(extra_context or {})
        extra_context.update(public_key_pem=keys.public_key_pem(), key_id=keys.current_key_id(),
                             verify_url=reverse("fiscal:verify"))
        return super().changelist_view(request, extra_context)


@admin.register(ChainHead)
class ChainHeadAdmin(ReadOnlyAdmin):
    list_display = ("chain", "seq", "timestamp", "business_day", "closed_through", "closed_seq")
    readonly_fields = ("chain", "seq", "hash", "signature", "timestamp", "business_day", "type_seqs", "grand_total",
                       "closed_through", "closed_seq")
