"""Menu, tables, orders, payments and customer accounts."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Device, User

MONEY = {"max_digits": 10, "decimal_places": 2}
VAT = {"max_digits": 4, "decimal_places": 2, "validators": [MinValueValidator(0), MaxValueValidator(Decimal("99.99"))]}


# --- Menu ---------------------------------------------------------------------------------------------


class Allergen(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=64)

    class Meta:
        verbose_name = _("allergen")
        verbose_name_plural = _("allergens")
        ordering = ["name"]

    def __str__(self):
        return self.name


class Category(models.Model):
    name = models.CharField(_("name"), max_length=64)
    position = models.PositiveIntegerField(_("display order"), default=0)
    colour = models.CharField(_("colour"), max_length=7, default="#546e7a")
    visible_on_kiosk = models.BooleanField(_("shown on kiosks"), default=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class ModifierGroup(models.Model):
    """Choices attached to items: "Cuisson" (exactly one), "Suppléments" (0 to 3)."""

    name = models.CharField(_("name"), max_length=64)
    min_choices = models.PositiveSmallIntegerField(_("minimum choices"), default=0)
    max_choices = models.PositiveSmallIntegerField(_("maximum choices"), default=1)
    position = models.PositiveIntegerField(_("display order"), default=0)

    class Meta:
        verbose_name = _("modifier group")
        verbose_name_plural = _("modifier groups")
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(max_choices__gte=models.F("min_choices")), name="orders_modgroup_min_le_max"),
        ]

    def __str__(self):
        return self.name


class Modifier(models.Model):
    group = models.ForeignKey(ModifierGroup, on_delete=models.CASCADE, related_name="modifiers", verbose_name=_("group"))
    name = models.CharField(_("name"), max_length=64)
    kitchen_name = models.CharField(_("kitchen name"), max_length=32, blank=True)
    price_delta = models.DecimalField(_("price change"), default=Decimal("0.00"), **MONEY)
    available = models.BooleanField(_("available"), default=True)
    position = models.PositiveIntegerField(_("display order"), default=0)

    class Meta:
        verbose_name = _("modifier")
        verbose_name_plural = _("modifiers")
        ordering = ["position", "name"]

    def __str__(self):
        return self.name


class Item(models.Model):
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="items", verbose_name=_("category"))
    name = models.CharField(_("name"), max_length=80)
    kitchen_name = models.CharField(_("kitchen name"), max_length=32, blank=True, help_text=_("Short name on kitchen tickets."))
    description = models.TextField(_("description"), blank=True)
    price = models.DecimalField(_("price incl. VAT"), validators=[MinValueValidator(0)], **MONEY)
    vat_eat_in = models.DecimalField(_("VAT % eat-in"), default=Decimal("10.00"), **VAT)
    vat_take_away = models.DecimalField(_("VAT % take-away"), default=Decimal("10.00"), **VAT)
    allergens = models.ManyToManyField(Allergen, blank=True, verbose_name=_("allergens"))
    modifier_groups = models.ManyToManyField(ModifierGroup, blank=True, related_name="items", verbose_name=_("modifier groups"))
    image = models.FileField(_("image"), upload_to="menu/", blank=True)
    available = models.BooleanField(_("available"), default=True)
    remaining = models.PositiveIntegerField(
        _("remaining portions"), null=True, blank=True, help_text=_("Leave empty for no limit; orders count it down.")
    )
    is_set_menu = models.BooleanField(_("set menu"), default=False)
    position = models.PositiveIntegerField(_("display order"), default=0)

    class Meta:
        verbose_name = _("item")
        verbose_name_plural = _("items")
        ordering = ["category__position", "position", "name"]

    def __str__(self):
        return self.name

    @property
    def is_orderable(self) -> bool:
        return self.available and (self.remaining is None or self.remaining > 0)


class SetMenuSlot(models.Model):
    """One choice of a set menu: "Plat" among burgers, "Accompagnement", "Boisson"."""

    set_menu = models.ForeignKey(
        Item, on_delete=models.CASCADE, related_name="slots", limit_choices_to={"is_set_menu": True}, verbose_name=_("set menu")
    )
    name = models.CharField(_("name"), max_length=64)
    choices = models.ManyToManyField(Item, related_name="+", verbose_name=_("choices"))
    position = models.PositiveIntegerField(_("display order"), default=0)

    class Meta:
        verbose_name = _("set menu slot")
        verbose_name_plural = _("set menu slots")
        ordering = ["position", "id"]

    def __str__(self):
        return f"{self.set_menu} — {self.name}"


# --- Floor --------------------------------------------------------------------------------------------


class Table(models.Model):
    class Shape(models.TextChoices):
        SQUARE = "square", _("Square")
        ROUND = "round", _("Round")

    label = models.CharField(_("label"), max_length=16, unique=True)
    area = models.CharField(_("area"), max_length=32, default="Salle")
    seats = models.PositiveSmallIntegerField(_("seats"), default=4)
    x = models.PositiveSmallIntegerField(default=0, help_text=_("Position on the floor plan grid."))
    y = models.PositiveSmallIntegerField(default=0)
    shape = models.CharField(_("shape"), max_length=8, choices=Shape.choices, default=Shape.SQUARE)

    class Meta:
        verbose_name = _("table")
        verbose_name_plural = _("tables")
        ordering = ["area", "label"]

    def __str__(self):
        return self.label


class CustomerAccount(models.Model):
    """A house account (a regular, a company): orders are charged to it and settled later."""

    name = models.CharField(_("name"), max_length=120, unique=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    note = models.TextField(_("note"), blank=True)
    balance = models.DecimalField(_("amount owed"), default=Decimal("0.00"), **MONEY)
    credit_limit = models.DecimalField(_("credit limit"), null=True, blank=True, **MONEY)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("customer account")
        verbose_name_plural = _("customer accounts")
        ordering = ["name"]

    def __str__(self):
        return self.name


class AccountSettlement(models.Model):
    """A customer paying (part of) their account balance: money in, no order."""

    account = models.ForeignKey(CustomerAccount, on_delete=models.PROTECT, related_name="settlements", verbose_name=_("account"))
    amount = models.DecimalField(_("amount"), **MONEY)
    method = models.CharField(_("method"), max_length=16)
    operator = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("account settlement")
        verbose_name_plural = _("account settlements")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="orders_settlement_amount_positive"),
            models.CheckConstraint(condition=Q(method__in=["cash", "card", "voucher"]), name="orders_settlement_method_valid"),
        ]

    def __str__(self):
        return f"{self.account} {self.amount}"


# --- Orders -------------------------------------------------------------------------------------------


class DailyCounter(models.Model):
    """The last order number given on a business day. Numbering updates this one row (a row lock held
    until commit), so two tills never compute the same "max + 1"."""

    business_day = models.DateField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.business_day}: {self.last_number}"



class Order(models.Model):
    class Type(models.TextChoices):
        EAT_IN = "eat_in", _("Eat in")
        TAKE_AWAY = "take_away", _("Take away")

    class Source(models.TextChoices):
        TILL = "till", _("Till")
        KIOSK = "kiosk", _("Kiosk")
        API = "api", _("Integration")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        PAID = "paid", _("Paid")
        CANCELLED = "cancelled", _("Cancelled")

    number = models.PositiveIntegerField(_("number"), help_text=_("Counts from 1 each business day."))
    business_day = models.DateField(_("business day"))
    order_type = models.CharField(_("type"), max_length=16, choices=Type.choices, default=Type.EAT_IN)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices, default=Source.TILL)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.OPEN)
    table = models.ForeignKey(Table, null=True, blank=True, on_delete=models.PROTECT, related_name="orders", verbose_name=_("table"))
    covers = models.PositiveSmallIntegerField(_("covers"), default=0)
    customer_name = models.CharField(_("customer name"), max_length=80, blank=True)
    server = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="orders", verbose_name=_("server"))
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.PROTECT, related_name="orders", verbose_name=_("device"))
    is_rush = models.BooleanField(_("rush"), default=False)
    note = models.CharField(_("note"), max_length=200, blank=True)
    discount_percent = models.DecimalField(_("discount %"), max_digits=5, decimal_places=2, default=Decimal("0"))
    discount_amount = models.DecimalField(_("discount"), default=Decimal("0.00"), **MONEY)
    total = models.DecimalField(_("total"), default=Decimal("0.00"), **MONEY)
    pre_bill_count = models.PositiveSmallIntegerField(_("pre-bills printed"), default=0)
    discount_approved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("discount approved by")
    )
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from", verbose_name=_("merged into")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-created_at"]
        constraints = [
            # The big number on the kiosk screen and the ready board: unique within the day.
            models.UniqueConstraint(fields=["business_day", "number"], name="orders_order_day_number_uniq"),
            models.CheckConstraint(condition=Q(order_type__in=["eat_in", "take_away"]), name="orders_order_type_valid"),
            models.CheckConstraint(condition=Q(status__in=["open", "paid", "cancelled"]), name="orders_order_status_valid"),
            # Two servers opening table 4 at the same moment: the second gets a clear "occupied" error.
            models.UniqueConstraint(
                fields=["table"], condition=Q(status="open", table__isnull=False), name="orders_order_one_open_per_table"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="orders_order_total_not_negative"),
        ]
        indexes = [
            # The floor plan asks "which tables have an open order" on every refresh.
            models.Index(fields=["status", "table"], name="orders_order_open_table_idx"),
        ]

    def __str__(self):
        return f"#{self.number} ({self.business_day})"


class OrderLine(models.Model):
    """One item of an order, priced by the server when it was added (names and prices are snapshots)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Not sent")
        HELD = "held", _("Held")
        SENT = "sent", _("Sent")
        VOIDED = "voided", _("Voided")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines", verbose_name=_("order"))
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+", verbose_name=_("item"))
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="components", help_text=_("The set menu this line is part of.")
    )
    name = models.CharField(_("name"), max_length=80)
    kitchen_name = models.CharField(_("kitchen name"), max_length=32)
    quantity = models.PositiveSmallIntegerField(_("quantity"), validators=[MinValueValidator(1), MaxValueValidator(99)])
    unit_price = models.DecimalField(_("unit price"), help_text=_("Item price plus modifiers, VAT included."), **MONEY)
    vat_rate = models.DecimalField(_("VAT %"), **VAT)
    discount_percent = models.DecimalField(_("discount %"), max_digits=5, decimal_places=2, default=Decimal("0"))
    discount_amount = models.DecimalField(_("discount"), default=Decimal("0.00"), **MONEY)
    discount_approved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("discount approved by")
    )
    total = models.DecimalField(
        _("line total"), default=Decimal("0.00"), help_text=_("Quantity × unit price, less the line discount."), **MONEY
    )
    standalone_price = models.DecimalField(
        _("standalone price"),
        default=Decimal("0.00"),
        help_text=_("Set-menu components: the item's own price, used to split the set menu's price across VAT rates."),
        **MONEY,
    )
    note = models.CharField(_("note"), max_length=140, blank=True)
    seat = models.PositiveSmallIntegerField(_("seat"), null=True, blank=True)
    course = models.PositiveSmallIntegerField(_("course"), default=1)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.PENDING)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True, help_text=_("When the kitchen got it (held or not)."))
    fired_at = models.DateTimeField(_("fired"), null=True, blank=True)
    voided_at = models.DateTimeField(_("voided"), null=True, blank=True)
    void_reason = models.CharField(_("void reason"), max_length=140, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["course", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1) & Q(quantity__lte=99), name="orders_line_quantity_range"),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "held", "sent", "voided"]), name="orders_line_status_valid"
            ),
            models.CheckConstraint(condition=Q(total__gte=0), name="orders_line_total_not_negative"),
        ]
        indexes = [
            # send_order / fire_course look up an order's lines by status and course.
            models.Index(fields=["order", "status", "course"], name="orders_line_order_status_idx"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.name}"


class OrderLineModifier(models.Model):
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="modifiers")
    modifier = models.ForeignKey(Modifier, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=64)
    kitchen_name = models.CharField(max_length=32)
    price_delta = models.DecimalField(**MONEY)

    def __str__(self):
        return self.name


class Payment(models.Model):
    class Method(models.TextChoices):
        CASH = "cash", _("Cash")
        CARD = "card", _("Card")
        VOUCHER = "voucher", _("Meal voucher")
        ACCOUNT = "account", _("Customer account")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments", verbose_name=_("order"))
    method = models.CharField(_("method"), max_length=16, choices=Method.choices)
    amount = models.DecimalField(_("amount"), help_text=_("Applied to the bill."), **MONEY)
    tendered = models.DecimalField(_("tendered"), null=True, blank=True, **MONEY)
    change = models.DecimalField(_("change given"), default=Decimal("0.00"), **MONEY)
    tip = models.DecimalField(_("tip"), default=Decimal("0.00"), **MONEY)
    account = models.ForeignKey(CustomerAccount, null=True, blank=True, on_delete=models.PROTECT, related_name="payments")
    operator = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("payment")
        verbose_name_plural = _("payments")
        constraints = [
            models.CheckConstraint(condition=Q(method__in=["cash", "card", "voucher", "account"]), name="orders_payment_method_valid"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="orders_payment_amount_positive"),
        ]

    def __str__(self):
        return f"{self.get_method_display()} {self.amount}"


class IdempotentRequest(models.Model):
    """The first answer to a client-keyed request, replayed to every retry of it (as payment APIs do)."""

    scope = models.CharField(max_length=32, help_text="orders, payments…")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            # Clients choose their own keys, so different devices may send the same one.
            models.UniqueConstraint(fields=["scope", "device", "key"], name="orders_idempotentrequest_uniq"),
        ]

    def __str__(self):
        return f"{self.scope}:{self.key}"
