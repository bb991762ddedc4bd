"""Kitchen fixtures: a small menu, the stations that cook it, and orders made without orders.actions
(the kitchen only needs saved orders and lines)."""

import asyncio
import itertools
from decimal import Decimal

import pytest
import pytest_asyncio
from django.utils import timezone

from core import events
from core.hub import hub_for_loop

from kds import frames
from kds.models import Station
from orders.models import Allergen, Category, Item, Modifier, ModifierGroup, Order, OrderLine, OrderLineModifier, Table

_numbers = itertools.count(1)


@pytest.fixture
def menu(db):
    """Plats (grill), Boissons (bar), steak-frites also at the fryer, a burger with gluten."""
    plats = Category.objects.create(name="Plats", position=1)
    boissons = Category.objects.create(name="Boissons", position=2)
    gluten = Allergen.objects.create(code="gluten", name="Gluten")
    cuisson = ModifierGroup.objects.create(name="Cuisson", min_choices=1, max_choices=1)
    saignant = Modifier.objects.create(group=cuisson, name="Saignant", kitchen_name="SAIG")
    steak = Item.objects.create(category=plats, name="Steak frites", kitchen_name="STEAK FRITES", price=Decimal("19.00"))
    burger = Item.objects.create(category=plats, name="Burger", price=Decimal("15.00"))
    burger.allergens.add(gluten)
    cola = Item.objects.create(category=boissons, name="Cola", price=Decimal("3.50"))
    formule = Item.objects.create(category=plats, name="Formule", price=Decimal("20.00"), is_set_menu=True)
    return {
        "plats": plats, "boissons": boissons, "steak": steak, "burger": burger, "cola": cola,
        "formule": formule, "saignant": saignant, "gluten": gluten,
    }


@pytest.fixture
def stations(menu):
    """grill (Plats), fry (steak frites too), bar (Boissons), expo."""
    grill = Station.objects.create(name="Grill", slug="grill", position=1)
    fry = Station.objects.create(name="Friteuse", slug="fry", position=2)
    bar = Station.objects.create(name="Bar", slug="bar", position=3)
    expo = Station.objects.create(name="Passe", slug="expo", kind=Station.Kind.EXPO, position=9)
    grill.categories.add(menu["plats"])
    bar.categories.add(menu["boissons"])
    grill.items.add(menu["steak"])
    fry.items.add(menu["steak"])
    return {"grill": grill, "fry": fry, "bar": bar, "expo": expo}


@pytest.fixture
def table4(db):
    return Table.objects.create(label="4")


def make_order(*, server=None, table=None, is_rush=False, source=Order.Source.TILL, order_type=Order.Type.EAT_IN,
               number=None, **kwargs):
    return Order.objects.create(
        number=number or next(_numbers), business_day=timezone.localdate(), server=server, table=table,
        is_rush=is_rush, source=source, order_type=order_type, **kwargs,
    )


def add_line(order, item, *, quantity=1, status=OrderLine.Status.SENT, course=1, note="", seat=None, modifiers=(), parent=None):
    line = OrderLine.objects.create(
        order=order, item=item, name=item.name, kitchen_name=item.kitchen_name or item.name, quantity=quantity,
        unit_price=item.price, vat_rate=item.vat_eat_in, status=status, course=course, note=note, seat=seat, parent=parent,
    )
    for modifier in modifiers:
        OrderLineModifier.objects.create(
            line=line, modifier=modifier, name=modifier.name, kitchen_name=modifier.kitchen_name, price_delta=Decimal("0")
        )
    return line


@pytest.fixture
def joined(monkeypatch) -> list[str]:
    """The groups joined on the channel layer from now on, in order."""
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    groups = []
    real_add = layer.group_add

    async def spy(group, channel):
        groups.append(group)
        await real_add(group, channel)

    monkeypatch.setattr(layer, "group_add", spy)
    return groups


@pytest.fixture
def published(monkeypatch):
    """Every (group, event) core.events published, in order: the Zulip-style capture of events."""
    sent = []
    monkeypatch.setattr("core.events.publish_now", lambda group, event: sent.append((group, event)))
    return sent


async def settled() -> None:
    """Before the layer is flushed under them: let the doorbells still on their way (the last order's
    other stations) be sent, and stop this loop's hub readers (a screen a failed test left open) and
    wait for them, those the last screen's leave cancelled included."""
    loop = asyncio.get_running_loop()
    await frames.passes_done()  # the frames the test's screens asked for are drawn
    await asyncio.gather(*(task for task in events._pending if task.get_loop() is loop), return_exceptions=True)
    for reader in hub_for_loop().readers.values():
        reader.cancel()
    readers = [task for task in asyncio.all_tasks() if task.get_coro().__qualname__ == "Hub._read"]
    await asyncio.gather(*readers, return_exceptions=True)


@pytest_asyncio.fixture
async def hubs_settled():
    """After a test that opened screens: its doorbells sent and its hub's readers stopped, even when a
    screen never said goodbye (a socket the server closed): a reader left waiting on a test's loop
    would keep channels-redis' receive bound to it for the next test."""
    yield
    await settled()
