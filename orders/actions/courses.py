"""What the kitchen is told: sending an order's new lines, holding and firing courses, voiding a line
it already has, marking the order rush. The kitchen hears of it only through orders.signals, inside the order's transaction
(kds.receivers writes the tickets), so a ticket never exists without its order or the other way."""

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Device, User
from fiscal import codes as jet
from fiscal import services as fiscal
from orders import signals
from orders.actions.base import check_int, check_text, device_name, locked, operator_name, reprice, send_lines
from orders.errors import OrderError
from orders.lines import MAX_COURSE, NOTE_MAX_LENGTH
from orders.models import Order, OrderLine


@transaction.atomic
def send_order(*, order: Order) -> list[OrderLine]:
    """Send every line the kitchen has not seen: PENDING → SENT; HELD lines go too but stay HELD until
    their course is fired. Returns the lines announced (`signals.lines_sent`; set-menu lines and their
    components both, components carry `parent`). Takes the order's row lock."""
    order = locked(order)
    # With their items (one join): the kitchen routes by item, and lines come to it with what it reads.
    unsent = order.lines.filter(sent_at__isnull=True).exclude(status=OrderLine.Status.VOIDED).select_related("item")
    return send_lines(order, list(unsent))


@transaction.atomic
def hold_course(*, order: Order, course: int) -> int:
    """Hold `course`: its unsent lines become HELD, and lines added to it later too, until it is fired.
    Returns how many lines changed. Lines already sent (not held) cannot be held back. Takes the
    order's row lock."""
    order = locked(order)
    check_int(course, low=1, high=MAX_COURSE, code="invalid_course", message=_("Invalid course."), path="course")
    return order.lines.filter(course=course, status=OrderLine.Status.PENDING).update(status=OrderLine.Status.HELD)


@transaction.atomic
def fire_course(*, order: Order, course: int) -> list[OrderLine]:
    """Fire a held course: HELD → SENT (compare-and-set on the status). Lines the kitchen already shows
    as held are fired (`signals.course_fired`); held lines it never saw are sent now
    (`signals.lines_sent`). Takes the order's row lock. Returns the fired lines (empty if the course
    was not held: firing is idempotent)."""
    order = locked(order)
    now = timezone.now()
    held = order.lines.filter(course=course, status=OrderLine.Status.HELD)
    unseen = list(held.filter(sent_at__isnull=True).values_list("pk", flat=True))
    fired = list(held.values_list("pk", flat=True))
    if not fired:
        return []
    OrderLine.objects.filter(pk__in=fired, status=OrderLine.Status.HELD).update(status=OrderLine.Status.SENT, fired_at=now)
    OrderLine.objects.filter(pk__in=unseen).update(sent_at=now)
    if len(unseen) < len(fired):
        signals.course_fired.send(sender=Order, order=order, course=course)
    if unseen:
        signals.lines_sent.send(
            sender=Order, order=order,
            lines=list(OrderLine.objects.filter(pk__in=unseen).select_related("item").order_by("course", "id")),
        )
    return list(OrderLine.objects.filter(pk__in=fired).order_by("id"))


@transaction.atomic
def set_rush(*, order: Order, rush: bool, operator: User | None) -> bool:
    """Mark the order rush (or not). The kitchen's open tickets of the order follow
    (`signals.rush_changed`); lines sent later carry the mark too. Nothing is journalled: it changes
    the kitchen's order of work, not the bill. Takes the order's row lock; the change is a
    compare-and-set, so a second identical tap changes nothing. Returns whether it changed."""
    if not isinstance(rush, bool):
        raise OrderError("invalid_rush", _("Rush is either on or off."), field="rush")
    order = locked(order)
    if not Order.objects.filter(pk=order.pk, is_rush=not rush).update(is_rush=rush):
        return False
    order.is_rush = rush
    signals.rush_changed.send(sender=Order, order=order, rush=rush, operator=operator)
    return True


@transaction.atomic
def void_line(*, line: OrderLine, reason: str, operator: User, device: Device | None = None) -> OrderLine:
    """Void a line the kitchen has (SENT, or HELD and sent), with its set-menu components: it leaves
    the bill, the kitchen ticket shows it struck through (`signals.lines_voided`), and the event is
    journalled (JET code 195, `fiscal.codes.VOID_AFTER_SEND`, details kind "void_after_send"). A reason
    is required. Portions are not given back: the kitchen may have cooked them. Takes the order's row
    lock; the status change is a compare-and-set, so voiding twice is refused, not applied twice."""
    order = locked(line.order)
    reason = reason.strip() if isinstance(reason, str) else ""
    if not reason:
        raise OrderError("reason_required", _("A reason is required to void a sent line."), field="reason")
    check_text(reason, max_length=NOTE_MAX_LENGTH, path="reason", code="reason_too_long")
    line = OrderLine.objects.get(pk=line.pk)
    if line.parent_id is not None:
        raise OrderError("component_line", _("Void the whole set menu instead."))
    if line.sent_at is None:
        raise OrderError("line_not_sent", _("This line was not sent: remove it instead."))
    now = timezone.now()
    ids = [line.pk, *line.components.values_list("pk", flat=True)]
    if not OrderLine.objects.filter(pk=line.pk).exclude(status=OrderLine.Status.VOIDED).update(
        status=OrderLine.Status.VOIDED, voided_at=now, void_reason=reason
    ):
        raise OrderError("line_voided", _("This line is already voided."))
    OrderLine.objects.filter(pk__in=ids[1:]).update(status=OrderLine.Status.VOIDED, voided_at=now, void_reason=reason)
    voided = list(OrderLine.objects.filter(pk__in=ids).order_by("id"))
    reprice(order)
    signals.lines_voided.send(sender=Order, order=order, lines=voided, reason=reason)
    fiscal.journal(
        jet.VOID_AFTER_SEND,
        message=_("Line voided after it was sent to the kitchen"),
        operator=operator_name(operator),
        device=device_name(device or order.device),
        details={
            "kind": "void_after_send", "order": order.number, "business_day": order.business_day.isoformat(),
            "line": line.name, "quantity": line.quantity, "amount": f"{line.total:.2f}", "reason": reason,
        },
    )
    return next(v for v in voided if v.pk == line.pk)
