"""The kitchen: stations and routing (and the printer each station prints on), screens, tickets and
their event log.

A *ticket* is one kitchen send of an order at one station (held courses get their own ticket, fired
later). The expo station gets one ticket per send covering every item; the customer ready board reads
the expo tickets. Every change a screen must see is a `StationEvent` with a per-station gapless `seq`,
so a screen that reconnects asks for "everything after N" and misses nothing.
"""

import secrets

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import signals
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Device
from orders.models import Category, Item, Order, OrderLine
from printing.models import Printer

# The customer ready board lives at /kitchen/ready/ and /ws/kds/ready/: no station may take the name.
READY_BOARD_SLUG = "ready"


class Station(models.Model):
    class Kind(models.TextChoices):
        PREP = "prep", _("Preparation")
        EXPO = "expo", _("Expo (whole orders)")

    name = models.CharField(_("name"), max_length=40)
    slug = models.SlugField(_("short name"), max_length=32, unique=True, help_text=_("Used in the screen's address."))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.PREP)
    position = models.PositiveIntegerField(_("display order"), default=0)
    amber_after = models.PositiveSmallIntegerField(
        _("amber after (minutes)"), default=5, validators=[MinValueValidator(1), MaxValueValidator(240)]
    )
    red_after = models.PositiveSmallIntegerField(
        _("red after (minutes)"), default=8, validators=[MinValueValidator(1), MaxValueValidator(240)]
    )
    sound_on = models.BooleanField(_("sound on new tickets"), default=True)
    is_default = models.BooleanField(
        _("default station"), default=False, help_text=_("Receives items that no routing rule sends anywhere.")
    )
    categories = models.ManyToManyField(
        Category, blank=True, related_name="stations", verbose_name=_("categories"),
        help_text=_("Items of these categories are prepared here, unless the item has its own stations."),
    )
    items = models.ManyToManyField(
        Item, blank=True, related_name="stations", verbose_name=_("items"),
        help_text=_("These items are prepared here (and only at the stations that list them)."),
    )
    printer = models.ForeignKey(
        Printer, null=True, blank=True, on_delete=models.SET_NULL, related_name="stations", verbose_name=_("printer"),
        help_text=_("Its tickets print here (or on this printer's backup when it is down). Empty: no paper."),
    )
    # The per-station event counter: allocation is an UPDATE of this row inside the writing
    # transaction, so concurrent writers queue on its row lock and numbers are gapless.
    last_seq = models.PositiveBigIntegerField(default=0, editable=False)

    class Meta:
        verbose_name = _("station")
        verbose_name_plural = _("stations")
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=["prep", "expo"]), name="kds_station_kind_valid"),
            models.CheckConstraint(condition=Q(red_after__gte=F("amber_after")), name="kds_station_amber_before_red"),
            models.CheckConstraint(condition=~Q(slug=READY_BOARD_SLUG), name="kds_station_slug_not_reserved"),
            # The ready board follows "the" expo station's tickets.
            models.UniqueConstraint(fields=["kind"], condition=Q(kind="expo"), name="kds_station_one_expo"),
            # Unrouted items must land in exactly one place.
            models.UniqueConstraint(fields=["is_default"], condition=Q(is_default=True), name="kds_station_one_default"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_expo(self) -> bool:
        return self.kind == self.Kind.EXPO

    @property
    def group(self) -> str:
        """The channel-layer group its screens listen on (kds.services rings it through core.events)."""
        return "expo" if self.is_expo else f"station.{self.slug}"


class Screen(models.Model):
    """A paired kitchen screen, optionally bound to a station (else it picks one at /kitchen/)."""

    device = models.OneToOneField(
        Device, on_delete=models.CASCADE, related_name="kds_screen", limit_choices_to={"role": Device.Role.KDS},
        verbose_name=_("device"),
    )
    station = models.ForeignKey(
        Station, null=True, blank=True, on_delete=models.SET_NULL, related_name="screens", verbose_name=_("station"),
        help_text=_("Empty: the screen shows the list of stations."),
    )
    ready_board = models.BooleanField(_("customer ready board"), default=False)

    class Meta:
        verbose_name = _("screen")
        verbose_name_plural = _("screens")

    def __str__(self):
        return self.device.name


class Ticket(models.Model):
    """One kitchen send of an order at one station. Times are when it was sent (or fired, for a held
    course) and bumped; their difference is the station's speed of service."""

    class Status(models.TextChoices):
        HELD = "held", _("Held")
        NEW = "new", _("New")
        IN_PROGRESS = "in_progress", _("In progress")
        DONE = "done", _("Done")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="kitchen_tickets", verbose_name=_("order"))
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("station"))
    expo_ticket = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="prep_tickets",
        help_text=_("The expo ticket of the same send, which turns ready when all its preparation tickets are done."),
    )
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.NEW)
    course = models.PositiveSmallIntegerField(_("held course"), null=True, blank=True)
    is_rush = models.BooleanField(_("rush"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True, help_text=_("When the kitchen could start it."))
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    bumped_at = models.DateTimeField(_("bumped"), null=True, blank=True)
    ready_at = models.DateTimeField(_("ready"), null=True, blank=True, help_text=_("Expo: every station has bumped."))
    prep_seconds = models.PositiveIntegerField(_("preparation time (s)"), null=True, blank=True)
    seq = models.PositiveBigIntegerField(_("event number"), default=0, help_text=_("The station event that last changed it."))

    class Meta:
        verbose_name = _("kitchen ticket")
        verbose_name_plural = _("kitchen tickets")
        ordering = ["-is_rush", "sent_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["held", "new", "in_progress", "done"]), name="kds_ticket_status_valid"
            ),
            models.CheckConstraint(condition=Q(status="done") | Q(bumped_at__isnull=True), name="kds_ticket_bumped_only_done"),
        ]
        indexes = [
            # Every screen load and catch-up: the open tickets of one station.
            models.Index(fields=["station", "status"], name="kds_ticket_station_status_idx"),
            # The recall list (recently bumped) and the speed-of-service report.
            models.Index(fields=["station", "bumped_at"], name="kds_ticket_station_bumped_idx"),
        ]

    def __str__(self):
        return f"{self.station} #{self.order.number}"

    @property
    def is_open(self) -> bool:
        return self.status != self.Status.DONE


class TicketItem(models.Model):
    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="items")
    line = models.ForeignKey(OrderLine, on_delete=models.CASCADE, related_name="ticket_items")
    quantity = models.PositiveSmallIntegerField(_("quantity"))
    done_at = models.DateTimeField(_("done"), null=True, blank=True)
    voided_at = models.DateTimeField(_("voided"), null=True, blank=True)

    class Meta:
        verbose_name = _("ticket item")
        verbose_name_plural = _("ticket items")
        ordering = ["line__course", "line_id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "line"], name="kds_ticketitem_ticket_line_uniq"),
        ]

    def __str__(self):
        return f"{self.quantity} × {self.line.kitchen_name or self.line.name}"

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None


class StationEvent(models.Model):
    """The log a reconnecting screen replays: "what changed at this station after seq N"."""

    class Kind(models.TextChoices):
        CREATED = "created", _("Ticket sent")
        STARTED = "started", _("Ticket started")
        BUMPED = "bumped", _("Ticket bumped")
        RECALLED = "recalled", _("Ticket recalled")
        FIRED = "fired", _("Course fired")
        VOIDED = "voided", _("Items voided")
        ITEM = "item", _("Item bumped")
        READY = "ready", _("Order ready")
        UPDATED = "updated", _("Ticket updated")

    station = models.ForeignKey(Station, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveBigIntegerField()
    kind = models.CharField(max_length=16, choices=Kind.choices)
    ticket = models.ForeignKey(Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("station event")
        verbose_name_plural = _("station events")
        ordering = ["station", "seq"]
        constraints = [
            # Replay reads "events of station S with seq > N"; one number, one event.
            models.UniqueConstraint(fields=["station", "seq"], name="kds_stationevent_station_seq_uniq"),
        ]

    def __str__(self):
        return f"{self.station.slug}:{self.seq} {self.kind}"


class KitchenSetup(models.Model):
    """One row whose `version` changes whenever what a send reads from the setup changes: stations,
    routing rules, printers (kds.setup keeps that setup in memory per process and compares this
    version, one cheap read, before each use). Every process sees the same row, so an admin change
    made in one reaches the next order in all of them."""

    version = models.BigIntegerField(default=0)

    class Meta:
        default_permissions = ()

    @classmethod
    def bump(cls) -> None:
        """Mark the setup changed, in the caller's transaction. A random value rather than a counter:
        a rolled-back change can never leave a version that a later change takes again."""
        cls.objects.update_or_create(pk=1, defaults={"version": secrets.randbits(62)})


# Saving or deleting a station, a printer or a routing rule (the admin, the demo, the tests) bumps the
# version; queryset.update() does not send signals, so its callers bump themselves.
def _setup_changed(sender, **kwargs):
    if kwargs.get("raw"):  # loading fixtures
        return
    action = kwargs.get("action")
    if action is None or action in {"post_add", "post_remove", "post_clear"}:
        KitchenSetup.bump()


for _model in (Station, Printer):
    signals.post_save.connect(_setup_changed, sender=_model, dispatch_uid=f"kds.setup.save.{_model.__name__}")
    signals.post_delete.connect(_setup_changed, sender=_model, dispatch_uid=f"kds.setup.delete.{_model.__name__}")
for _through in (Station.categories.through, Station.items.through):
    signals.m2m_changed.connect(_setup_changed, sender=_through, dispatch_uid=f"kds.setup.routes.{_through.__name__}")
