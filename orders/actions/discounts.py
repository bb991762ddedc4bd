"""Discounts on an order or on one of its lines, with a manager's approval above a threshold."""

from decimal import Decimal

from django.conf import settings
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import User
from orders import pricing, selectors
from orders.actions.base import locked, parse_money, reprice
from orders.errors import OrderError
from orders.models import Order, OrderLine


@transaction.atomic
def apply_discount(
    *,
    order: Order | None = None,
    line: OrderLine | None = None,
    percent: Decimal | None = None,
    amount: Decimal | None = None,
    operator: User,
    manager: User | None = None,
) -> Order:
    """Set the discount of an order or of one line: a percent or an amount (0 removes it). It replaces
    the previous discount. Above `settings.KDS_DISCOUNT_MANAGER_THRESHOLD` percent (an amount counts as
    its share of the price), a manager must approve: `operator` is a manager, or `manager` is one whose
    PIN the caller has just checked (`accounts.pins.check_manager_pin`). Refused once payments were
    taken (the amount due would move under the cashier). Takes the order's row lock."""
    if (order is None) == (line is None):
        raise OrderError("invalid_discount", _("Discount either an order or a line."))
    if (percent is None) == (amount is None):
        raise OrderError("invalid_discount", _("Give a percent or an amount."))
    order = locked(order if order is not None else line.order)
    if order.payments.exists():
        raise OrderError("order_has_payments", _("Discounts cannot change once a payment was taken."))
    if line is not None:
        line = OrderLine.objects.get(pk=line.pk, order=order)
        if line.parent_id is not None or line.status == OrderLine.Status.VOIDED:
            raise OrderError("invalid_discount", _("This line cannot be discounted."), field="line")
        base = pricing.money(line.unit_price * line.quantity)
    else:
        base = selectors.order_totals(order).subtotal
    if percent is not None:
        percent = parse_money(percent, field="percent")
        if percent > 100:
            raise OrderError("invalid_amount", _("A discount is at most 100 %."), field="percent")
        share = percent
    else:
        amount = parse_money(amount, field="amount")
        if amount > base:
            raise OrderError("discount_too_large", _("The discount is larger than the amount."), field="amount")
        share = amount * 100 / base if base else Decimal(0)
    threshold = Decimal(settings.KDS_DISCOUNT_MANAGER_THRESHOLD)
    approved = operator.is_manager or (manager is not None and manager.is_manager)
    approver = (operator if operator.is_manager else manager) if approved and share > 0 else None
    if share > threshold and not approved:
        raise _manager_required()
    fields = {
        "discount_percent": percent or Decimal("0"),
        "discount_amount": amount or Decimal("0.00"),
        "discount_approved_by": approver,
    }
    if line is not None:
        OrderLine.objects.filter(pk=line.pk).update(**fields)
    else:
        Order.objects.filter(pk=order.pk).update(**fields)
    order.refresh_from_db()
    reprice(order)
    # The threshold is about what the customer is let off in all: 10 % on a line and 10 % on the order
    # make 19 %. A change that leaves the order's discounts above it needs a manager (this transaction,
    # the change included, rolls back otherwise); taking a discount off never does.
    if share > 0 and not approved and discount_effect(order) > threshold:
        raise _manager_required()
    return order


def discount_effect(order: Order) -> Decimal:
    """Every discount of the order (lines and order) as a percent of its price before discounts."""
    totals = selectors.order_totals(order)
    gross = totals.total + totals.discount
    return totals.discount * 100 / gross if gross else Decimal(0)


def _manager_required() -> OrderError:
    return OrderError(
        "manager_required",
        _("Discounts above %(n)s %% of the order need a manager.") % {"n": settings.KDS_DISCOUNT_MANAGER_THRESHOLD},
    )
