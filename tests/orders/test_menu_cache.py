"""orders.menu_cache: the menu's structure read once per process, emptied by every edit of it."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from orders import menu_cache
from orders.models import ModifierGroup, SetMenuSlot


def test_it_reads_an_items_modifier_groups_once(menu):
    with CaptureQueriesContext(connection) as first:
        groups = menu_cache.modifier_groups([menu.steak.pk, menu.dessert.pk])
    assert len(first) == 1
    assert [g.name for g in groups[menu.steak.pk]] == [g.name for g in menu.steak.modifier_groups.order_by("position", "name", "id")]
    assert groups[menu.dessert.pk] == ()  # no groups: cached as such
    with CaptureQueriesContext(connection) as again:
        assert menu_cache.modifier_groups([menu.steak.pk, menu.dessert.pk]) == groups
    assert len(again) == 0


def test_it_forgets_the_groups_when_the_menu_changes(menu):
    menu_cache.modifier_groups([menu.dessert.pk])
    extra = ModifierGroup.objects.create(name="Coulis", min_choices=1, max_choices=1)
    menu.dessert.modifier_groups.add(extra)  # a change of the links empties the cache
    assert [(g.name, g.min_choices) for g in menu_cache.modifier_groups([menu.dessert.pk])[menu.dessert.pk]] == [("Coulis", 1)]
    extra.min_choices = 0
    extra.save()
    assert menu_cache.modifier_groups([menu.dessert.pk])[menu.dessert.pk][0].min_choices == 0


def test_it_reads_set_menu_slots_with_their_choices_once(menu):
    with CaptureQueriesContext(connection) as first:
        slots = menu_cache.set_menu_slots([menu.formule.pk])[menu.formule.pk]
    assert len(first) == 2
    assert [s.pk for s in slots] == list(SetMenuSlot.objects.filter(set_menu=menu.formule).order_by("position", "id").values_list("pk", flat=True))
    assert menu.burger.pk in slots[0].choices
    with CaptureQueriesContext(connection) as again:
        menu_cache.set_menu_slots([menu.formule.pk])
    assert len(again) == 0
    slot = SetMenuSlot.objects.get(pk=slots[0].pk)
    slot.choices.remove(menu.burger)
    assert menu.burger.pk not in menu_cache.set_menu_slots([menu.formule.pk])[menu.formule.pk][0].choices


def test_a_read_that_started_before_a_change_does_not_store_what_it_read(menu, monkeypatch):
    real_keep = menu_cache._keep

    def change_meanwhile(store, rows, generation):
        menu_cache.forget()  # the menu was edited while the rows were being read
        real_keep(store, rows, generation)

    monkeypatch.setattr(menu_cache, "_keep", change_meanwhile)
    menu_cache.modifier_groups([menu.steak.pk])
    monkeypatch.undo()
    with CaptureQueriesContext(connection) as again:
        menu_cache.modifier_groups([menu.steak.pk])
    assert len(again) == 1  # nothing was kept
