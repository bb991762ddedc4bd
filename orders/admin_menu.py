"""Admin for the menu (categories, items, modifiers, set menus), the floor (tables), customer accounts,
and read-only views of orders and payments. Managers only (the gate is in orders/admin_access.py).

Availability and remaining portions changed here reach every till and kiosk at once: the save goes
through `orders.actions.menu.set_item_availability`, which publishes after commit. Orders and payments
are written by the tills only (orders.actions), never edited here: a paid order is fiscal data.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from orders.actions import menu as menu_actions
from orders.models import (
    AccountSettlement,
    Allergen,
    Category,
    CustomerAccount,
    Item,
    Modifier,
    ModifierGroup,
    Order,
    OrderLine,
    Payment,
    SetMenuSlot,
    Table,
)


class ReadOnlyMixin:
    """Viewable, never added, changed or deleted from the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# --- Menu ---------------------------------------------------------------------------------------------


@admin.register(Allergen)
class AllergenAdmin(admin.ModelAdmin):
    list_display = ["name", "code"]
    search_fields = ["name", "code"]


class ItemInline(admin.TabularInline):
    model = Item
    fields = ["name", "price", "available", "remaining", "position"]
    readonly_fields = ["available", "remaining"]  # changed on the item's page, which tells the tills
    extra = 0
    show_change_link = True


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "position", "colour", "visible_on_kiosk"]
    list_editable = ["position", "visible_on_kiosk"]
    inlines = [ItemInline]


class ModifierInline(admin.TabularInline):
    model = Modifier
    fields = ["name", "kitchen_name", "price_delta", "available", "position"]
    extra = 1


@admin.register(ModifierGroup)
class ModifierGroupAdmin(admin.ModelAdmin):
    list_display = ["name", "min_choices", "max_choices", "position"]
    inlines = [ModifierInline]


class SetMenuSlotInline(admin.TabularInline):
    model = SetMenuSlot
    fields = ["name", "choices", "position"]
    filter_horizontal = ["choices"]
    extra = 0


@admin.register(Item)
class ItemAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "price", "vat_eat_in", "vat_take_away", "available", "remaining", "is_set_menu"]
    list_editable = ["available", "remaining"]
    list_filter = ["category", "available", "is_set_menu", "allergens"]
    search_fields = ["name", "kitchen_name"]
    filter_horizontal = ["allergens", "modifier_groups"]
    fieldsets = [
        (None, {"fields": ["category", "name", "kitchen_name", "description", "image", "position"]}),
        (_("Price and VAT"), {"fields": ["price", "vat_eat_in", "vat_take_away"]}),
        (_("Choices"), {"fields": ["modifier_groups", "is_set_menu"], "description": _("Set menus list their slots below.")}),
        (_("Allergens"), {"fields": ["allergens"]}),
        (_("Availability"), {"fields": ["available", "remaining"]}),
    ]
    inlines = [SetMenuSlotInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        if change and {"available", "remaining"} & set(form.changed_data):
            # Through the service: it publishes the change to every till and kiosk after commit.
            menu_actions.set_item_availability(item=obj, available=obj.available, remaining=obj.remaining)


# --- Floor and accounts -------------------------------------------------------------------------------


@admin.register(Table)
class TableAdmin(admin.ModelAdmin):
    list_display = ["label", "area", "seats", "x", "y", "shape"]
    list_editable = ["area", "seats", "x", "y", "shape"]
    list_filter = ["area"]


class AccountSettlementInline(ReadOnlyMixin, admin.TabularInline):
    model = AccountSettlement
    fields = ["created_at", "amount", "method", "operator"]
    readonly_fields = fields
    extra = 0


@admin.register(CustomerAccount)
class CustomerAccountAdmin(admin.ModelAdmin):
    list_display = ["name", "phone", "balance", "credit_limit", "active"]
    list_filter = ["active"]
    search_fields = ["name", "phone"]
    readonly_fields = ["balance"]
    inlines = [AccountSettlementInline]


# --- Orders (read-only) -------------------------------------------------------------------------------


class OrderLineInline(ReadOnlyMixin, admin.TabularInline):
    model = OrderLine
    fk_name = "order"
    fields = ["name", "quantity", "unit_price", "discount_percent", "discount_amount", "total", "vat_rate", "course", "seat", "status", "note", "void_reason"]
    readonly_fields = fields
    extra = 0


class PaymentInline(ReadOnlyMixin, admin.TabularInline):
    model = Payment
    fields = ["created_at", "method", "amount", "tendered", "change", "tip", "account", "operator", "device"]
    readonly_fields = fields
    extra = 0


@admin.register(Order)
class OrderAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["number", "business_day", "order_type", "source", "table", "status", "total", "created_at"]
    list_filter = ["status", "order_type", "source", "business_day"]
    search_fields = ["number", "customer_name", "table__label"]
    date_hierarchy = "created_at"
    inlines = [OrderLineInline, PaymentInline]
    list_select_related = ["table"]


@admin.register(Payment)
class PaymentAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ["created_at", "order", "method", "amount", "change", "tip", "operator", "device"]
    list_filter = ["method"]
    list_select_related = ["order", "operator", "device"]
