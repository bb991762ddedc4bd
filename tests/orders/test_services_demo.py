"""`manage.py demo`: an idempotent demo bistro and the links to pair its devices."""

import re
from io import StringIO

from django.core.management import call_command

from orders.actions import ordering
from accounts.access import device_from_token
from accounts.models import Device, User
from orders.models import Allergen, Item, ModifierGroup, Table
from orders.lines import LineSpec, SlotChoice


def run_demo(**options) -> str:
    out = StringIO()
    call_command("demo", stdout=out, **options)
    return out.getvalue()


def test_it_loads_a_bistro_and_prints_pairing_links(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    output = run_demo(host="bistro.local", port=8123)
    assert Allergen.objects.count() == 14
    assert Item.objects.count() >= 20 and Table.objects.count() == 12
    assert ModifierGroup.objects.get(name="Cuisson").min_choices == 1
    assert User.objects.get(username="marie").is_manager
    links = dict(re.findall(r"^  (.+?) \(\w+\): http://bistro\.local:8123/pair/\?token=(\S+)$", output, re.M))
    assert set(links) == {"Till 1", "Kiosk 1", "Grill screen", "Cold screen", "Expo screen", "Delivery partner"}
    assert device_from_token(links["Till 1"]).role == Device.Role.TILL
    assert (tmp_path / "demo_tokens.json").stat().st_mode & 0o077 == 0


def test_it_is_idempotent_and_keeps_the_same_tokens(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    first = run_demo()
    counts = (Item.objects.count(), Table.objects.count(), Device.objects.count(), User.objects.count())
    second = run_demo()
    assert counts == (Item.objects.count(), Table.objects.count(), Device.objects.count(), User.objects.count())
    assert first == second


def test_it_serves_a_menu_the_services_can_order_from(db, settings, tmp_path):
    settings.DATA_DIR = tmp_path
    run_demo()
    till = Device.objects.get(name="Till 1")
    formule = Item.objects.get(name="Formule midi")
    slots = [SlotChoice(slot=s.pk, item=s.choices.order_by("pk").first().pk) for s in formule.slots.all()]
    burger_slot = next(c for c in slots if Item.objects.get(pk=c.item).name == "Burger du chef")
    cuisson = ModifierGroup.objects.get(name="Cuisson").modifiers.get(name="À point")
    slots[slots.index(burger_slot)] = SlotChoice(slot=burger_slot.slot, item=burger_slot.item, modifiers=(cuisson.pk,))
    order = ordering.place_order(
        device=till, order_type="take_away", source="till", lines=[LineSpec(item=formule.pk, slots=tuple(slots))]
    )
    assert str(order.total) == "19.50"
