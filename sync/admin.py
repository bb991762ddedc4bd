"""Admin: on a store, the sync state and per-chain acknowledgements (read-only); on the cloud, stores
(create them with `manage.py store_register`, which prints the token once), and what they sent."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from fiscal.admin import ReadOnlyAdmin  # written by the sync loop or the receiver only
from sync.models import ChainSync, ReceivedRecord, Refusal, Store, StoreChainMark, SyncState


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyAdmin):
    list_display = ["last_outcome", "last_success_at", "last_attempt_at", "backlog", "online", "next_attempt_at"]
    readonly_fields = [
        "last_outcome", "last_success_at", "last_attempt_at", "last_checked_at", "online", "failures",
        "next_attempt_at", "backlog", "last_error",
    ]  # fmt: skip


@admin.register(ChainSync)
class ChainSyncAdmin(ReadOnlyAdmin):
    list_display = ["chain", "acked_seq", "acked_at", "has_defect"]
    readonly_fields = ["chain", "acked_seq", "acked_hash", "acked_at", "ack_signature", "defect", "defect_at"]

    @admin.display(boolean=True, description=_("integrity defect"))
    def has_defect(self, obj):
        return bool(obj.defect)


class StoreChainMarkInline(admin.TabularInline):
    model = StoreChainMark
    fields = ["chain", "seq", "hash", "updated_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    """A store can be deactivated here (its token stops working); keys and tokens come from
    `manage.py store_register`."""

    list_display = ["name", "active", "last_sync_at", "created_at"]
    list_filter = ["active"]
    fields = ["name", "active", "public_key_pem", "created_at", "last_sync_at"]
    readonly_fields = ["name", "public_key_pem", "created_at", "last_sync_at"]
    inlines = [StoreChainMarkInline]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(ReceivedRecord)
class ReceivedRecordAdmin(ReadOnlyAdmin):
    list_display = ["store", "chain", "seq", "type", "business_day", "timestamp", "received_at"]
    list_filter = ["store", "chain", "type"]
    date_hierarchy = "business_day"
    readonly_fields = [
        "store", "chain", "seq", "type", "timestamp", "business_day", "payload", "prev_hash", "hash",
        "signature", "envelope", "received_at",
    ]  # fmt: skip


@admin.register(Refusal)
class RefusalAdmin(ReadOnlyAdmin):
    list_display = ["at", "store", "chain", "seq", "error"]
    list_filter = ["store", "error"]
    readonly_fields = ["at", "store", "chain", "seq", "error", "detail"]
