"""The demo kitchen on top of a demo-like menu."""

from decimal import Decimal

import pytest

from kds.demo import load_demo_kitchen
from kds.models import Screen, Station
from accounts.models import Device
from orders.models import Category, Item
from printing.models import Printer


@pytest.fixture
def bistro(db):
    names = {
        "Entrées": ["Salade de chèvre chaud", "Soupe à l'oignon"],
        "Plats": ["Entrecôte frites", "Frites", "Burger du chef", "Salade verte"],
        "Desserts": ["Café gourmand"],
        "Boissons": ["Café"],
        "Formules": [],
    }
    for position, (category_name, items) in enumerate(names.items()):
        category = Category.objects.create(name=category_name, position=position)
        for name in items:
            Item.objects.create(category=category, name=name, price=Decimal("5.00"))
    Item.objects.create(category=Category.objects.get(name="Formules"), name="Formule midi", price=Decimal("15"), is_set_menu=True)
    Device.objects.create(name="Grill screen", role=Device.Role.KDS, token_hash="a" * 64)


def routes() -> dict:
    return {
        s.slug: (sorted(c.name for c in s.categories.all()), sorted(i.name for i in s.items.all()))
        for s in Station.objects.all()
    }


def test_it_loads_stations_routing_printers_and_screens_idempotently(bistro):
    load_demo_kitchen()
    first = routes()
    load_demo_kitchen()
    assert routes() == first
    assert set(first) == {"grill", "fry", "cold", "pastry", "bar", "expo"}
    assert first["grill"] == (["Plats"], ["Entrecôte frites"])
    assert first["fry"] == ([], ["Entrecôte frites", "Frites"])
    assert first["cold"] == (["Entrées"], ["Salade de chèvre chaud", "Salade verte"])
    assert first["bar"][0] == ["Boissons"] and "Café gourmand" in first["bar"][1] and "Café gourmand" in first["pastry"][1]
    assert Station.objects.get(kind="expo").slug == "expo"
    assert Station.objects.get(is_default=True).slug == "grill"
    assert Printer.objects.count() == 5 and not Printer.objects.filter(enabled=True).exists()
    assert {s.slug: s.printer.name for s in Station.objects.filter(printer__isnull=False)} == {
        "grill": "Grill", "fry": "Friteuse", "cold": "Garde-manger", "pastry": "Pâtisserie", "bar": "Bar",
    }
    assert Printer.objects.get(name="Pâtisserie").backup == Printer.objects.get(name="Bar")
    assert Screen.objects.get(device__name="Grill screen").station.slug == "grill"
