"""Who may do what on the till, as named rules: the views' decorators and the ticket pane (which shows
only the buttons that would be accepted) ask here. The actions enforce the same rules on the data."""

from accounts.models import User
from orders.models import Order, OrderLine


def can_edit_floor(user: User) -> bool:
    """Only a manager adds, moves or removes tables."""
    return bool(getattr(user, "is_manager", False))


def can_remove_line(order: Order, line) -> bool:
    """A line the kitchen has not seen is removed (no trace); `line` is an OrderLine or a TicketLine."""
    return order.status == Order.Status.OPEN and line.sent_at is None and line.status != OrderLine.Status.VOIDED


def can_void_line(order: Order, line) -> bool:
    """A line the kitchen has is voided, with a reason (journalled)."""
    return order.status == Order.Status.OPEN and line.sent_at is not None and line.status != OrderLine.Status.VOIDED


def can_discount_line(order: Order, line) -> bool:
    return order.status == Order.Status.OPEN and line.status != OrderLine.Status.VOIDED
