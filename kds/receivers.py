"""The kitchen's side of orders.signals: tickets and print jobs written in the order's transaction."""

from django.dispatch import receiver

from kds import services
from orders import signals


@receiver(signals.lines_sent, dispatch_uid="kds.lines_sent")
def make_tickets(sender, *, order, lines, **kwargs):
    services.send_lines_to_kitchen(order=order, lines=lines)


@receiver(signals.course_fired, dispatch_uid="kds.course_fired")
def fire_course(sender, *, order, course, **kwargs):
    services.fire_course(order=order, course=course)


@receiver(signals.lines_voided, dispatch_uid="kds.lines_voided")
def strike_through(sender, *, order, lines, reason, **kwargs):
    services.void_lines(order=order, lines=lines, reason=reason)


@receiver(signals.rush_changed, dispatch_uid="kds.rush_changed")
def follow_rush(sender, *, order, rush, **kwargs):
    services.set_order_rush(order=order, rush=rush)
