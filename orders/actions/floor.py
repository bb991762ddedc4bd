"""The floor plan: tables added on the first free cell of their area, moved a cell at a time, removed
when they have no open order and no history. Each change rings the tills' floor plans after commit
(orders.floor_events)."""

from django.db import transaction
from django.db.models import ProtectedError
from django.utils.translation import gettext as _

from orders import selectors
from orders.errors import OrderError
from orders.floor_events import floor_changed
from orders.models import Table

ROW_WIDTH = 8  # cells of an area's row before a new table goes to the next row


@transaction.atomic
def add_table(*, table: Table) -> Table:
    """Save a new table (its label, area and seats set) on the first free cell of its area's top row,
    then the next rows."""
    taken = set(Table.objects.filter(area=table.area).values_list("x", "y"))
    x = y = 0
    while (x, y) in taken:
        x += 1
        if x >= ROW_WIDTH:
            x, y = 0, y + 1
    table.x, table.y = x, y
    table.save()
    floor_changed()
    return table


@transaction.atomic
def move_table(*, table: Table, dx: int, dy: int) -> Table:
    """Move a table by (dx, dy) cells (never left of or above its area's first cell). Locks the table's
    row; OrderError "cell_taken" when another table of the area is there."""
    table = Table.objects.select_for_update().get(pk=table.pk)
    x, y = max(0, table.x + dx), max(0, table.y + dy)
    if Table.objects.filter(area=table.area, x=x, y=y).exclude(pk=table.pk).exists():
        raise OrderError("cell_taken", _("Another table is already there."))
    Table.objects.filter(pk=table.pk).update(x=x, y=y)
    table.x, table.y = x, y
    floor_changed()
    return table


@transaction.atomic
def delete_table(*, table: Table) -> None:
    """Remove a table. Refused while it has an open order, and for good once it has past orders (they
    are fiscal history and keep pointing at it)."""
    if selectors.open_order_for_table(table) is not None:
        raise OrderError("table_has_open_order", _("Table %(table)s has an open order.") % {"table": table.label})
    try:
        with transaction.atomic():
            table.delete()
            floor_changed()
    except ProtectedError:
        raise OrderError(
            "table_has_history",
            _("Table %(table)s has past orders: it stays in the history and cannot be removed.") % {"table": table.label},
        ) from None
