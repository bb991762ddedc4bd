"""Changes to an order's lines from the order screen: a tap on an item (or the picker's "Add"), the first
line of a counter order, removing or voiding a line, sending, holding and firing courses, marking the
order rush, discounts."""

from django.conf import settings
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import pins
from orders import selectors
from orders.actions import courses, discounts, ordering
from orders.errors import OrderError, page_status
from orders.forms import DiscountForm, LineForm, VoidForm
from orders.models import Item, Order, OrderLine
from orders.views.common import client_redirect, modal, refused, run, till_view, toast
from orders.views.ticket import order_or_404, picker_context, ticket_response


def _line_of(order: Order, line_id: int) -> OrderLine:
    return get_object_or_404(OrderLine, pk=line_id, order=order)


def _posted_item(request) -> Item | None:
    """The item a line form names, with its menu (for re-rendering the picker after an error)."""
    try:
        return selectors.item_with_menu(int(request.POST.get("item", "")))
    except (ValueError, Http404):
        return None


def _line_error(request, order: Order | None, message: str | None = None, *, form: LineForm | None = None, status: int = 422):
    """A line that could not be added: back into the picker it came from, or a toast for a one-tap item."""
    if form is not None and message:
        form.add_error(None, message)
    item = _posted_item(request) if request.POST.get("from_picker") else None
    if item is not None:
        return modal(request, "orders/till/_picker.html", picker_context(request, item, order=order, form=form), status=status)
    if message is None and form is not None:
        message = " ".join(str(m) for errors in form.errors.values() for m in errors)
    return toast(request, message or _("Unknown item."), status=status)


@require_POST
@till_view
def add_line(request, order_id: int):
    """One tap on an item (or the picker's "Add"): checked against the menu and added, not sent.

    The busiest request of the till, so the order is read once, by add_lines under its row lock (an
    unknown id is its "not_found", a 404), and the ticket pane is drawn from the order it returns;
    error paths read the order for the picker."""
    form = LineForm(request.POST)
    if not form.is_valid():
        return _line_error(request, order_or_404(order_id), form=form)
    spec = form.spec()
    changed: list[Order] = []  # the order as add_lines left it (not on a replay)

    def add() -> dict:
        added = ordering.add_lines(order=Order(pk=order_id), lines=[spec])
        changed.append(added[0].order)
        return {"lines": [line.pk for line in added]}

    try:
        run(request, "till-add", {"order": order_id, "line": spec.canonical()}, add)
    except OrderError as error:
        if error.code == "not_found":
            raise Http404 from None
        return _line_error(request, order_or_404(order_id), error.message, form=form, status=page_status(error.code))
    fresh = changed[0] if changed else order_or_404(order_id)
    return ticket_response(request, fresh, fresh=fresh, close_modal=bool(request.POST.get("from_picker")))


@require_POST
@till_view
def new_order_line(request):
    """The first line of a take-away / counter order: creates the order, then opens its screen."""
    form = LineForm(request.POST)
    if not form.is_valid():
        return _line_error(request, None, form=form)
    order_type = request.POST.get("order_type", Order.Type.TAKE_AWAY)
    if order_type not in Order.Type.values:
        return toast(request, _("Unknown order type."), status=422)
    customer_name = request.POST.get("customer_name", "").strip()[:80]
    spec = form.spec()
    try:
        body = run(
            request, "till-new", {"order_type": order_type, "customer_name": customer_name, "line": spec.canonical()},
            lambda: {"order": ordering.place_order(
                device=request.device, server=request.user, order_type=order_type, lines=[spec],
                customer_name=customer_name, source=Order.Source.TILL, send=False,
            ).pk},
        )
    except OrderError as error:
        return _line_error(request, None, error.message, form=form, status=page_status(error.code))
    return client_redirect(request, reverse("till:order", args=[body["order"]]))


@require_POST
@till_view
def remove_line(request, order_id: int, line_id: int):
    order = order_or_404(order_id)
    line = OrderLine.objects.filter(pk=line_id, order=order).first()
    try:
        if line is not None:
            run(request, "till-remove", {"line": line_id}, lambda: {"order": ordering.remove_pending_line(line=line).pk})
        # A retry after the line is gone finds nothing to remove: the current ticket is the answer.
    except OrderError as error:
        return refused(request, error)
    return ticket_response(request, order)


@require_http_methods(["GET", "POST"])
@till_view
def void_line(request, order_id: int, line_id: int):
    order = order_or_404(order_id)
    line = _line_of(order, line_id)
    if request.method == "GET":
        return modal(request, "orders/till/_void.html", {"order": order, "line": line, "form": VoidForm()})
    form = VoidForm(request.POST)
    if not form.is_valid():
        return modal(request, "orders/till/_void.html", {"order": order, "line": line, "form": form}, status=422)
    reason = form.cleaned_data["reason"]
    try:
        run(request, "till-void", {"line": line.pk, "reason": reason},
            lambda: {"line": courses.void_line(line=line, reason=reason, operator=request.user, device=request.device).pk})
    except OrderError as error:
        if error.field == "reason":
            form.add_error("reason", error.message)
            return modal(request, "orders/till/_void.html", {"order": order, "line": line, "form": form}, status=422)
        return refused(request, error)
    return ticket_response(request, order, close_modal=True, message=_("Voided: the kitchen has been told."))


@require_POST
@till_view
def send(request, order_id: int):
    order = order_or_404(order_id)
    try:
        body = run(request, "till-send", {"order": order.pk}, lambda: {"sent": len(courses.send_order(order=order))})
    except OrderError as error:
        return refused(request, error)
    message = _("Sent to the kitchen.") if body.get("sent") else _("Nothing new to send.")
    return ticket_response(request, order, message=message)


@require_POST
@till_view
def rush(request, order_id: int):
    """Mark the order rush or not (`rush` = "1" or "0": the state wanted, so a retried tap is harmless)."""
    order = order_or_404(order_id)
    wanted = request.POST.get("rush")
    if wanted not in ("0", "1"):
        return toast(request, _("Rush is either on or off."), status=422)
    try:
        run(request, "till-rush", {"order": order.pk, "rush": wanted},
            lambda: {"changed": courses.set_rush(order=order, rush=wanted == "1", operator=request.user)})
    except OrderError as error:
        return refused(request, error)
    return ticket_response(request, order, message=_("Rush: the kitchen cooks this order first.") if wanted == "1" else _("Rush taken off."))


@require_POST
@till_view
def hold_course(request, order_id: int, course: int):
    order = order_or_404(order_id)
    try:
        run(request, "till-hold", {"order": order.pk, "course": course},
            lambda: {"held": courses.hold_course(order=order, course=course)})
    except OrderError as error:
        return refused(request, error)
    return ticket_response(request, order, message=_("Course %(n)d held.") % {"n": course})


@require_POST
@till_view
def fire_course(request, order_id: int, course: int):
    order = order_or_404(order_id)
    try:
        run(request, "till-fire", {"order": order.pk, "course": course},
            lambda: {"fired": len(courses.fire_course(order=order, course=course))})
    except OrderError as error:
        return refused(request, error)
    return ticket_response(request, order, message=_("Course %(n)d fired.") % {"n": course})


@require_http_methods(["GET", "POST"])
@till_view
def discount(request, order_id: int):
    """A discount on the order or on one line (?line=id). Above the threshold, a manager's PIN."""
    order = order_or_404(order_id)
    line_id = request.GET.get("line") or request.POST.get("line")
    line = _line_of(order, int(line_id)) if line_id and str(line_id).isdigit() else None
    context = {"order": order, "line": line, "threshold": settings.KDS_DISCOUNT_MANAGER_THRESHOLD}
    if request.method == "GET":
        context["form"] = DiscountForm(initial={"kind": "percent", "line": line.pk if line else None})
        return modal(request, "orders/till/_discount.html", context)
    form = DiscountForm(request.POST)
    context["form"] = form
    if not form.is_valid():
        return modal(request, "orders/till/_discount.html", context, status=422)
    data = form.cleaned_data
    manager = None
    if data["manager_pin"]:
        manager = pins.check_manager_pin(data["manager_pin"], device=request.device, operator=request.user)
        if manager is None:
            blocked = pins.override_blocked(device=request.device, operator=request.user)
            form.add_error("manager_pin", _("Too many wrong manager PINs: try again in a few minutes.") if blocked
                           else _("Wrong manager PIN."))
            context["needs_manager"] = True
            return modal(request, "orders/till/_discount.html", context, status=422)
    amount = {"percent": data["value"]} if data["kind"] == "percent" else {"amount": data["value"]}
    target = {"line": line} if line is not None else {"order": order}
    body = {"order": order.pk, "line": line.pk if line else None, "kind": data["kind"], "value": str(data["value"]), "manager": bool(manager)}
    try:
        run(request, "till-discount", body,
            lambda: {"order": discounts.apply_discount(**target, **amount, operator=request.user, manager=manager).pk})
    except OrderError as error:
        if error.code == "manager_required":
            form.add_error("manager_pin", error.message)
            context["needs_manager"] = True
            return modal(request, "orders/till/_discount.html", context, status=422)
        form.add_error(None, error.message)
        return modal(request, "orders/till/_discount.html", context, status=page_status(error.code))
    return ticket_response(request, order, close_modal=True)
