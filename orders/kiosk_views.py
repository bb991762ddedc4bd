"""The self-order kiosk (customers, no login): attract screen → eat in / take away → menu → basket →
confirm → pay at the counter or record a card payment → a big order number → back to the start.

The basket lives in the kiosk's session until it is confirmed; nothing reaches the database (or the
kitchen) before that. Confirming places the order (and takes the card payment) in one run keyed by the
client's idempotency key (orders.idempotency; static/orders/till.js, as on the till): a retry after a
lost answer gets the same order, never a second one or a second payment. Prices shown here are a
preview; the order is priced again on the server when placed.
"""

from decimal import Decimal

from django.conf import settings
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect, retarget, reswap

from accounts.access import device_required
from accounts.models import Device
from orders import idempotency, selectors
from orders.actions import ordering, payments
from orders.errors import OrderError, page_status
from orders.forms import KioskStartForm, LineForm, QuantityForm, posted_values
from orders.lines import LineSpec
from orders.models import Item, Modifier, Order

SESSION_KEY = "kiosk"
MAX_BASKET_LINES = 30
IDLE_SECONDS = 60  # no touch for this long: "still there?", then back to the attract screen
DONE_SECONDS = 20  # how long the order number stays on screen


def kiosk_view(view):
    return device_required(Device.Role.KIOSK)(view)


# --- The basket (session) -----------------------------------------------------------------------------


def _state(request) -> dict | None:
    return request.session.get(SESSION_KEY)


def _save(request, state: dict) -> None:
    request.session[SESSION_KEY] = state
    request.session.modified = True


def _basket(state: dict) -> dict:
    """The basket's lines with names and preview prices (two queries)."""
    entries = state.get("basket", [])
    item_ids, modifier_ids = set(), set()
    for entry in entries:
        item_ids.add(entry["item"])
        modifier_ids.update(entry["modifiers"])
        for slot in entry["slots"]:
            item_ids.add(slot["item"])
            modifier_ids.update(slot["modifiers"])
    items = Item.objects.in_bulk(item_ids)
    modifiers = Modifier.objects.in_bulk(modifier_ids)
    lines, total = [], Decimal("0.00")
    for index, entry in enumerate(entries):
        item = items.get(entry["item"])
        if item is None:
            continue
        chosen = [modifiers[m] for m in entry["modifiers"] if m in modifiers]
        components = []
        unit = item.price + sum((m.price_delta for m in chosen), Decimal("0.00"))
        for slot in entry["slots"]:
            component = items.get(slot["item"])
            mods = [modifiers[m] for m in slot["modifiers"] if m in modifiers]
            unit += sum((m.price_delta for m in mods), Decimal("0.00"))
            components.append({"name": component.name if component else "?", "modifiers": [m.name for m in mods]})
        amount = unit * entry["quantity"]
        total += amount
        lines.append({
            "index": index, "item": item, "quantity": entry["quantity"], "modifiers": [m.name for m in chosen],
            "components": components, "note": entry.get("note", ""), "amount": amount, "orderable": item.is_orderable,
        })
    return {"lines": lines, "total": total, "count": sum(e["quantity"] for e in entries)}


def _basket_response(request, state: dict, *, close_modal: bool = False, status: int = 200):
    context = {"state": state, "basket": _basket(state), "close_modal": close_modal}
    return render(request, "orders/kiosk/_basket.html", context, status=status)


def _require_state(request):
    state = _state(request)
    if state is None:
        if request.htmx:
            return None, HttpResponseClientRedirect(reverse("kiosk:start"))
        return None, redirect("kiosk:start")
    return state, None


# --- Screens ------------------------------------------------------------------------------------------


@require_GET
@kiosk_view
def start(request):
    """The attract screen. Coming back here forgets any basket left behind."""
    request.session.pop(SESSION_KEY, None)
    return render(request, "orders/kiosk/start.html", {})


@require_POST
@kiosk_view
def begin(request):
    form = KioskStartForm(request.POST)
    if not form.is_valid():
        return redirect("kiosk:start")
    _save(request, {"order_type": form.cleaned_data["order_type"], "basket": []})
    return redirect("kiosk:menu")


@require_POST
@kiosk_view
def reset(request):
    """Start over (the customer left): forget the basket and the language the last customer chose."""
    request.session.pop(SESSION_KEY, None)
    response = HttpResponseClientRedirect(reverse("kiosk:start")) if request.htmx else redirect("kiosk:start")
    response.delete_cookie(settings.LANGUAGE_COOKIE_NAME)
    return response


@require_GET
@kiosk_view
def menu(request):
    state, back = _require_state(request)
    if back:
        return back
    categories = [c for c in selectors.menu_categories(kiosk=True) if c.items.all()]
    for category in categories:
        for item in category.items.all():
            item.needs_picker = item.is_set_menu or bool(item.modifier_groups.all())
    return render(request, "orders/kiosk/menu.html", {
        "categories": categories, "state": state, "basket": _basket(state), "idle_seconds": IDLE_SECONDS,
    })


def _picker_context(request, item: Item, form: LineForm | None = None) -> dict:
    data = request.POST if request.method == "POST" else request.GET
    slots = []
    for slot in item.slots.all():
        choices = list(slot.choices.all())
        raw = data.get(f"slot_{slot.pk}", "")
        chosen = next((c for c in choices if str(c.pk) == raw), None)
        if chosen is None and len(choices) == 1:
            chosen = choices[0]  # nothing to choose
        prefix = f"slot_{slot.pk}_modifier"
        slots.append({"slot": slot, "chosen": chosen, "prefix": prefix,
                      "modifiers": [int(v) for v in posted_values(data, prefix) if v.isdigit()]})
    return {
        "item": item, "form": form, "slots": slots, "picker_url": reverse("kiosk:item", args=[item.pk]),
        "chosen_modifiers": [int(v) for v in posted_values(data, "modifier") if v.isdigit()],
        "quantity": data.get("quantity") or 1, "note": data.get("note", ""),
    }


def _picker(request, item: Item, form: LineForm | None = None, *, status: int = 200):
    response = render(request, "orders/kiosk/_picker.html", _picker_context(request, item, form), status=status)
    if status >= 400:
        retarget(response, "#modal")
        reswap(response, "innerHTML")
    return response


@require_GET
@kiosk_view
def item_picker(request, item_id: int):
    state, back = _require_state(request)
    if back:
        return back
    return _picker(request, selectors.item_with_menu(item_id))


@require_POST
@kiosk_view
def basket_add(request):
    state, back = _require_state(request)
    if back:
        return back
    try:
        item = selectors.item_with_menu(int(request.POST.get("item", "")))
    except ValueError:
        return _basket_response(request, state, status=422)
    form = LineForm(request.POST, item=item)
    if not form.is_valid():
        if request.POST.get("from_picker"):
            return _picker(request, item, form, status=422)
        # A one-tap item that cannot be added (sold out meanwhile): say so where the customer looks.
        return _picker(request, item, form, status=422)
    if len(state["basket"]) >= MAX_BASKET_LINES:
        form.add_error(None, _("The basket is full."))
        return _picker(request, item, form, status=422)
    state["basket"].append(form.spec().as_dict())
    _save(request, state)
    return _basket_response(request, state, close_modal=True)


@require_POST
@kiosk_view
def basket_quantity(request, index: int):
    """Set a line's quantity; 0 removes it. Names the target quantity, so a repeated tap is harmless."""
    state, back = _require_state(request)
    if back:
        return back
    form = QuantityForm(request.POST)
    if not form.is_valid() or not 0 <= index < len(state["basket"]):
        return _basket_response(request, state, status=422)
    quantity = form.cleaned_data["quantity"]
    if quantity == 0:
        del state["basket"][index]
    else:
        state["basket"][index]["quantity"] = quantity
    _save(request, state)
    return _basket_response(request, state)


def _place(request, state: dict, *, card: bool) -> dict:
    """Place the basket's order and, paid by card here, take the payment: both or neither."""
    order = ordering.place_order(
        device=request.device, order_type=state["order_type"], lines=[LineSpec.from_dict(e) for e in state["basket"]],
        source=Order.Source.KIOSK, send=True,
    )
    if card:
        payments.take_payment(order=order, method="card", amount=order.total, operator=None, device=request.device)
    return {"order": order.pk}


@require_http_methods(["GET", "POST"])
@kiosk_view
def confirm(request):
    """Review the basket, then place the order: paid here by card, or to pay at the counter."""
    state, back = _require_state(request)
    if back:
        return back
    key = idempotency.page_key(request)
    done = state.get("done")
    if request.method == "POST" and done and key and done["key"] == key:
        # A retry of a confirmation that already went through (its answer was lost).
        return _to_done(request, done["order"])
    context = {"state": state, "basket": _basket(state), "idle_seconds": IDLE_SECONDS}
    if request.method == "GET":
        return render(request, "orders/kiosk/confirm.html", context)
    payment = request.POST.get("payment")
    if payment not in ("counter", "card"):
        context["error"] = _("Choose how to pay.")
        return render(request, "orders/kiosk/confirm.html", context, status=422)
    if not state["basket"]:
        context["error"] = _("Your basket is empty.")
        return render(request, "orders/kiosk/confirm.html", context, status=422)
    body = {"order_type": state["order_type"], "basket": state["basket"], "payment": payment}
    try:
        placed = idempotency.replay_or_run(
            device=request.device, scope="kiosk-confirm", key=key, body=body, run=lambda: _place(request, state, card=payment == "card"),
        ).body
    except OrderError as error:
        context["error"] = error.message
        return render(request, "orders/kiosk/confirm.html", context, status=page_status(error.code))
    state["basket"] = []
    state["done"] = {"key": key, "order": placed["order"]}
    _save(request, state)
    return _to_done(request, placed["order"])


def _to_done(request, order_id: int):
    url = reverse("kiosk:done", args=[order_id])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@require_GET
@kiosk_view
def done(request, order_id: int):
    """The big number. Only for orders this kiosk placed (ids are not something to browse)."""
    order = get_object_or_404(Order, pk=order_id, device=request.device, source=Order.Source.KIOSK)
    return render(request, "orders/kiosk/done.html", {"order": order, "paid": order.status == Order.Status.PAID, "done_seconds": DONE_SECONDS})
