"""Payments: cash (with change), card, meal voucher and customer account; several make a mix. The
payment that settles the order closes it and has fiscal seal the receipt in the same transaction."""

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Device, User
from fiscal import services as fiscal
from orders import receipts, selectors, sql
from orders.actions.accounts import charge_account
from orders.actions.base import device_name, locked, operator_name, order_closed, parse_money
from orders.errors import OrderError
from orders.floor_events import tables_changed
from orders.models import CustomerAccount, Order, Payment


@dataclass
class PaymentResult:
    order: Order
    payment: Payment
    settled: bool
    change: Decimal
    receipt: Any = None  # the fiscal record once settled (None until then)


@transaction.atomic
def take_payment(
    *,
    order: Order,
    method: str,
    amount: Decimal,
    tendered: Decimal | None = None,
    tip: Decimal = Decimal("0.00"),
    account: CustomerAccount | None = None,
    operator: User | None,
    device: Device,
) -> PaymentResult:
    """Record a payment on an open order; when it settles the order, close it and seal the receipt.

    Rules: `amount` is what the customer pays towards the bill (> 0, whole cents). Card and account may
    not exceed what is due (card_overpayment); a meal voucher may not either (vouchers give no change);
    cash may — the change is computed (amount − due, or tendered − applied when `tendered` is given).
    Account payments add to the customer account's balance within its credit limit. Tips (≥ 0) ride on
    the payment, outside the bill (no VAT).

    Locking: the order row is locked (SELECT … FOR UPDATE) for the whole transaction, then the account
    row; the OPEN → PAID change is a compare-and-set. When settled: status PAID, closed_at, then
    `fiscal.services.seal_receipt(payload=receipts.receipt_payload(order), ...)` in the same transaction
    — a failed seal rolls the payment back.
    """
    if method not in Payment.Method.values:
        raise OrderError("invalid_method", _("Unknown payment method."), field="method")
    amount = parse_money(amount, field="amount", allow_zero=False)
    tip = parse_money(tip, field="tip")
    order = locked(order)
    earlier = selectors.payments_of(order)
    due = selectors.amount_due(order, earlier)
    if due <= 0:
        raise OrderError("nothing_due", _("Nothing is due on this order."))
    applied, change = amount, Decimal("0.00")
    if amount > due:
        if method == Payment.Method.CASH:
            applied = due
        elif method == Payment.Method.CARD:
            raise OrderError("card_overpayment", _("A card payment cannot exceed the %(due)s due.") % {"due": due}, field="amount")
        elif method == Payment.Method.VOUCHER:
            raise OrderError("voucher_overpayment", _("Meal vouchers give no change: at most %(due)s.") % {"due": due}, field="amount")
        else:
            raise OrderError("account_overpayment", _("At most %(due)s can be charged.") % {"due": due}, field="amount")
    if method == Payment.Method.CASH:
        given = amount
        if tendered is not None:
            given = parse_money(tendered, field="tendered")
            if given < amount:
                raise OrderError("tendered_too_low", _("The cash tendered is less than the amount."), field="tendered")
        change = given - applied
        tendered = given
    else:
        tendered = None
    if method == Payment.Method.ACCOUNT:
        account = charge_account(account=account, amount=applied)
    elif account is not None:
        raise OrderError("invalid_account", _("Only account payments name an account."), field="account")
    payment = sql.insert_payment({
        "order_id": order.pk, "method": method, "amount": applied, "tendered": tendered, "change": change, "tip": tip,
        "account_id": account.pk if account is not None else None, "operator_id": operator.pk if operator is not None else None,
        "device_id": device.pk if device is not None else None, "created_at": timezone.now(),
    })
    payment.order, payment.account, payment.operator, payment.device = order, account, operator, device
    settled, receipt = False, None
    if applied == due:
        _close_paid(order)
        tables_changed(order)
        settled = True
        # The payload from what is in hand: the payments read above plus this one (no re-read).
        payments = [*earlier, (method, applied, tip)]
        receipt = fiscal.seal_receipt(
            payload=receipts.receipt_payload(order, payments=payments), operator=operator_name(operator),
            device=device_name(device),
        )
    return PaymentResult(order=order, payment=payment, settled=settled, change=change, receipt=receipt)


def _close_paid(order: Order) -> None:
    """OPEN → PAID (compare-and-set) with the closing time, on the row and on `order`. Call while
    holding the order's row lock."""
    closed_at = timezone.now()
    if not sql.close_paid(order.pk, closed_at):
        raise order_closed(order)
    order.status, order.closed_at = Order.Status.PAID, closed_at


@transaction.atomic
def close_free_order(*, order: Order, operator: User | None, device: Device) -> Any:
    """Close an open order that owes nothing although something was ordered (all offered, or all
    voided): PAID and sealed like any settled order. OrderError "amount_due" when money is still owed.
    Returns the sealed receipt record. Takes the order's row lock."""
    order = locked(order)
    if selectors.amount_due(order) > 0:
        raise OrderError("amount_due", _("This order still has an amount due."))
    if not order.lines.exists():
        raise OrderError("order_empty", _("Nothing was ordered: cancel the order instead."))
    _close_paid(order)
    tables_changed(order)
    return fiscal.seal_receipt(payload=receipts.receipt_payload(order), operator=operator_name(operator), device=device_name(device))
