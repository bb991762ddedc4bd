"""The demo kitchen: stations, routing, printers, for `manage.py demo` (after the demo menu).

Printers: one per preparation station at 127.0.0.1 on a port nothing listens to, created *disabled*
so that a fresh demo does not greet every screen with "printer down"; enable one in the admin
(Printing › Printers) to see the retries, the alert banner and the backup printer at work.
Screens: the demo's kitchen devices ("Grill screen", "Cold screen", "Expo screen") are bound to
their station; any other kitchen screen picks one at /kitchen/ ("Always open this one").
"""

from django.db import transaction

from kds.models import KitchenSetup, Screen, Station
from accounts.models import Device
from orders.models import Category, Item
from printing.models import Printer

STATIONS = [
    # slug, name, kind, amber, red, position
    ("grill", "Grill", Station.Kind.PREP, 8, 12, 10),
    ("fry", "Friteuse", Station.Kind.PREP, 5, 8, 20),
    ("cold", "Garde-manger", Station.Kind.PREP, 5, 8, 30),
    ("pastry", "Pâtisserie", Station.Kind.PREP, 6, 10, 40),
    ("bar", "Bar", Station.Kind.PREP, 3, 5, 50),
    ("expo", "Passe", Station.Kind.EXPO, 10, 15, 90),
]

# Category (by name, case-insensitive) → stations. "Formules" is not routed: a set menu's components
# go where their own items go.
CATEGORY_ROUTES = {"entrées": ["cold"], "plats": ["grill"], "desserts": ["pastry"], "boissons": ["bar"]}

# Item overrides, by words in the item's name: dishes with fries need the fryer (and the grill for the
# meat), salads are made cold even among the mains, the café gourmand needs the bar's coffee too.
ITEM_ROUTES = [
    ("frites", ["fry"]),
    ("fish", ["fry"]),
    ("salade", ["cold"]),
    ("café gourmand", ["pastry", "bar"]),
]

SCREENS = {"Grill screen": "grill", "Cold screen": "cold", "Expo screen": "expo"}

PRINTER_BASE_PORT = 19100


@transaction.atomic
def load_demo_kitchen() -> None:
    """Idempotent: running it twice leaves the same kitchen."""
    stations = {}
    for slug, name, kind, amber, red, position in STATIONS:
        station, _created = Station.objects.update_or_create(
            slug=slug,
            defaults={"name": name, "kind": kind, "amber_after": amber, "red_after": red, "position": position},
        )
        stations[slug] = station
    Station.objects.filter(is_default=True).exclude(slug="grill").update(is_default=False)
    Station.objects.filter(slug="grill").update(is_default=True)
    KitchenSetup.bump()  # update() sends no signal: say the setup changed (kds.setup)

    # Routing is recomputed as a whole, so a second run gives the same routes as the first.
    categories = {c.name.lower(): c for c in Category.objects.all()}
    station_categories = {slug: [] for slug in stations}
    for category_name, slugs in CATEGORY_ROUTES.items():
        if category_name in categories:
            for slug in slugs:
                station_categories[slug].append(categories[category_name])
    station_items = {slug: [] for slug in stations}
    for item in Item.objects.filter(is_set_menu=False).select_related("category"):
        name = item.name.lower()
        own = {slug for words, slugs in ITEM_ROUTES if words in name for slug in slugs}
        if "frites" in name and name != "frites" and item.category.name.lower() == "plats":
            own.update(CATEGORY_ROUTES["plats"])  # entrecôte-frites: the grill and the fryer
        for slug in own:
            station_items[slug].append(item)
    for slug, station in stations.items():
        station.categories.set(station_categories[slug])
        station.items.set(station_items[slug])

    printers = {}
    for offset, (slug, name, kind, *_rest) in enumerate(STATIONS):
        if kind != Station.Kind.PREP:
            continue
        printers[slug], _created = Printer.objects.get_or_create(
            name=name, defaults={"host": "127.0.0.1", "port": PRINTER_BASE_PORT + offset, "enabled": False},
        )
        if stations[slug].printer_id is None:
            stations[slug].printer = printers[slug]
            stations[slug].save(update_fields=["printer"])
    for device in Device.objects.filter(name__in=SCREENS, role=Device.Role.KDS):
        Screen.objects.get_or_create(device=device, defaults={"station": stations[SCREENS[device.name]]})

    pastry, bar = printers.get("pastry"), printers.get("bar")
    if pastry is not None and bar is not None and pastry.backup_id is None:
        pastry.backup = bar
        pastry.save(update_fields=["backup"])
