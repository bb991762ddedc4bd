"""The floor plan (tables by area, coloured by state), its editing by a manager, opening a table, and
the list of orders (take-away, counter and kiosk orders have no table to tap)."""

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from orders import floor_plan, selectors
from orders.actions import floor as floor_actions
from orders.actions import ordering
from orders.errors import OrderError
from orders.forms import CoversForm, MoveTableForm, TableForm
from orders.models import Table
from orders.views.common import client_redirect, floor_manager_required, modal, page, refused, run, till_view, toast

COVERS_CHOICES = range(1, 13)


@require_GET
@till_view
def floor(request):
    return page(request, "orders/till/floor.html", {"areas": floor_plan.areas()})


@require_GET
@till_view
def orders_list(request):
    """Open orders, then the last closed."""
    context = {"open_orders": selectors.open_orders(), "recent": selectors.recently_closed_orders()}
    return page(request, "orders/till/orders.html", context)


def _floor_edit_page(request, *, form: TableForm | None = None, status: int = 200):
    return page(request, "orders/till/floor_edit.html", {"areas": floor_plan.areas(editing=True), "form": form or TableForm()}, status=status)


@require_GET
@till_view
@floor_manager_required
def floor_edit(request):
    return _floor_edit_page(request)


@require_POST
@till_view
@floor_manager_required
def table_add(request):
    form = TableForm(request.POST)
    if not form.is_valid():
        return _floor_edit_page(request, form=form, status=422)
    table = form.instance
    try:
        run(request, "till-table-add", {"label": table.label, "area": table.area, "seats": table.seats, "shape": table.shape},
            lambda: {"table": floor_actions.add_table(table=table).pk})
    except OrderError as error:
        return refused(request, error)
    return _floor_edit_page(request)


@require_POST
@till_view
@floor_manager_required
def table_move(request, table_id: int):
    table = get_object_or_404(Table, pk=table_id)
    form = MoveTableForm(request.POST)
    if not form.is_valid():
        return toast(request, _("Invalid move."), status=422)
    try:
        dx, dy = form.cleaned_data["dx"] or 0, form.cleaned_data["dy"] or 0
        run(request, "till-table-move", {"table": table.pk, "dx": dx, "dy": dy},
            lambda: {"table": floor_actions.move_table(table=table, dx=dx, dy=dy).pk})
    except OrderError as error:
        return refused(request, error)
    return _floor_edit_page(request)


@require_POST
@till_view
@floor_manager_required
def table_delete(request, table_id: int):
    table = get_object_or_404(Table, pk=table_id)
    try:
        run(request, "till-table-delete", {"table": table.pk}, lambda: floor_actions.delete_table(table=table))
    except OrderError as error:
        return refused(request, error)
    return _floor_edit_page(request)


@require_http_methods(["GET", "POST"])
@till_view
def open_table(request, table_id: int):
    """Tap a table: an occupied one opens its order; a free one asks for the covers, then opens it."""
    table = get_object_or_404(Table, pk=table_id)
    if request.method == "GET":
        existing = selectors.open_order_for_table(table)
        if existing is not None:
            return client_redirect(request, reverse("till:order", args=[existing.pk]))
        return modal(request, "orders/till/_open_table.html", {"table": table, "form": CoversForm(), "choices": COVERS_CHOICES})
    form = CoversForm(request.POST)
    if not form.is_valid():
        return modal(request, "orders/till/_open_table.html", {"table": table, "form": form, "choices": COVERS_CHOICES}, status=422)
    covers = form.cleaned_data["covers"]
    try:
        body = run(
            request, "till-open", {"table": table.pk, "covers": covers},
            lambda: {"order": ordering.open_table(device=request.device, server=request.user, table=table, covers=covers).pk},
        )
    except OrderError as error:
        return refused(request, error)
    return client_redirect(request, reverse("till:order", args=[body["order"]]))
