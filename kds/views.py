"""Kitchen screen pages. Thin: selectors read, services write; live updates come over the WebSocket
(kds/consumers.py), which renders the same partials. The POST views are the no-JavaScript path for
the buttons on a card (with JavaScript, the same forms go over the socket)."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import trigger_client_event

from kds import selectors, services
from kds.models import READY_BOARD_SLUG, Screen, Station
from accounts.access import device_required
from accounts.models import Device

kds_device = device_required(Device.Role.KDS)


@require_GET
@kds_device
def index(request):
    """A bound screen goes straight to its station; otherwise (or with ?choose) pick one."""
    screen = Screen.objects.filter(device=request.device).select_related("station").first()
    if screen is not None and "choose" not in request.GET:
        if screen.ready_board:
            return redirect("kds:ready")
        if screen.station is not None:
            return redirect("kds:station", screen.station.slug)
    stations = list(Station.objects.all())
    return render(
        request,
        "kds/index.html",
        {"stations": stations, "screen": screen, "has_expo": any(s.is_expo for s in stations)},
    )


@require_POST
@kds_device
def bind(request):
    slug = request.POST.get("station", "")
    if slug == READY_BOARD_SLUG:
        services.bind_screen(device=request.device, station=None, ready_board=True)
        return redirect("kds:ready")
    station = get_object_or_404(Station, slug=slug) if slug else None
    services.bind_screen(device=request.device, station=station)
    if station is None:
        return redirect(reverse("kds:index") + "?choose=1")
    return redirect("kds:station", station.slug)


@require_GET
@kds_device
def station(request, slug):
    station = get_object_or_404(Station, slug=slug)
    # The number first, then the tickets: a change committed in between is replayed by the socket.
    seq = selectors.last_seq(station)
    context = {
        "station": station,
        "seq": seq,
        "now": timezone.now(),
        "tickets": selectors.open_tickets(station),
        "alerts": selectors.printer_alerts(),
        **selectors.side_panel(station),
    }
    return render(request, "kds/station.html", context)


@require_GET
@kds_device
def ready_board(request):
    expo = selectors.expo_station()
    seq = selectors.last_seq(expo) if expo else 0
    preparing, ready = selectors.ready_board(expo)
    context = {"seq": seq, "now": timezone.now(), "preparing": preparing, "ready": ready}
    return render(request, "kds/ready.html", context)


def _done(request, slug, error: services.KitchenError | None = None):
    if request.htmx:
        response = HttpResponse(status=409 if error else 204)
        if error:
            trigger_client_event(response, "kds:error", {"error": error.code, "detail": error.detail})
        return response
    if error:
        messages.error(request, error.detail)
    return redirect("kds:station", slug)


@require_POST
@kds_device
def ticket_status(request, slug, ticket_id):
    station = get_object_or_404(Station, slug=slug)
    to = "new" if request.POST.get("action") == "recall" else request.POST.get("to", "")
    try:
        services.set_ticket_status(station=station, ticket_id=ticket_id, to=to)
    except services.KitchenError as exc:
        return _done(request, slug, exc)
    return _done(request, slug)


@require_POST
@kds_device
def item_status(request, slug, item_id):
    station = get_object_or_404(Station, slug=slug)
    to = request.POST.get("to", "")
    try:
        if to not in ("done", "new"):
            raise services.KitchenError("invalid", _("An item goes to “done” or “new”."))
        services.set_item_done(station=station, item_id=item_id, done=to == "done")
    except services.KitchenError as exc:
        return _done(request, slug, exc)
    return _done(request, slug)


@require_POST
@kds_device
def recall_last(request, slug):
    station = get_object_or_404(Station, slug=slug)
    try:
        services.recall_last(station=station)
    except services.KitchenError as exc:
        return _done(request, slug, exc)
    return _done(request, slug)
