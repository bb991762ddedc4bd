"""A small bistro menu shared by the orders, till, kiosk and kitchen tests.

`menu` returns a namespace with everything by name:

    menu.steak        Entrecôte 24.00, 10 % / 10 %, "Cuisson" exactly one (bleu, saignant, à point),
                      "Suppléments" 0–3 at +1.50 (sauce au poivre, frites extra, œuf)
    menu.salad        Salade César 12.50 (gluten, egg, milk)
    menu.burger       Burger maison 16.00, "Cuisson" and "Suppléments"; a choice of the Formule midi
    menu.fries        Frites 4.50; a side of the Formule midi
    menu.dessert      Mousse au chocolat 8.00 (egg, milk)
    menu.wine         Verre de Bordeaux 6.00, 20 % eat-in and take-away (alcohol)
    menu.water        Eau minérale 50cl 3.00, 10 % eat-in / 5.5 % take-away (bottled: kept for later)
    menu.soda         Coca-Cola 33cl 3.50, 10 % / 5.5 %; a drink of the Formule midi
    menu.sandwich     Jambon-beurre 6.50, 10 % eat-in / 5.5 % take-away
    menu.formule      Formule midi 19.50, set menu: slots plat (burger | salad), accompagnement
                      (fries), boisson (soda | water | wine)
    menu.formule_main, menu.formule_side, menu.formule_drink     its slots
    menu.bleu, menu.saignant, menu.a_point                       Cuisson modifiers
    menu.poivre, menu.extra_fries, menu.egg                      Suppléments (+1.50 each)
    menu.cuisson, menu.supplements                               the groups
    menu.plats, menu.entrees, menu.desserts, menu.boissons, menu.formules   categories
    menu.tables       {"1": Table, ..., "6": Table}

`line(item, ...)` builds a LineSpec; `formule_line(...)` a Formule midi with its slots.
"""

from decimal import Decimal
from types import SimpleNamespace

import pytest

from orders.models import Allergen, Category, Item, Modifier, ModifierGroup, SetMenuSlot, Table

D = Decimal


@pytest.fixture
def menu(db) -> SimpleNamespace:
    m = SimpleNamespace()
    allergens = {code: Allergen.objects.create(code=code, name=name) for code, name in [
        ("gluten", "Gluten"), ("eggs", "Œufs"), ("milk", "Lait"), ("mustard", "Moutarde"), ("sulphites", "Sulfites"),
    ]}
    m.entrees = Category.objects.create(name="Entrées", position=1)
    m.plats = Category.objects.create(name="Plats", position=2)
    m.desserts = Category.objects.create(name="Desserts", position=3)
    m.boissons = Category.objects.create(name="Boissons", position=4)
    m.formules = Category.objects.create(name="Formules", position=5)

    m.cuisson = ModifierGroup.objects.create(name="Cuisson", min_choices=1, max_choices=1, position=1)
    m.bleu = Modifier.objects.create(group=m.cuisson, name="Bleu", kitchen_name="BLEU", position=1)
    m.saignant = Modifier.objects.create(group=m.cuisson, name="Saignant", kitchen_name="SAIGNANT", position=2)
    m.a_point = Modifier.objects.create(group=m.cuisson, name="À point", kitchen_name="A POINT", position=3)
    m.supplements = ModifierGroup.objects.create(name="Suppléments", min_choices=0, max_choices=3, position=2)
    m.poivre = Modifier.objects.create(group=m.supplements, name="Sauce au poivre", kitchen_name="+POIVRE", price_delta=D("1.50"), position=1)
    m.extra_fries = Modifier.objects.create(group=m.supplements, name="Frites en plus", kitchen_name="+FRITES", price_delta=D("1.50"), position=2)
    m.egg = Modifier.objects.create(group=m.supplements, name="Œuf", kitchen_name="+OEUF", price_delta=D("1.50"), position=3)

    def item(name, category, price, kitchen_name="", eat_in="10.00", take_away="10.00", allergen_codes=(), groups=(), **extra):
        created = Item.objects.create(
            name=name, kitchen_name=kitchen_name, category=category, price=D(price),
            vat_eat_in=D(eat_in), vat_take_away=D(take_away), **extra,
        )
        created.allergens.set([allergens[c] for c in allergen_codes])
        created.modifier_groups.set(groups)
        return created

    m.salad = item("Salade César", m.entrees, "12.50", "CESAR", allergen_codes=("gluten", "eggs", "milk"), position=1)
    m.steak = item("Entrecôte", m.plats, "24.00", "ENTRECOTE", groups=(m.cuisson, m.supplements), position=1)
    m.burger = item("Burger maison", m.plats, "16.00", "BURGER", allergen_codes=("gluten", "mustard"), groups=(m.cuisson, m.supplements), position=2)
    m.fries = item("Frites", m.plats, "4.50", "FRITES", position=3)
    m.sandwich = item("Jambon-beurre", m.plats, "6.50", "JB", take_away="5.50", allergen_codes=("gluten", "milk"), position=4)
    m.dessert = item("Mousse au chocolat", m.desserts, "8.00", "MOUSSE", allergen_codes=("eggs", "milk"), position=1)
    m.wine = item("Verre de Bordeaux", m.boissons, "6.00", "BORDEAUX", eat_in="20.00", take_away="20.00", allergen_codes=("sulphites",), position=1)
    m.water = item("Eau minérale 50cl", m.boissons, "3.00", "EAU", take_away="5.50", position=2)
    m.soda = item("Coca-Cola 33cl", m.boissons, "3.50", "COCA", take_away="5.50", position=3)

    m.formule = item("Formule midi", m.formules, "19.50", "FORMULE", is_set_menu=True, position=1)
    m.formule_main = SetMenuSlot.objects.create(set_menu=m.formule, name="Plat", position=1)
    m.formule_main.choices.set([m.burger, m.salad])
    m.formule_side = SetMenuSlot.objects.create(set_menu=m.formule, name="Accompagnement", position=2)
    m.formule_side.choices.set([m.fries])
    m.formule_drink = SetMenuSlot.objects.create(set_menu=m.formule, name="Boisson", position=3)
    m.formule_drink.choices.set([m.soda, m.water, m.wine])

    m.tables = {
        str(n): Table.objects.create(label=str(n), area="Salle", seats=2 if n % 3 else 4, x=(n - 1) % 3, y=(n - 1) // 3)
        for n in range(1, 7)
    }
    return m


def line(item, quantity=1, modifiers=(), **extra):
    """A LineSpec for `item` (an Item) with modifiers given as Modifier objects."""
    from orders.lines import LineSpec

    return LineSpec(item=item.pk, quantity=quantity, modifiers=tuple(m.pk for m in modifiers), **extra)


def formule_line(menu, *, main=None, main_modifiers=None, drink=None, quantity=1, **extra):
    """A Formule midi: burger à point + fries + soda unless told otherwise."""
    from orders.lines import LineSpec, SlotChoice

    main = main or menu.burger
    if main_modifiers is None:
        main_modifiers = (menu.a_point,) if main == menu.burger else ()
    return LineSpec(
        item=menu.formule.pk,
        quantity=quantity,
        slots=(
            SlotChoice(slot=menu.formule_main.pk, item=main.pk, modifiers=tuple(m.pk for m in main_modifiers)),
            SlotChoice(slot=menu.formule_side.pk, item=menu.fries.pk),
            SlotChoice(slot=menu.formule_drink.pk, item=(drink or menu.soda).pk),
        ),
        **extra,
    )


@pytest.fixture
def place(menu, till, alice):
    """Place an order on the till as Alice: place(lines=[...], **overrides) -> Order."""
    from orders.actions import ordering

    def _place(lines, **overrides):
        kwargs = {"device": till, "server": alice, "order_type": "eat_in", "source": "till", "lines": lines}
        kwargs.update(overrides)
        return ordering.place_order(**kwargs)

    return _place


@pytest.fixture
def place_keyed(place, till):
    """Place an order as the edge does for a keyed POST (orders.idempotency.replay_or_run):
    place_keyed(lines, key=..., **overrides) -> Order, with `.replayed`."""
    from orders import idempotency
    from orders.models import Order

    def _place(lines, *, key, **overrides):
        device = overrides.get("device", till)
        body = {"lines": [spec.canonical() for spec in lines], **{k: getattr(v, "pk", v) for k, v in overrides.items()}}
        answer = idempotency.replay_or_run(
            device=device, scope="orders", key=key, body=body, run=lambda: {"order": place(lines, **overrides).pk}, status=201,
        )
        order = Order.objects.get(pk=answer.body["order"])
        order.replayed = answer.replayed
        return order

    return _place
