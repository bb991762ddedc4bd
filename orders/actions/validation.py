"""Lines checked against the menu and priced on the server: every item, modifier and set-menu choice
a line names must exist, be available and fit its modifier groups and slots. The first culprit is
named by its path in the request ("lines[2].modifiers[0]"). Read-only: the menu rows a batch of lines
mentions, in at most five queries."""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils.translation import gettext as _

from orders import menu_cache, sql
from orders.actions.base import check_int, check_text, is_id, is_int
from orders.errors import OrderError
from orders.lines import MAX_COURSE, MAX_COVERS, MAX_LINES, MAX_QUANTITY, NOTE_MAX_LENGTH, LineSpec
from orders.models import Item, Modifier, Order


@dataclass
class Resolved:
    """A validated line: the item, its modifiers, its components (set menus) and its price."""

    spec: LineSpec
    item: Item
    modifiers: list[Modifier]
    unit_price: Decimal
    vat_rate: Decimal
    components: list["Resolved"] = field(default_factory=list)


def _vat_rate(item: Item, order_type: str) -> Decimal:
    return item.vat_take_away if order_type == Order.Type.TAKE_AWAY else item.vat_eat_in


@dataclass
class _Menu:
    """The part of the menu some line specs mention: items and modifiers by id (read now: availability
    and stock change during service), each item's modifier groups and each set menu's slots (display
    order; from orders.menu_cache)."""

    items: dict[int, Item]
    modifiers: dict[int, Modifier]
    groups: dict[int, tuple[menu_cache.GroupRule, ...]]
    slots: dict[int, tuple[menu_cache.Slot, ...]]


def _load_menu(specs: Sequence[LineSpec]) -> _Menu:
    """Every item and modifier the specs mention (set-menu choices included), with the items' modifier
    groups and set-menu slots: one query for plain items, one more with modifiers, and those of the
    menu cache for what it does not hold yet."""
    item_ids, modifier_ids = set(), set()
    for spec in specs:
        item_ids.add(spec.item)
        modifier_ids.update(spec.modifiers)
        for choice in spec.slots:
            item_ids.add(choice.item)
            modifier_ids.update(choice.modifiers)
    items = sql.items_by_id(sorted(i for i in item_ids if is_id(i)))
    modifiers = sql.modifiers_by_id(sorted(m for m in modifier_ids if is_id(m)))
    groups = menu_cache.modifier_groups(items)
    slots = menu_cache.set_menu_slots(pk for pk, item in items.items() if item.is_set_menu)
    return _Menu(items, modifiers, groups, slots)


def _check_modifiers(item: Item, ids: Sequence[int], menu: _Menu, path: str) -> list[Modifier]:
    if not isinstance(ids, (list, tuple)) or len(ids) > 50:
        raise OrderError("invalid_modifiers", _("Modifiers must be a list of ids."), field=path)
    groups = {g.pk: g for g in menu.groups.get(item.pk, ())}
    chosen, per_group = [], Counter()
    for index, modifier_id in enumerate(ids):
        modifier = menu.modifiers.get(modifier_id) if is_int(modifier_id) else None
        if modifier is None:
            raise OrderError("unknown_modifier", _("Unknown modifier."), field=f"{path}[{index}]")
        if modifier.group_id not in groups:
            raise OrderError(
                "modifier_not_allowed",
                _("“%(modifier)s” cannot be chosen for “%(item)s”.") % {"modifier": modifier.name, "item": item.name},
                field=f"{path}[{index}]",
            )
        if not modifier.available:
            raise OrderError(
                "modifier_unavailable", _("“%(modifier)s” is not available.") % {"modifier": modifier.name}, field=f"{path}[{index}]"
            )
        per_group[modifier.group_id] += 1
        chosen.append(modifier)
    for group in groups.values():
        count = per_group[group.pk]
        if not group.min_choices <= count <= group.max_choices:
            if group.min_choices == group.max_choices:
                message = _("“%(group)s”: choose exactly %(n)d.") % {"group": group.name, "n": group.min_choices}
            else:
                message = _("“%(group)s”: choose between %(min)d and %(max)d.") % {
                    "group": group.name, "min": group.min_choices, "max": group.max_choices,
                }
            raise OrderError("modifier_count", message, field=path)
    return chosen


def _check_item(item: Item | None, path: str) -> Item:
    if item is None:
        raise OrderError("unknown_item", _("Unknown item."), field=path)
    if not item.available:
        raise OrderError("item_unavailable", _("“%(item)s” is not available.") % {"item": item.name}, field=path)
    if item.remaining == 0:
        raise OrderError("sold_out", _("“%(item)s” is sold out.") % {"item": item.name}, field=path)
    return item


def resolve_lines(specs: Sequence[LineSpec], *, order_type: str, allow_empty: bool = False) -> list[Resolved]:
    """Validate line specs against the menu and price them. Raises OrderError naming the first culprit."""
    if not isinstance(specs, (list, tuple)) or (not specs and not allow_empty):
        raise OrderError("no_lines", _("An order needs at least one line."), field="lines")
    if len(specs) > MAX_LINES:
        raise OrderError("too_many_lines", _("Too many lines (at most %(n)d).") % {"n": MAX_LINES}, field="lines")
    menu = _load_menu(specs)
    resolved = []
    for index, spec in enumerate(specs):
        path = f"lines[{index}]"
        if not isinstance(spec, LineSpec):
            raise OrderError("invalid_line", _("Invalid line."), field=path)
        item = _check_item(menu.items.get(spec.item) if is_int(spec.item) else None, f"{path}.item")
        check_int(
            spec.quantity, low=1, high=MAX_QUANTITY, code="invalid_quantity",
            message=_("Quantity must be between 1 and %(max)d.") % {"max": MAX_QUANTITY}, path=f"{path}.quantity",
        )
        check_text(spec.note, max_length=NOTE_MAX_LENGTH, path=f"{path}.note")
        if spec.seat is not None:
            check_int(spec.seat, low=1, high=MAX_COVERS, code="invalid_seat", message=_("Invalid seat."), path=f"{path}.seat")
        check_int(spec.course, low=1, high=MAX_COURSE, code="invalid_course", message=_("Invalid course."), path=f"{path}.course")
        chosen = _check_modifiers(item, spec.modifiers, menu, f"{path}.modifiers")
        unit_price = item.price + sum((m.price_delta for m in chosen), Decimal("0.00"))
        line = Resolved(spec, item, chosen, unit_price, _vat_rate(item, order_type))
        if item.is_set_menu:
            line.components = resolve_slots(item, spec.slots, menu, order_type, path)
            line.unit_price += sum((sum((m.price_delta for m in c.modifiers), Decimal("0.00")) for c in line.components), Decimal("0.00"))
        elif spec.slots:
            raise OrderError("slots_not_allowed", _("Only set menus have choices."), field=f"{path}.slots")
        if line.unit_price < 0:
            raise OrderError("invalid_price", _("This combination has a negative price."), field=path)
        resolved.append(line)
    return resolved


def resolve_slots(set_menu: Item, choices, menu: _Menu, order_type: str, path: str) -> list[Resolved]:
    """Every slot of the set menu filled exactly once with one of its choices."""
    if not isinstance(choices, (list, tuple)):
        raise OrderError("invalid_slots", _("Invalid set menu choices."), field=f"{path}.slots")
    slots = menu.slots.get(set_menu.pk, [])
    by_slot = {}
    for index, choice in enumerate(choices):
        slot = next((s for s in slots if is_int(choice.slot) and s.pk == choice.slot), None)
        if slot is None or slot.pk in by_slot:
            raise OrderError("invalid_slot", _("Invalid set menu choice."), field=f"{path}.slots[{index}]")
        by_slot[slot.pk] = (index, choice)
    components = []
    for slot in slots:
        if slot.pk not in by_slot:
            raise OrderError(
                "slot_missing", _("Choose the “%(slot)s” of “%(item)s”.") % {"slot": slot.name, "item": set_menu.name},
                field=f"{path}.slots",
            )
        index, choice = by_slot[slot.pk]
        cpath = f"{path}.slots[{index}]"
        if not is_int(choice.item) or choice.item not in slot.choices:
            raise OrderError(
                "invalid_slot_choice", _("This is not a choice of “%(slot)s”.") % {"slot": slot.name}, field=f"{cpath}.item"
            )
        item = _check_item(menu.items.get(choice.item), f"{cpath}.item")
        chosen = _check_modifiers(item, choice.modifiers, menu, f"{cpath}.modifiers")
        standalone = item.price + sum((m.price_delta for m in chosen), Decimal("0.00"))
        components.append(Resolved(LineSpec(item=item.pk), item, chosen, standalone, _vat_rate(item, order_type)))
    return components
