"""The order screen: the menu, the ticket pane (re-rendered after every tap), the item pickers, and
moving or merging an order."""

from decimal import Decimal

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import trigger_client_event

from orders import policy, selectors
from orders.actions import ordering
from orders.errors import OrderError
from orders.forms import LineForm, TransferForm, posted_values
from orders.models import Item, Order, OrderLine
from orders.views.common import COURSES, client_redirect, modal, page, refused, run, till_view


def order_or_404(order_id: int) -> Order:
    order = selectors.order_or_none(order_id)
    if order is None:
        raise Http404
    return order


def ticket(order: Order, *, priced: bool = False) -> dict:
    """What the ticket pane shows: lines by course with what can be done to them, and the totals.

    Three reads (lines, their modifiers, payments); each line's texts and links are prepared here for
    the template to print. Totals come from what the actions stored (`total` of lines and order);
    `priced=True` adds the full pricing (`totals`: VAT breakdown, order discount) for bills."""
    lines = selectors.ticket_lines(order)
    paid = selectors.amount_paid(order)
    base = reverse("till:order", args=[order.pk])
    status_labels = {value: str(label) for value, label in OrderLine.Status.choices}
    gross = Decimal("0.00")
    courses: dict[int, dict] = {}
    for line in lines:
        course = courses.setdefault(line.course, {"number": line.course, "lines": [], "can_hold": False, "can_fire": False})
        course["lines"].append(line)
        course["can_hold"] |= line.status == OrderLine.Status.PENDING
        course["can_fire"] |= line.status == OrderLine.Status.HELD
        if not line.voided:
            gross += line.unit_price * line.quantity
        for component in line.components:
            names = ", ".join(component.modifier_names)
            line.component_texts.append(component.name + (f" ({names})" if names else ""))
        if line.modifier_names:
            line.detail.append(", ".join(line.modifier_names))
        line.detail += [f"↳ {text}" for text in line.component_texts]
        if line.seat:
            line.detail.append(_("Seat %(n)d") % {"n": line.seat})
        line.status_label = status_labels[line.status]
        line.can_remove = policy.can_remove_line(order, line)
        line.can_void = policy.can_void_line(order, line)
        line.can_discount = policy.can_discount_line(order, line)
        line.base_url = f"{base}lines/{line.pk}/"  # + remove/ or void/ (till_urls.py)
    gross = gross.quantize(Decimal("0.01"))
    context = {
        "order": order,
        "table_label": selectors.table_label(order),
        "order_url": base,
        "courses": [courses[n] for n in sorted(courses)],
        "gross": gross,
        "discount_total": max(gross - order.total, Decimal("0.00")),
        "paid": paid,
        "due": max(order.total - paid, Decimal("0.00")),
        "has_unsent": any(line.sent_at is None and not line.voided for line in lines),
        "has_lines": any(not line.voided for line in lines),
        "is_open": order.status == Order.Status.OPEN,
    }
    if priced:
        context["totals"] = selectors.order_totals(order)
    return context


def ticket_response(
    request, order: Order, *, fresh: Order | None = None, close_modal: bool = False, message: str = ""
) -> HttpResponse:
    """The ticket pane after a change (htmx), or back to the order screen after a plain form post.
    `fresh`: the order as the action left it, if at hand (else it is read again)."""
    if not request.htmx:
        return redirect("till:order", order_id=order.pk)
    context = ticket(fresh if fresh is not None else order_or_404(order.pk))
    context["close_modal"] = close_modal
    response = render(request, "orders/till/_ticket.html", context)
    if message:
        trigger_client_event(response, "brigade:toast", {"message": message, "kind": "ok"})
    return response


def _order_screen_context(order: Order | None, *, order_type: str = Order.Type.EAT_IN) -> dict:
    categories = selectors.menu_categories()
    for category in categories:
        for item in category.items.all():
            item.needs_picker = item.is_set_menu or bool(item.modifier_groups.all())
    covers = order.covers if order is not None else 0
    context = {
        "categories": categories,
        "seats": range(1, max(covers, 1) + 1) if covers else (),
        "course_choices": COURSES,
        "order_type": order.order_type if order is not None else order_type,
        "draft": order is None,
    }
    if order is not None:
        context.update(ticket(order))
    return context


@require_GET
@till_view
def order_detail(request, order_id: int):
    order = order_or_404(order_id)
    if order.status == Order.Status.PAID:
        return redirect("till:receipt", order_id=order.pk)
    if order.merged_into_id:
        return redirect("till:order", order_id=order.merged_into_id)
    return page(request, "orders/till/order.html", _order_screen_context(order))


@require_GET
@till_view
def new_order(request):
    """A take-away or counter order: the order screen with an empty ticket. The first item tapped
    creates the order (place_order, not sent), so an order never exists without a line."""
    order_type = request.GET.get("type", Order.Type.TAKE_AWAY)
    if order_type not in Order.Type.values:
        order_type = Order.Type.TAKE_AWAY
    context = _order_screen_context(None, order_type=order_type)
    context["customer_name"] = request.GET.get("name", "")[:80]
    return page(request, "orders/till/order.html", context)


def _int_list(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


def picker_context(request, item: Item, *, order: Order | None, form: LineForm | None = None) -> dict:
    """The modifier / set-menu picker of `item`, with what was chosen so far (GET or POST data)."""
    data = request.POST if request.method == "POST" else request.GET
    slots = []
    for slot in item.slots.all():
        choices = list(slot.choices.all())
        try:
            chosen_id = int(data.get(f"slot_{slot.pk}", ""))
        except ValueError:
            chosen_id = choices[0].pk if len(choices) == 1 else None  # a slot with a single choice needs no tap
        prefix = f"slot_{slot.pk}_modifier"
        slots.append({
            "slot": slot, "chosen": next((c for c in choices if c.pk == chosen_id), None), "prefix": prefix,
            "modifiers": _int_list(posted_values(data, prefix)),
        })
    if order is not None:
        action = reverse("till:add_line", args=[order.pk])
        picker_url = reverse("till:item_picker", args=[order.pk, item.pk])
        seats = range(1, order.covers + 1) if order.covers else ()
    else:
        action = reverse("till:new_order_line")
        picker_url = reverse("till:new_order_picker", args=[item.pk])
        seats = ()
    return {
        "item": item, "order": order, "form": form, "action": action, "picker_url": picker_url, "slots": slots,
        "chosen_modifiers": _int_list(posted_values(data, "modifier")),
        "quantity": data.get("quantity") or 1, "note": data.get("note", ""), "seat": data.get("seat", ""),
        "course": data.get("course") or "1", "seats": seats, "course_choices": COURSES,
        "order_type": data.get("order_type", ""), "customer_name": data.get("customer_name", ""),
    }


@require_GET
@till_view
def item_picker(request, order_id: int, item_id: int):
    """The modifier / set-menu modal. Changing a set-menu choice re-renders it (that choice's modifiers)."""
    order = order_or_404(order_id)
    item = selectors.item_with_menu(item_id)
    return modal(request, "orders/till/_picker.html", picker_context(request, item, order=order))


@require_GET
@till_view
def new_order_picker(request, item_id: int):
    item = selectors.item_with_menu(item_id)
    return modal(request, "orders/till/_picker.html", picker_context(request, item, order=None))


@require_http_methods(["GET", "POST"])
@till_view
def transfer(request, order_id: int):
    """Move the order to a free table (also: seat a take-away order at a table)."""
    order = order_or_404(order_id)
    free_tables = selectors.free_tables()
    if request.method == "GET":
        return modal(request, "orders/till/_transfer.html", {"order": order, "tables": free_tables})
    form = TransferForm(request.POST)
    if not form.is_valid():
        return modal(request, "orders/till/_transfer.html", {"order": order, "tables": free_tables, "form": form}, status=422)
    table = form.cleaned_data["table"]
    try:
        run(request, "till-transfer", {"order": order.pk, "table": table.pk},
            lambda: {"order": ordering.transfer_order(order=order, table=table).pk})
    except OrderError as error:
        return refused(request, error)
    return client_redirect(request, reverse("till:order", args=[order.pk]))


@require_http_methods(["GET", "POST"])
@till_view
def merge(request, order_id: int):
    """Join this order into another open order (two tables pushed together). This one closes."""
    order = order_or_404(order_id)
    others = selectors.other_open_orders(order)
    if request.method == "GET":
        return modal(request, "orders/till/_merge.html", {"order": order, "others": others})
    try:
        target = others.get(pk=int(request.POST.get("target", "")))
    except (ValueError, Order.DoesNotExist):
        return modal(request, "orders/till/_merge.html", {"order": order, "others": others, "error": _("Choose an order.")}, status=422)
    try:
        body = run(request, "till-merge", {"source": order.pk, "target": target.pk},
                   lambda: {"order": ordering.merge_orders(source=order, target=target).pk})
    except OrderError as error:
        return refused(request, error)
    return client_redirect(request, reverse("till:order", args=[body["order"]]))
