"""The till: servers on tablets (htmx). Floor plan, order screen, bill and payments, customer accounts.

Each view is a decorator stack and one service call (orders.services owns the rules). Pages render with
`base_template`: the whole page on a normal load, only the page block for an htmx request — the same
template either way. Fragments (the ticket pane, modals, toasts) are templates of their own that the
pages include.

Every POST is idempotent for the Wi-Fi blip (static/orders/till.js): it carries an `Idempotency-Key`
header made in the browser per user action and kept across retries. `_once` runs the change once per
(scope, device, key) through orders.idempotency; a retry whose first answer was lost re-renders the
current state, which already shows the change.

Errors: bad input re-renders the form with its errors (422, swapped back into the modal); a refusal
("this line was sent: void it") is a 409 toast. htmx is configured to swap both (templates/orders/till/base.html).
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, ProtectedError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, retarget, reswap, trigger_client_event

from accounts import pins
from orders import idempotency, selectors, services
from accounts.access import device_required, staff_required
from orders.forms import (
    CoversForm,
    DiscountForm,
    LineForm,
    MoveTableForm,
    PaymentForm,
    SettleAccountForm,
    TableForm,
    TransferForm,
    VoidForm,
    posted_values,
)
from accounts.models import Device, User
from orders.models import (
    CustomerAccount,
    Item,
    ModifierGroup,
    Order,
    OrderLine,
    OrderLineModifier,
    Payment,
    SetMenuSlot,
    Table,
)
from orders.selectors import Prepared
from orders.services import OrderError

PAID_SHOWN_FOR = dt.timedelta(minutes=10)  # a table just paid stays green this long, then shows free
COURSES = (1, 2, 3, 4)
CONFLICT_CODES = {
    "item_unavailable", "sold_out", "modifier_unavailable", "order_closed", "table_occupied", "nothing_due",
    "order_has_payments", "credit_limit", "account_inactive", "overpaid", "line_sent", "line_voided",
    "line_not_sent", "component_line", "manager_required", "idempotency_key_reused",
}
SEAL_TEMPLATE = "fiscal/_receipt_seal.html"


def till_view(view: Callable) -> Callable:
    """A paired till with a server (or manager) logged in by PIN."""
    return device_required(Device.Role.TILL)(staff_required(User.Role.SERVER)(view))


# --- Helpers ------------------------------------------------------------------------------------------


def _page(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    context["base_template"] = "orders/till/_partial.html" if request.htmx else "orders/till/base.html"
    return render(request, template, context, status=status)


def _key(request: HttpRequest) -> str | None:
    key = request.headers.get("Idempotency-Key") or request.POST.get("idempotency_key")
    if key and len(key) <= idempotency.KEY_MAX_LENGTH:
        return key
    return None


def _once(request: HttpRequest, scope: str, payload: dict, action: Callable[[], dict | None]) -> dict:
    """Run `action` once per client key (see the module docstring) and return what it returned (a JSON
    dict), or the first call's value on a retry. Without a key (a plain form post, no JS) it just runs.
    Raises OrderError, or OrderError("idempotency_key_reused") when the key came with another request."""
    key = _key(request)
    if key is None:
        with transaction.atomic():
            return action() or {}
    try:
        _status, body, _replayed = idempotency.run_once(
            scope=scope, device=request.device, key=key, request=payload, action=lambda: (200, action() or {})
        )
    except idempotency.IdempotencyKeyReused as error:
        raise OrderError(error.code, str(error)) from None
    return body


def _error_status(error: OrderError) -> int:
    return 409 if error.code in CONFLICT_CODES else 422


def _toast(request: HttpRequest, message: str, *, status: int = 409, kind: str = "bad") -> HttpResponse:
    """A refusal shown as a toast (htmx), or as a small page when the browser posted a plain form."""
    if not request.htmx:
        return _page(request, "orders/till/message.html", {"message": message, "back": request.META.get("HTTP_REFERER", "")}, status=status)
    response = render(request, "orders/till/_toast.html", {"message": message, "kind": kind}, status=status)
    retarget(response, "#toasts")
    reswap(response, "beforeend")
    # Statuses htmx does not swap (403…) still reach the user: till.js shows this header as a toast.
    response["X-Brigade-Message"] = quote(message)
    return response


def _refused(request: HttpRequest, error: OrderError) -> HttpResponse:
    return _toast(request, error.message, status=_error_status(error))


def _modal(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    """A modal fragment, swapped into #modal (also when it comes back with form errors)."""
    response = render(request, template, context, status=status)
    if status >= 400 and request.htmx:
        retarget(response, "#modal")
        reswap(response, "innerHTML")
    return response


def _redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def item_with_menu(item_id: int) -> Item:
    """One item with its modifier groups, modifiers and set-menu slots (what the picker and LineForm read)."""
    groups = Prefetch("modifier_groups", queryset=ModifierGroup.objects.prefetch_related("modifiers").order_by("position", "name"))
    choices = Prefetch("choices", queryset=Item.objects.prefetch_related(groups).order_by("position", "name"))
    slots = Prefetch("slots", queryset=SetMenuSlot.objects.prefetch_related(choices).order_by("position", "id"))
    return get_object_or_404(Item.objects.prefetch_related(groups, slots), pk=item_id)


# --- Floor plan ---------------------------------------------------------------------------------------


def _floor(editing: bool = False) -> list[dict]:
    """Tables grouped by area, each with its state: free, occupied, bill (pre-bill printed) or paid."""
    tables = selectors.tables_with_state()
    recently_paid = set(
        Order.objects.filter(status=Order.Status.PAID, table__isnull=False, closed_at__gte=timezone.now() - PAID_SHOWN_FOR)
        .values_list("table_id", flat=True)
    )
    areas: dict[str, list[Table]] = {}
    for table in tables:
        order = table.open_order
        if order is not None:
            table.state = "bill" if order.pre_bill_count > 0 else "occupied"
        elif table.pk in recently_paid:
            table.state = "paid"
        else:
            table.state = "free"
        areas.setdefault(table.area, []).append(table)
    result = []
    for name, area_tables in areas.items():
        # Each area is drawn from its own top-left table: "Terrasse" at y = 2..3 starts at row 1.
        left = min(t.x for t in area_tables)
        top = min(t.y for t in area_tables)
        for table in area_tables:
            table.column, table.row = table.x - left + 1, table.y - top + 1
        columns = max(t.column for t in area_tables) + (1 if editing else 0)
        result.append({"name": name, "tables": area_tables, "columns": max(columns, 4)})
    return result


@require_GET
@till_view
def floor(request):
    return _page(request, "orders/till/floor.html", {"areas": _floor()})


@require_GET
@till_view
def orders_list(request):
    """Open orders (take-away, counter and kiosk ones have no table to tap on the floor), then the last closed."""
    open_orders = Order.objects.filter(status=Order.Status.OPEN).select_related("table", "server").order_by("number")
    recent = Order.objects.exclude(status=Order.Status.OPEN).select_related("table").order_by("-closed_at")[:20]
    return _page(request, "orders/till/orders.html", {"open_orders": open_orders, "recent": recent})


def _manager_only(request) -> HttpResponse | None:
    if not request.user.is_manager:
        return _toast(request, _("Only a manager can change the floor plan."), status=403)
    return None


def _floor_edit_response(request, *, form: TableForm | None = None, status: int = 200) -> HttpResponse:
    return _page(request, "orders/till/floor_edit.html", {"areas": _floor(editing=True), "form": form or TableForm()}, status=status)


@require_GET
@till_view
def floor_edit(request):
    if (refused := _manager_only(request)) is not None:
        return refused
    return _floor_edit_response(request)


@require_POST
@till_view
def table_add(request):
    if (refused := _manager_only(request)) is not None:
        return refused
    form = TableForm(request.POST)
    if not form.is_valid():
        return _floor_edit_response(request, form=form, status=422)
    area = form.cleaned_data["area"]
    # A new table goes on the first free cell of the area's top row (then the next rows).
    taken = set(Table.objects.filter(area=area).values_list("x", "y"))
    x = y = 0
    while (x, y) in taken:
        x += 1
        if x >= 8:
            x, y = 0, y + 1
    form.instance.x, form.instance.y = x, y
    form.save()
    return _floor_edit_response(request)


@require_POST
@till_view
def table_move(request, table_id: int):
    if (refused := _manager_only(request)) is not None:
        return refused
    form = MoveTableForm(request.POST)
    if not form.is_valid():
        return _toast(request, _("Invalid move."), status=422)
    with transaction.atomic():
        table = get_object_or_404(Table.objects.select_for_update(), pk=table_id)
        x = max(0, table.x + (form.cleaned_data["dx"] or 0))
        y = max(0, table.y + (form.cleaned_data["dy"] or 0))
        if Table.objects.filter(area=table.area, x=x, y=y).exclude(pk=table.pk).exists():
            return _toast(request, _("Another table is already there."), status=409)
        Table.objects.filter(pk=table.pk).update(x=x, y=y)
    return _floor_edit_response(request)


@require_POST
@till_view
def table_delete(request, table_id: int):
    if (refused := _manager_only(request)) is not None:
        return refused
    table = get_object_or_404(Table, pk=table_id)
    if selectors.open_order_for_table(table) is not None:
        return _toast(request, _("Table %(table)s has an open order.") % {"table": table.label}, status=409)
    try:
        table.delete()
    except ProtectedError:
        return _toast(request, _("Table %(table)s has past orders: it stays in the history and cannot be removed.") % {"table": table.label})
    return _floor_edit_response(request)


# --- Opening orders -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@till_view
def open_table(request, table_id: int):
    """Tap a table: an occupied one opens its order; a free one asks for the covers, then opens it."""
    table = get_object_or_404(Table, pk=table_id)
    existing = selectors.open_order_for_table(table)
    if request.method == "GET":
        if existing is not None:
            return _redirect(request, reverse("till:order", args=[existing.pk]))
        return _modal(request, "orders/till/_open_table.html", {"table": table, "form": CoversForm(), "choices": range(1, 13)})
    form = CoversForm(request.POST)
    if not form.is_valid():
        return _modal(request, "orders/till/_open_table.html", {"table": table, "form": form, "choices": range(1, 13)}, status=422)
    covers = form.cleaned_data["covers"]
    try:
        body = _once(
            request, "till-open", {"table": table.pk, "covers": covers},
            lambda: {"order": services.open_table(device=request.device, server=request.user, table=table, covers=covers).pk},
        )
    except OrderError as error:
        return _refused(request, error)
    return _redirect(request, reverse("till:order", args=[body["order"]]))


# --- The order screen ---------------------------------------------------------------------------------


# The ticket pane is re-rendered on every tap: its reads are compiled once (selectors.Prepared).
_ORDER = Prepared(lambda pk: Order.objects.filter(pk=pk), model=Order)
_TICKET_ROWS = Prepared(
    lambda order_id: OrderLine.objects.filter(order_id=order_id).order_by("course", "id").values_list(
        "id", "parent_id", "name", "quantity", "unit_price", "total", "note", "seat", "course", "status", "sent_at",
        "void_reason", "discount_percent", "discount_amount",
    )
)
_TICKET_MODIFIERS = Prepared(
    lambda order_id: OrderLineModifier.objects.filter(line__order_id=order_id).order_by("id").values_list("line_id", "name")
)


@dataclass
class TicketLine:
    """A line as the ticket pane, the bill and the slips print it (texts and links prepared)."""

    pk: int
    parent_id: int | None
    name: str
    quantity: int
    unit_price: Decimal
    total: Decimal
    note: str
    seat: int | None
    course: int
    status: str
    sent_at: dt.datetime | None
    void_reason: str
    discount_percent: Decimal
    discount_amount: Decimal
    modifier_names: list[str] = field(default_factory=list)
    component_texts: list[str] = field(default_factory=list)
    detail: list[str] = field(default_factory=list)
    status_label: str = ""
    base_url: str = ""
    can_remove: bool = False
    can_void: bool = False
    can_discount: bool = False

    @property
    def has_discount(self) -> bool:
        return bool(self.discount_percent or self.discount_amount)


def _order_or_404(order_id: int) -> Order:
    found = _ORDER.instances(order_id)
    if not found:
        raise Http404
    return found[0]


def _ticket(order: Order, *, priced: bool = False) -> dict:
    """What the ticket pane shows: lines by course with what can be done to them, and the totals.

    Three compiled reads (lines, their modifiers, payments); each line's texts and links are prepared
    here for the template to print. Totals come from what the services stored (`total` of lines and
    order); `priced=True` adds the full pricing (`totals`: VAT breakdown, order discount) for bills."""
    modifier_names: dict[int, list[str]] = {}
    for line_id, name in _TICKET_MODIFIERS.rows(order.pk):
        modifier_names.setdefault(line_id, []).append(name)
    lines: list[TicketLine] = []
    components: dict[int, list[TicketLine]] = {}
    for row in _TICKET_ROWS.rows(order.pk):
        line = TicketLine(*row)
        if line.parent_id is None:
            lines.append(line)
        else:
            components.setdefault(line.parent_id, []).append(line)
    paid = selectors.amount_paid(order)
    is_open = order.status == Order.Status.OPEN
    base = reverse("till:order", args=[order.pk])
    status_labels = {value: str(label) for value, label in OrderLine.Status.choices}
    gross = Decimal("0.00")
    courses: dict[int, dict] = {}
    for line in lines:
        course = courses.setdefault(line.course, {"number": line.course, "lines": [], "can_hold": False, "can_fire": False})
        course["lines"].append(line)
        if line.status == OrderLine.Status.PENDING:
            course["can_hold"] = True
        if line.status == OrderLine.Status.HELD:
            course["can_fire"] = True
        voided = line.status == OrderLine.Status.VOIDED
        if not voided:
            gross += line.unit_price * line.quantity
        line.modifier_names = modifier_names.get(line.pk, [])
        for component in components.get(line.pk, []):
            names = ", ".join(modifier_names.get(component.pk, []))
            line.component_texts.append(component.name + (f" ({names})" if names else ""))
        if line.modifier_names:
            line.detail.append(", ".join(line.modifier_names))
        line.detail += [f"↳ {text}" for text in line.component_texts]
        if line.seat:
            line.detail.append(_("Seat %(n)d") % {"n": line.seat})
        line.status_label = status_labels[line.status]
        line.can_remove = is_open and line.sent_at is None and not voided
        line.can_void = is_open and line.sent_at is not None and not voided
        line.can_discount = is_open and not voided
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
        "has_unsent": any(line.sent_at is None and line.status != OrderLine.Status.VOIDED for line in lines),
        "has_lines": any(line.status != OrderLine.Status.VOIDED for line in lines),
        "is_open": is_open,
    }
    if priced:
        context["totals"] = selectors.order_totals(order)
    return context


def _ticket_response(request, order: Order, *, close_modal: bool = False, message: str = "") -> HttpResponse:
    if not request.htmx:  # a plain form post (no JS): back to the order screen
        return redirect("till:order", order_id=order.pk)
    context = _ticket(_order_or_404(order.pk))
    context["close_modal"] = close_modal
    response = render(request, "orders/till/_ticket.html", context)
    if message:
        trigger_client_event(response, "brigade:toast", {"message": message, "kind": "ok"})
    return response


def _order_screen_context(request, order: Order | None, *, order_type: str = Order.Type.EAT_IN) -> dict:
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
        context.update(_ticket(order))
    return context


@require_GET
@till_view
def order_detail(request, order_id: int):
    order = _order_or_404(order_id)
    if order.status == Order.Status.PAID:
        return redirect("till:receipt", order_id=order.pk)
    if order.merged_into_id:
        return redirect("till:order", order_id=order.merged_into_id)
    return _page(request, "orders/till/order.html", _order_screen_context(request, order))


@require_GET
@till_view
def new_order(request):
    """A take-away or counter order: the order screen with an empty ticket. The first item tapped
    creates the order (place_order, not sent), so an order never exists without a line."""
    order_type = request.GET.get("type", Order.Type.TAKE_AWAY)
    if order_type not in Order.Type.values:
        order_type = Order.Type.TAKE_AWAY
    context = _order_screen_context(request, None, order_type=order_type)
    context["customer_name"] = request.GET.get("name", "")[:80]
    return _page(request, "orders/till/order.html", context)


def _int_list(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


def _picker_context(request, item: Item, *, order: Order | None, form: LineForm | None = None) -> dict:
    data = request.POST if request.method == "POST" else request.GET
    chosen_slots = {}
    for slot in item.slots.all():
        try:
            chosen_slots[slot.pk] = int(data.get(f"slot_{slot.pk}", ""))
        except ValueError:
            # A slot with a single choice needs no tap.
            only = list(slot.choices.all())
            chosen_slots[slot.pk] = only[0].pk if len(only) == 1 else None
    slots = []
    for slot in item.slots.all():
        choice = next((c for c in slot.choices.all() if c.pk == chosen_slots[slot.pk]), None)
        prefix = f"slot_{slot.pk}_modifier"
        slots.append({"slot": slot, "chosen": choice, "prefix": prefix, "modifiers": _int_list(posted_values(data, prefix))})
    if order is not None:
        action = reverse("till:add_line", args=[order.pk])
        picker_url = reverse("till:item_picker", args=[order.pk, item.pk])
        seats = range(1, order.covers + 1) if order.covers else ()
    else:
        action = reverse("till:new_order_line")
        picker_url = reverse("till:new_order_picker", args=[item.pk])
        seats = ()
    return {
        "item": item,
        "order": order,
        "form": form,
        "action": action,
        "picker_url": picker_url,
        "slots": slots,
        "chosen_modifiers": _int_list(posted_values(data, "modifier")),
        "quantity": data.get("quantity") or 1,
        "note": data.get("note", ""),
        "seat": data.get("seat", ""),
        "course": data.get("course") or "1",
        "seats": seats,
        "course_choices": COURSES,
        "order_type": data.get("order_type", ""),
        "customer_name": data.get("customer_name", ""),
    }


@require_GET
@till_view
def item_picker(request, order_id: int, item_id: int):
    """The modifier / set-menu modal. Changing a set-menu choice re-renders it (that choice's modifiers)."""
    order = _order_or_404(order_id)
    item = item_with_menu(item_id)
    return _modal(request, "orders/till/_picker.html", _picker_context(request, item, order=order))


@require_GET
@till_view
def new_order_picker(request, item_id: int):
    item = item_with_menu(item_id)
    return _modal(request, "orders/till/_picker.html", _picker_context(request, item, order=None))


def _posted_item(request) -> Item | None:
    """The item a line form names, with its menu (for re-rendering the picker after an error)."""
    try:
        return item_with_menu(int(request.POST.get("item", "")))
    except (ValueError, Http404):
        return None


def _line_error(request, order: Order | None, message: str | None = None, *, form: LineForm | None = None, status: int = 422) -> HttpResponse:
    """A line that could not be added: back into the picker it came from, or a toast for a one-tap item."""
    if form is not None and message:
        form.add_error(None, message)
    item = _posted_item(request) if request.POST.get("from_picker") else None
    if item is not None:
        return _modal(request, "orders/till/_picker.html", _picker_context(request, item, order=order, form=form), status=status)
    if message is None and form is not None:
        message = " ".join(str(m) for errors in form.errors.values() for m in errors)
    return _toast(request, message or _("Unknown item."), status=status)


@require_POST
@till_view
def add_line(request, order_id: int):
    """One tap on an item (or the picker's "Add"): the service checks it against the menu and adds it."""
    order = _order_or_404(order_id)
    form = LineForm(request.POST)
    if not form.is_valid():
        return _line_error(request, order, form=form)
    spec = form.spec()
    try:
        _once(request, "till-add", {"order": order.pk, "line": spec.canonical()},
              lambda: {"lines": [line.pk for line in services.add_lines(order=order, lines=[spec])]})
    except OrderError as error:
        return _line_error(request, order, error.message, form=form, status=_error_status(error))
    return _ticket_response(request, order, close_modal=bool(request.POST.get("from_picker")))


@require_POST
@till_view
def new_order_line(request):
    """The first line of a take-away / counter order: creates the order, then opens its screen."""
    form = LineForm(request.POST)
    if not form.is_valid():
        return _line_error(request, None, form=form)
    order_type = request.POST.get("order_type", Order.Type.TAKE_AWAY)
    if order_type not in Order.Type.values:
        return _toast(request, _("Unknown order type."), status=422)
    customer_name = request.POST.get("customer_name", "").strip()[:80]
    key = _key(request)
    try:
        order = services.place_order(
            device=request.device, server=request.user, order_type=order_type, lines=[form.spec()],
            idempotency_key=f"till-new:{key}" if key else None, customer_name=customer_name, source=Order.Source.TILL, send=False,
        )
    except idempotency.IdempotencyKeyReused as error:
        return _toast(request, str(error), status=409)
    except OrderError as error:
        return _line_error(request, None, error.message, form=form, status=_error_status(error))
    return _redirect(request, reverse("till:order", args=[order.pk]))


def _line_of(order: Order, line_id: int) -> OrderLine:
    return get_object_or_404(OrderLine, pk=line_id, order=order)


@require_POST
@till_view
def remove_line(request, order_id: int, line_id: int):
    order = _order_or_404(order_id)
    line = OrderLine.objects.filter(pk=line_id, order=order).first()
    try:
        if line is not None:
            _once(request, "till-remove", {"line": line_id}, lambda: {"order": services.remove_pending_line(line=line).pk})
        # A retry after the line is gone finds nothing to remove: the current ticket is the answer.
    except OrderError as error:
        return _refused(request, error)
    return _ticket_response(request, order)


@require_http_methods(["GET", "POST"])
@till_view
def void_line(request, order_id: int, line_id: int):
    order = _order_or_404(order_id)
    line = _line_of(order, line_id)
    if request.method == "GET":
        return _modal(request, "orders/till/_void.html", {"order": order, "line": line, "form": VoidForm()})
    form = VoidForm(request.POST)
    if not form.is_valid():
        return _modal(request, "orders/till/_void.html", {"order": order, "line": line, "form": form}, status=422)
    reason = form.cleaned_data["reason"]
    try:
        _once(request, "till-void", {"line": line.pk, "reason": reason},
              lambda: {"line": services.void_line(line=line, reason=reason, operator=request.user, device=request.device).pk})
    except OrderError as error:
        if error.field == "reason":
            form.add_error("reason", error.message)
            return _modal(request, "orders/till/_void.html", {"order": order, "line": line, "form": form}, status=422)
        return _refused(request, error)
    return _ticket_response(request, order, close_modal=True, message=_("Voided: the kitchen has been told."))


@require_POST
@till_view
def send(request, order_id: int):
    order = _order_or_404(order_id)
    try:
        body = _once(request, "till-send", {"order": order.pk}, lambda: {"sent": len(services.send_order(order=order))})
    except OrderError as error:
        return _refused(request, error)
    message = _("Sent to the kitchen.") if body.get("sent") else _("Nothing new to send.")
    return _ticket_response(request, order, message=message)


@require_POST
@till_view
def hold_course(request, order_id: int, course: int):
    order = _order_or_404(order_id)
    try:
        _once(request, "till-hold", {"order": order.pk, "course": course},
              lambda: {"held": services.hold_course(order=order, course=course)})
    except OrderError as error:
        return _refused(request, error)
    return _ticket_response(request, order, message=_("Course %(n)d held.") % {"n": course})


@require_POST
@till_view
def fire_course(request, order_id: int, course: int):
    order = _order_or_404(order_id)
    try:
        _once(request, "till-fire", {"order": order.pk, "course": course},
              lambda: {"fired": len(services.fire_course(order=order, course=course))})
    except OrderError as error:
        return _refused(request, error)
    return _ticket_response(request, order, message=_("Course %(n)d fired.") % {"n": course})


@require_http_methods(["GET", "POST"])
@till_view
def transfer(request, order_id: int):
    """Move the order to a free table (also: seat a take-away order at a table)."""
    order = _order_or_404(order_id)
    occupied = Order.objects.filter(status=Order.Status.OPEN, table__isnull=False).values_list("table_id", flat=True)
    free_tables = Table.objects.exclude(pk__in=list(occupied))
    if request.method == "GET":
        return _modal(request, "orders/till/_transfer.html", {"order": order, "tables": free_tables})
    form = TransferForm(request.POST)
    if not form.is_valid():
        return _modal(request, "orders/till/_transfer.html", {"order": order, "tables": free_tables, "form": form}, status=422)
    table = form.cleaned_data["table"]
    try:
        _once(request, "till-transfer", {"order": order.pk, "table": table.pk},
              lambda: {"order": services.transfer_order(order=order, table=table).pk})
    except OrderError as error:
        return _refused(request, error)
    return _redirect(request, reverse("till:order", args=[order.pk]))


@require_http_methods(["GET", "POST"])
@till_view
def merge(request, order_id: int):
    """Join this order into another open order (two tables pushed together). This one closes."""
    order = _order_or_404(order_id)
    others = Order.objects.filter(status=Order.Status.OPEN).exclude(pk=order.pk).select_related("table").order_by("number")
    if request.method == "GET":
        return _modal(request, "orders/till/_merge.html", {"order": order, "others": others})
    try:
        target = others.get(pk=int(request.POST.get("target", "")))
    except (ValueError, Order.DoesNotExist):
        return _modal(request, "orders/till/_merge.html", {"order": order, "others": others, "error": _("Choose an order.")}, status=422)
    try:
        body = _once(request, "till-merge", {"source": order.pk, "target": target.pk},
                     lambda: {"order": services.merge_orders(source=order, target=target).pk})
    except OrderError as error:
        return _refused(request, error)
    return _redirect(request, reverse("till:order", args=[body["order"]]))


@require_http_methods(["GET", "POST"])
@till_view
def discount(request, order_id: int):
    """A discount on the order or on one line (?line=id). Above the threshold, a manager's PIN."""
    order = _order_or_404(order_id)
    line_id = request.GET.get("line") or request.POST.get("line")
    line = _line_of(order, int(line_id)) if line_id and str(line_id).isdigit() else None
    context = {"order": order, "line": line, "threshold": settings.KDS_DISCOUNT_MANAGER_THRESHOLD}
    if request.method == "GET":
        context["form"] = DiscountForm(initial={"kind": "percent", "line": line.pk if line else None})
        return _modal(request, "orders/till/_discount.html", context)
    form = DiscountForm(request.POST)
    context["form"] = form
    if not form.is_valid():
        return _modal(request, "orders/till/_discount.html", context, status=422)
    data = form.cleaned_data
    manager = None
    if data["manager_pin"]:
        manager = pins.check_manager_pin(data["manager_pin"], device=request.device)
        if manager is None:
            form.add_error("manager_pin", _("Wrong manager PIN."))
            context["needs_manager"] = True
            return _modal(request, "orders/till/_discount.html", context, status=422)
    amount = {"percent": data["value"]} if data["kind"] == "percent" else {"amount": data["value"]}
    target = {"line": line} if line is not None else {"order": order}
    try:
        _once(
            request, "till-discount",
            {"order": order.pk, "line": line.pk if line else None, "kind": data["kind"], "value": str(data["value"]), "manager": bool(manager)},
            lambda: {"order": services.apply_discount(**target, **amount, operator=request.user, manager=manager).pk},
        )
    except OrderError as error:
        if error.code == "manager_required":
            form.add_error("manager_pin", error.message)
            context["needs_manager"] = True
            return _modal(request, "orders/till/_discount.html", context, status=422)
        form.add_error(None, error.message)
        return _modal(request, "orders/till/_discount.html", context, status=_error_status(error))
    return _ticket_response(request, order, close_modal=True)


# --- The bill -----------------------------------------------------------------------------------------


@require_POST
@till_view
def pre_bill(request, order_id: int):
    """Count and seal a pre-bill, then show it (printable, marked provisional)."""
    order = _order_or_404(order_id)
    try:
        _once(request, "till-prebill", {"order": order.pk},
              lambda: {"order": services.print_pre_bill(order=order, operator=request.user, device=request.device)[0].pk})
    except OrderError as error:
        return _refused(request, error)
    return _redirect(request, reverse("till:pre_bill_page", args=[order.pk]))


@require_GET
@till_view
def pre_bill_page(request, order_id: int):
    order = _order_or_404(order_id)
    context = _ticket(order, priced=True)
    context["now"] = timezone.now()
    return _page(request, "orders/till/pre_bill.html", context)


def _split(params, order: Order, context: dict) -> dict:
    """The parts of a split bill, from the query string: ?split=equal&parts=N | seats | items&line=…"""
    mode = params.get("split", "")
    parts: list[dict] = []
    try:
        if mode == "equal":
            count = int(params.get("parts", "2"))
            parts = [{"label": _("Part %(n)d") % {"n": i}, "amount": a} for i, a in enumerate(services.split_equal(order=order, parts=count), 1)]
        elif mode == "seats":
            for seat, amount in sorted(services.split_by_seats(order=order).items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
                label = _("Seat %(n)d") % {"n": seat} if seat is not None else _("Shared")
                parts.append({"label": label, "amount": amount})
        elif mode == "items":
            chosen = [int(v) for v in params.getlist("line") if v.isdigit()]
            amounts = services.split_by_items(order=order, groups=[chosen]) if chosen else []
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
    context = _ticket(order, priced=True)
    context["accounts"] = CustomerAccount.objects.filter(active=True)
    context["methods"] = Payment.Method.choices
    context["payments"] = list(order.payments.select_related("account").order_by("id"))
    context["form"] = form
    params = request.GET if params is None else params
    context["amount"] = params.get("amount") or (f"{context['due']:.2f}" if context["due"] else "")
    return _split(params, order, context)


@require_GET
@till_view
def bill(request, order_id: int):
    order = _order_or_404(order_id)
    if order.status == Order.Status.PAID:
        return redirect("till:receipt", order_id=order.pk)
    return _page(request, "orders/till/bill.html", _bill_context(request, order))


@require_POST
@till_view
def pay(request, order_id: int):
    """Take one payment (cash, card, voucher, account; several make a mix). Settled → the receipt."""
    order = _order_or_404(order_id)
    form = PaymentForm(request.POST)
    if not form.is_valid():
        return _page(request, "orders/till/bill.html", _bill_context(request, order, form=form), status=422)
    data = form.cleaned_data
    key = _key(request)
    try:
        result = services.take_payment(
            order=order, method=data["method"], amount=data["amount"], tendered=data["tendered"],
            tip=data["tip"] or Decimal("0.00"), account=data["account"], operator=request.user, device=request.device,
            idempotency_key=f"till:{key}" if key else None,
        )
    except idempotency.IdempotencyKeyReused as error:
        return _toast(request, str(error), status=409)
    except OrderError as error:
        if error.field in ("amount", "tendered", "tip", "account", "method"):
            form.add_error(error.field, error.message)
        else:
            form.add_error(None, error.message)
        return _page(request, "orders/till/bill.html", _bill_context(request, order, form=form), status=_error_status(error))
    if result.settled or result.order.status == Order.Status.PAID:
        return _redirect(request, reverse("till:receipt", args=[order.pk]))
    order.refresh_from_db()
    # Paying one of N equal parts leaves N-1 equal parts of what is still due.
    params = QueryDict(mutable=True)
    parts = request.POST.get("split_parts", "")
    if parts.isdigit() and int(parts) > 2:
        params.update({"split": "equal", "parts": str(int(parts) - 1)})
    context = _bill_context(request, order, params=params)
    context["last_payment"] = result.payment
    context["change"] = result.change
    return _page(request, "orders/till/bill.html", context)


def _receipt_record(order: Order):
    """The sealed receipt of a paid order (fiscal finds it by business day and number)."""
    from fiscal.services import find_receipt

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
    order = _order_or_404(order_id)
    if order.status != Order.Status.PAID:
        return redirect("till:bill", order_id=order.pk)
    context = _ticket(order, priced=True)
    payments = list(order.payments.select_related("account").order_by("id"))
    context.update(
        payments=payments,
        change=sum((p.change for p in payments), Decimal("0.00")),
        tips=sum((p.tip for p in payments), Decimal("0.00")),
        record=_receipt_record(order),
        server_name=str(order.server) if order.server_id else "",
        seal_template=SEAL_TEMPLATE if _template_exists(SEAL_TEMPLATE) else None,
    )
    return _page(request, "orders/till/receipt.html", context)


# --- Customer accounts --------------------------------------------------------------------------------


def _accounts_page(request, *, forms: dict | None = None, status: int = 200, settled=None) -> HttpResponse:
    accounts = list(CustomerAccount.objects.order_by("-active", "name"))
    for account in accounts:
        account.settle_form = (forms or {}).get(account.pk)
    return _page(request, "orders/till/accounts.html", {"accounts": accounts, "settled": settled,
                                                          "methods": SettleAccountForm.METHODS}, status=status)


@require_GET
@till_view
def accounts(request):
    return _accounts_page(request)


@require_POST
@till_view
def account_settle(request, account_id: int):
    account = get_object_or_404(CustomerAccount, pk=account_id)
    form = SettleAccountForm(request.POST)
    if not form.is_valid():
        return _accounts_page(request, forms={account.pk: form}, status=422)
    data = form.cleaned_data
    try:
        _once(request, "till-settle", {"account": account.pk, "amount": str(data["amount"]), "method": data["method"]},
              lambda: {"settlement": services.settle_account(account=account, amount=data["amount"], method=data["method"], operator=request.user).pk})
    except OrderError as error:
        form.add_error("amount" if error.field == "amount" else None, error.message)
        return _accounts_page(request, forms={account.pk: form}, status=_error_status(error))
    return _accounts_page(request, settled=account.pk)
