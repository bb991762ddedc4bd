"""The bill: pre-bills, the bill page with its splits (equal parts, by seat, by items), payments and the
receipt of a paid order."""

from decimal import Decimal

from django.http import QueryDict
from django.shortcuts import redirect
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from fiscal.services import find_receipt
from orders.actions import bills, payments
from orders.errors import OrderError, page_status
from orders.forms import PaymentForm
from orders.idempotency import IdempotencyKeyReused
from orders import selectors
from orders.models import Order, Payment
from orders.views.common import client_redirect, page, refused, run, till_view
from orders.views.ticket import order_or_404, ticket

SEAL_TEMPLATE = "fiscal/_receipt_seal.html"
PAYMENT_FIELDS = ("amount", "tendered", "tip", "account", "method")


@require_POST
@till_view
def pre_bill(request, order_id: int):
    """Count and seal a pre-bill, then show it (printable, marked provisional)."""
    order = order_or_404(order_id)
    try:
        run(request, "till-prebill", {"order": order.pk},
            lambda: {"order": bills.print_pre_bill(order=order, operator=request.user, device=request.device)[0].pk})
    except OrderError as error:
        return refused(request, error)
    return client_redirect(request, reverse("till:pre_bill_page", args=[order.pk]))


@require_GET
@till_view
def pre_bill_page(request, order_id: int):
    order = order_or_404(order_id)
    context = ticket(order, priced=True)
    context["now"] = timezone.now()
    return page(request, "orders/till/pre_bill.html", context)


def _split(params, order: Order, context: dict) -> dict:
    """The parts of a split bill, from the query string: ?split=equal&parts=N | seats | items&line=…"""
    mode = params.get("split", "")
    parts: list[dict] = []
    try:
        if mode == "equal":
            count = int(params.get("parts", "2"))
            parts = [{"label": _("Part %(n)d") % {"n": i}, "amount": a} for i, a in enumerate(bills.split_equal(order=order, parts=count), 1)]
        elif mode == "seats":
            for seat, amount in sorted(bills.split_by_seats(order=order).items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
                label = _("Seat %(n)d") % {"n": seat} if seat is not None else _("Shared")
                parts.append({"label": label, "amount": amount})
        elif mode == "items":
            chosen = [int(v) for v in params.getlist("line") if v.isdigit()]
            amounts = bills.split_by_items(order=order, groups=[chosen]) if chosen else []
            if chosen and amounts:
                parts.append({"label": _("Selected items"), "amount": amounts[0]})
            if len(amounts) > 1:
                parts.append({"label": _("The rest"), "amount": amounts[1]})
            context["chosen_lines"] = chosen
    except (OrderError, ValueError) as error:
        context["split_error"] = getattr(error, "message", _("Invalid split."))
        parts = []
    context["split_mode"] = mode
    context["split_parts"] = params.get("parts", "")
    context["parts"] = parts
    return context


def _bill_context(request, order: Order, *, form: PaymentForm | None = None, params: QueryDict | None = None) -> dict:
    context = ticket(order, priced=True)
    context["accounts"] = selectors.customer_accounts(active_only=True)
    context["methods"] = Payment.Method.choices
    context["payments"] = selectors.payments_with_accounts(order)
    context["form"] = form
    params = request.GET if params is None else params
    context["amount"] = params.get("amount") or (f"{context['due']:.2f}" if context["due"] else "")
    return _split(params, order, context)


@require_GET
@till_view
def bill(request, order_id: int):
    order = order_or_404(order_id)
    if order.status == Order.Status.PAID:
        return redirect("till:receipt", order_id=order.pk)
    return page(request, "orders/till/bill.html", _bill_context(request, order))


@require_POST
@till_view
def pay(request, order_id: int):
    """Take one payment (cash, card, voucher, account; several make a mix). Settled → the receipt."""
    order = order_or_404(order_id)
    form = PaymentForm(request.POST)
    if not form.is_valid():
        return page(request, "orders/till/bill.html", _bill_context(request, order, form=form), status=422)
    data = form.cleaned_data
    tip = data["tip"] or Decimal("0.00")
    account = data["account"]

    def take() -> dict:
        result = payments.take_payment(
            order=order, method=data["method"], amount=data["amount"], tendered=data["tendered"], tip=tip,
            account=account, operator=request.user, device=request.device,
        )
        return {"payment": result.payment.pk, "settled": result.settled, "change": result.change}

    body = {
        "order": order.pk, "method": data["method"], "amount": data["amount"], "tendered": data["tendered"], "tip": tip,
        "account": account.pk if account else None,
    }
    try:
        answer = run(request, "till-pay", body, take)
    except IdempotencyKeyReused as error:
        return refused(request, error)
    except OrderError as error:
        form.add_error(error.field if error.field in PAYMENT_FIELDS else None, error.message)
        return page(request, "orders/till/bill.html", _bill_context(request, order, form=form), status=page_status(error.code))
    order.refresh_from_db()
    if answer["settled"] or order.status == Order.Status.PAID:
        return client_redirect(request, reverse("till:receipt", args=[order.pk]))
    # Paying one of N equal parts leaves N-1 equal parts of what is still due.
    params = QueryDict(mutable=True)
    parts = request.POST.get("split_parts", "")
    if parts.isdigit() and int(parts) > 2:
        params.update({"split": "equal", "parts": str(int(parts) - 1)})
    context = _bill_context(request, order, params=params)
    context["last_payment"] = Payment.objects.get(pk=answer["payment"])
    context["change"] = Decimal(answer["change"])
    return page(request, "orders/till/bill.html", context)


def _receipt_record(order: Order):
    """The sealed receipt of a paid order (fiscal finds it by business day and number)."""
    return find_receipt(business_day=order.business_day, number=order.number)


def _template_exists(name: str) -> bool:
    try:
        get_template(name)
    except TemplateDoesNotExist:
        return False
    return True


@require_GET
@till_view
def receipt(request, order_id: int):
    order = order_or_404(order_id)
    if order.status != Order.Status.PAID:
        return redirect("till:bill", order_id=order.pk)
    context = ticket(order, priced=True)
    paid = selectors.payments_with_accounts(order)
    context.update(
        payments=paid,
        change=sum((p.change for p in paid), Decimal("0.00")),
        tips=sum((p.tip for p in paid), Decimal("0.00")),
        record=_receipt_record(order),
        server_name=str(order.server) if order.server_id else "",
        seal_template=SEAL_TEMPLATE if _template_exists(SEAL_TEMPLATE) else None,
    )
    return page(request, "orders/till/receipt.html", context)
