"""The floor plan's doorbell: "something a table shows has changed".

Every action that changes what the floor plan draws (a table opened, a pre-bill printed, an order
settled, closed or cancelled, a transfer or merge, a table added, moved or removed) calls
`floor_changed()` inside its transaction. After commit, the tills listening on /ws/till/floor/
(orders.consumers.FloorConsumer) redraw the plan from the database: the event says nothing more than
"look again", so it needs no replay and a lost one is caught up by the next. A rolled-back change
rings nobody (core.events.publish_on_commit).

Each doorbell carries a rising number ("seq") so that, when several commits reach the server's loop
together, core.events sends the last one only; the tills coalesce what still arrives in a burst.
"""

import itertools

from core.events import publish_on_commit
from orders.models import Order

GROUP = "floor"
EVENT_TYPE = "floor.changed"

_rings = itertools.count(1)


def floor_changed() -> None:
    """Ring the floor plan's group once the current transaction commits (at once outside one)."""
    publish_on_commit(GROUP, {"type": EVENT_TYPE, "seq": next(_rings)})


def tables_changed(*orders: Order) -> None:
    """Ring the floor plan if any of `orders` sits at a table (a take-away or kiosk order shows on no
    table: the tills are not disturbed for it)."""
    if any(order.table_id is not None for order in orders):
        floor_changed()
