"""A per-process cache of the menu's structure: each item's modifier groups (with their min..max rule)
and each set menu's slots with their choices. Line validation reads them on every tap on the till;
they change only when the menu is edited (the back office or the `demo` command, in this process:
the store server is one process).

What changes during service is never cached here: items and modifiers (prices, 86'ing, remaining
portions) are read from the database every time.

Invalidation: every save or delete of an item, modifier group or set-menu slot, and every change of
their many-to-many links, empties the cache (`forget`, connected in orders.apps). A generation counter
keeps a read that started before a change from storing what it read after the change.
"""

import threading
from collections.abc import Iterable
from dataclasses import dataclass

from orders.models import Item, SetMenuSlot


@dataclass(frozen=True)
class GroupRule:
    """A modifier group as validation sees it: choose between min_choices and max_choices of it."""

    pk: int
    name: str
    min_choices: int
    max_choices: int


@dataclass(frozen=True)
class Slot:
    """A set-menu slot ("Plat", "Boisson") and the items that may fill it."""

    pk: int
    name: str
    choices: frozenset[int]


_lock = threading.Lock()
_generation = 0
_groups: dict[int, tuple[GroupRule, ...]] = {}  # item id → its groups, in display order
_slots: dict[int, tuple[Slot, ...]] = {}  # set menu id → its slots, in display order


def forget(**_signal_kwargs) -> None:
    """Empty the cache (a signal receiver too: it takes and ignores the signal's arguments)."""
    global _generation
    with _lock:
        _generation += 1
        _groups.clear()
        _slots.clear()


def _cached(store: dict, ids: Iterable[int]) -> tuple[dict, list[int], int]:
    with _lock:
        found = {pk: store[pk] for pk in ids if pk in store}
        return found, [pk for pk in ids if pk not in found], _generation


def _keep(store: dict, rows: dict, generation: int) -> None:
    with _lock:
        if generation == _generation:  # no change since the read started
            store.update(rows)


def modifier_groups(item_ids: Iterable[int]) -> dict[int, tuple[GroupRule, ...]]:
    """The modifier groups of each item (an empty tuple for an item without any); one query for the
    items not cached yet."""
    found, missing, generation = _cached(_groups, sorted(set(item_ids)))
    if missing:
        loaded: dict[int, list[GroupRule]] = {pk: [] for pk in missing}
        rows = (
            Item.modifier_groups.through.objects.filter(item_id__in=missing)
            .order_by("modifiergroup__position", "modifiergroup__name", "modifiergroup_id")
            .values_list("item_id", "modifiergroup_id", "modifiergroup__name", "modifiergroup__min_choices", "modifiergroup__max_choices")
        )
        for item_id, *rule in rows:
            loaded[item_id].append(GroupRule(*rule))
        frozen = {pk: tuple(rules) for pk, rules in loaded.items()}
        _keep(_groups, frozen, generation)
        found.update(frozen)
    return found


def set_menu_slots(set_menu_ids: Iterable[int]) -> dict[int, tuple[Slot, ...]]:
    """The slots of each set menu with their choices; two queries for the set menus not cached yet."""
    found, missing, generation = _cached(_slots, sorted(set(set_menu_ids)))
    if missing:
        heads: dict[int, list[tuple[int, str]]] = {pk: [] for pk in missing}
        rows = SetMenuSlot.objects.filter(set_menu_id__in=missing).order_by("position", "id").values_list("set_menu_id", "id", "name")
        for set_menu_id, pk, name in rows:
            heads[set_menu_id].append((pk, name))
        choices: dict[int, set[int]] = {pk: set() for slots in heads.values() for pk, _name in slots}
        if choices:
            links = SetMenuSlot.choices.through.objects.filter(setmenuslot_id__in=sorted(choices)).values_list("setmenuslot_id", "item_id")
            for slot_id, item_id in links:
                choices[slot_id].add(item_id)
        loaded = {
            set_menu_id: tuple(Slot(pk, name, frozenset(choices[pk])) for pk, name in slots) for set_menu_id, slots in heads.items()
        }
        _keep(_slots, loaded, generation)
        found.update(loaded)
    return found
