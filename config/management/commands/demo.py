"""`manage.py demo [--host H] [--port P]`: load a demo French bistro, idempotently, and print how to log in.

Menu (categories, ~25 items with kitchen names, VAT rates and the 14 EU allergens, modifier groups, a
Formule midi set menu), 12 tables on a floor-plan grid, staff with PINs, devices, then the demo
kitchen (`kds.demo.load_demo_kitchen`). Running it again updates the same rows and creates nothing twice.

Device tokens are stored hashed, so they cannot be shown again; the demo keeps its devices' tokens in
the data dir (`var/demo_tokens.json`, owner-only, git-ignored) so every run prints the same pairing
links. A token that no longer matches (re-issued in the admin) is re-issued and the file updated.
These are demo credentials: never run this command on a real restaurant's data dir.
"""

import json
import os
from decimal import Decimal

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from kds.demo import load_demo_kitchen
from accounts import pairing, pins
from accounts.models import Device, User, hash_token
from orders.models import Allergen, Category, Item, Modifier, ModifierGroup, SetMenuSlot, Table

D = Decimal

# The 14 allergens EU regulation 1169/2011 requires restaurants to declare.
ALLERGENS = [
    ("gluten", "Gluten"), ("crustaceans", "Crustacés"), ("eggs", "Œufs"), ("fish", "Poissons"),
    ("peanuts", "Arachides"), ("soybeans", "Soja"), ("milk", "Lait"), ("nuts", "Fruits à coque"),
    ("celery", "Céleri"), ("mustard", "Moutarde"), ("sesame", "Sésame"), ("sulphites", "Sulfites"),
    ("lupin", "Lupin"), ("molluscs", "Mollusques"),
]

CATEGORIES = [("Entrées", "#6d4c41"), ("Plats", "#c62828"), ("Desserts", "#ad1457"), ("Boissons", "#1565c0"), ("Formules", "#2e7d32")]

GROUPS = {
    # name: (min, max, [(modifier, kitchen name, price delta)])
    "Cuisson": (1, 1, [("Bleu", "BLEU", "0"), ("Saignant", "SAIGNANT", "0"), ("À point", "A POINT", "0"), ("Bien cuit", "BIEN CUIT", "0")]),
    "Suppléments": (0, 3, [("Œuf", "+OEUF", "1.50"), ("Bacon", "+BACON", "1.50"), ("Cheddar", "+CHEDDAR", "1.50"), ("Frites en plus", "+FRITES", "1.50")]),
    "Sauces": (0, 2, [("Sauce au poivre", "POIVRE", "1.50"), ("Béarnaise", "BEARNAISE", "1.50"), ("Roquefort", "ROQUEFORT", "1.50")]),
}

# VAT: 10 % for food and soft drinks served in the restaurant and for take-away food meant to be eaten
# at once; 5.5 % for take-away products that keep (bottled water and sodas, a sandwich to eat later);
# 20 % for alcohol, always.
# (category, name, kitchen name, price, eat-in %, take-away %, allergens, modifier groups)
ITEMS = [
    ("Entrées", "Soupe à l'oignon", "SOUPE OIGNON", "9.00", "10", "10", ["gluten", "milk"], []),
    ("Entrées", "Salade de chèvre chaud", "SALADE CHEVRE", "11.00", "10", "10", ["gluten", "milk", "nuts"], []),
    ("Entrées", "Œufs mayonnaise", "OEUFS MAYO", "7.50", "10", "10", ["eggs", "mustard"], []),
    ("Entrées", "Escargots de Bourgogne (6)", "ESCARGOTS x6", "12.00", "10", "10", ["molluscs", "milk"], []),
    ("Plats", "Entrecôte frites", "ENTRECOTE", "24.00", "10", "10", [], ["Cuisson", "Suppléments", "Sauces"]),
    ("Plats", "Steak tartare", "TARTARE", "19.00", "10", "10", ["eggs", "mustard", "fish"], []),
    ("Plats", "Burger du chef", "BURGER", "17.00", "10", "10", ["gluten", "milk", "mustard", "sesame"], ["Cuisson", "Suppléments"]),
    ("Plats", "Confit de canard", "CONFIT", "21.00", "10", "10", [], []),
    ("Plats", "Saumon grillé", "SAUMON", "20.00", "10", "10", ["fish"], ["Sauces"]),
    ("Plats", "Croque-monsieur", "CROQUE", "12.00", "10", "10", ["gluten", "milk"], []),
    ("Plats", "Jambon-beurre", "JB", "6.50", "10", "5.5", ["gluten", "milk"], []),
    ("Plats", "Frites", "FRITES", "4.50", "10", "10", [], []),
    ("Plats", "Salade verte", "SALADE VERTE", "4.00", "10", "10", ["mustard"], []),
    ("Desserts", "Crème brûlée", "CREME BRULEE", "8.00", "10", "10", ["eggs", "milk"], []),
    ("Desserts", "Mousse au chocolat", "MOUSSE", "7.50", "10", "10", ["eggs", "milk", "soybeans"], []),
    ("Desserts", "Tarte Tatin", "TATIN", "8.50", "10", "10", ["gluten", "eggs", "milk"], []),
    ("Desserts", "Café gourmand", "CAFE GOURMAND", "9.50", "10", "10", ["gluten", "eggs", "milk", "nuts"], []),
    ("Boissons", "Eau minérale 50cl", "EAU", "3.00", "10", "5.5", [], []),
    ("Boissons", "Coca-Cola 33cl", "COCA", "3.50", "10", "5.5", [], []),
    ("Boissons", "Jus d'orange pressé", "JUS ORANGE", "4.50", "10", "10", [], []),
    ("Boissons", "Café", "CAFE", "2.20", "10", "10", [], []),
    ("Boissons", "Verre de Bordeaux", "BORDEAUX", "6.00", "20", "20", ["sulphites"], []),
    ("Boissons", "Demi de bière", "DEMI", "5.00", "20", "20", ["gluten"], []),
    ("Boissons", "Côtes-du-Rhône (75cl)", "COTES RHONE", "28.00", "20", "20", ["sulphites"], []),
]

SET_MENU = ("Formules", "Formule midi", "FORMULE MIDI", "19.50", [
    ("Plat", ["Burger du chef", "Croque-monsieur", "Saumon grillé"]),
    ("Accompagnement", ["Frites", "Salade verte"]),
    ("Boisson", ["Eau minérale 50cl", "Coca-Cola 33cl", "Verre de Bordeaux"]),
])

DEMO_PASSWORD = "brigade-demo-2026"
STAFF = [
    # username, first name, role, PIN
    ("marie", "Marie", User.Role.MANAGER, "9999"),
    ("alice", "Alice", User.Role.SERVER, "1234"),
    ("bob", "Bob", User.Role.SERVER, "2345"),
    ("claude", "Claude", User.Role.COOK, "4321"),
]

DEVICES = [
    ("Till 1", Device.Role.TILL),
    ("Kiosk 1", Device.Role.KIOSK),
    ("Grill screen", Device.Role.KDS),
    ("Cold screen", Device.Role.KDS),
    ("Expo screen", Device.Role.KDS),
    ("Delivery partner", Device.Role.INTEGRATION),
]


class Command(BaseCommand):
    help = "Load a demo French bistro (menu, tables, staff, devices, kitchen) and print how to log in."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1", help="host name used in the printed links")
        parser.add_argument("--port", type=int, default=8000, help="port used in the printed links")

    def handle(self, *args, host: str, port: int, **options):
        with transaction.atomic():
            load_menu()
            load_tables()
            load_staff()
            tokens = load_devices()
            load_demo_kitchen()
        base = f"http://{host}:{port}"
        out = self.stdout
        out.write(self.style.SUCCESS("Demo bistro loaded."))
        out.write("")
        out.write(f"Admin (managers): {base}/admin/  user: marie  password: {DEMO_PASSWORD}")
        out.write("PINs (demo data): " + ", ".join(f"{first} ({role}) {pin}" for _u, first, role, pin in STAFF))
        out.write("")
        out.write("Pair a browser by opening its device's link (the tokens are demo credentials, kept in "
                  f"{tokens_path()}):")
        for name, role in DEVICES:
            out.write(f"  {name} ({role}): {base}/pair/?token={tokens[name]}")
        out.write("")
        out.write(f'API: curl -H "Authorization: Bearer {tokens["Delivery partner"]}" {base}/api/v1/menu/')


def load_menu() -> None:
    allergens = {}
    for code, name in ALLERGENS:
        allergens[code], _ = Allergen.objects.update_or_create(code=code, defaults={"name": name})
    categories = {}
    for position, (name, colour) in enumerate(CATEGORIES, start=1):
        categories[name], _ = Category.objects.update_or_create(name=name, defaults={"position": position, "colour": colour})
    groups = {}
    for position, (name, (low, high, modifiers)) in enumerate(GROUPS.items(), start=1):
        group, _ = ModifierGroup.objects.update_or_create(
            name=name, defaults={"min_choices": low, "max_choices": high, "position": position}
        )
        groups[name] = group
        for mod_position, (mod_name, kitchen_name, delta) in enumerate(modifiers, start=1):
            Modifier.objects.update_or_create(
                group=group, name=mod_name,
                defaults={"kitchen_name": kitchen_name, "price_delta": D(delta), "position": mod_position, "available": True},
            )
    items = {}
    for position, (category, name, kitchen_name, price, eat_in, take_away, codes, group_names) in enumerate(ITEMS, start=1):
        item, _ = Item.objects.update_or_create(
            name=name,
            defaults={
                "category": categories[category], "kitchen_name": kitchen_name, "price": D(price),
                "vat_eat_in": D(eat_in), "vat_take_away": D(take_away), "position": position, "is_set_menu": False,
            },
        )
        item.allergens.set([allergens[c] for c in codes])
        item.modifier_groups.set([groups[g] for g in group_names])
        items[name] = item
    category, name, kitchen_name, price, slots = SET_MENU
    set_menu, _ = Item.objects.update_or_create(
        name=name,
        defaults={"category": categories[category], "kitchen_name": kitchen_name, "price": D(price), "is_set_menu": True, "position": 1},
    )
    for position, (slot_name, choices) in enumerate(slots, start=1):
        slot, _ = SetMenuSlot.objects.update_or_create(set_menu=set_menu, name=slot_name, defaults={"position": position})
        slot.choices.set([items[c] for c in choices])


def load_tables() -> None:
    """Salle: tables 1–8 on a 4 × 2 grid; Terrasse: 9–12 on the row below."""
    for n in range(1, 13):
        area = "Salle" if n <= 8 else "Terrasse"
        Table.objects.update_or_create(
            label=str(n),
            defaults={
                "area": area, "seats": 4 if n % 4 == 0 else 2, "x": (n - 1) % 4, "y": (n - 1) // 4,
                "shape": Table.Shape.ROUND if area == "Terrasse" else Table.Shape.SQUARE,
            },
        )


def load_staff() -> None:
    for username, first_name, role, pin in STAFF:
        user = User.objects.filter(username=username).first() or User(username=username)
        user.first_name, user.role = first_name, role
        user.is_staff = role == User.Role.MANAGER
        user.is_active = True
        if role == User.Role.MANAGER:
            user.set_password(DEMO_PASSWORD)
        else:
            user.set_unusable_password()
        user.pin_hash = pins.hash_pin(pin)
        user.failed_pin_attempts, user.pin_locked_until = 0, None
        user.save()


def tokens_path():
    return settings.DATA_DIR / "demo_tokens.json"


def load_devices() -> dict[str, str]:
    """Demo devices with the tokens kept in the data dir (re-issued when they no longer match)."""
    path = tokens_path()
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        stored = {}
    tokens = {}
    for name, role in DEVICES:
        device = Device.objects.filter(name=name).first()
        token = stored.get(name) if isinstance(stored, dict) else None
        if device is not None and device.role == role and device.revoked_at is None and token and device.token_hash == hash_token(token):
            tokens[name] = token
            continue
        if device is None:
            device = Device(name=name, role=role)
        device.role = role
        tokens[name] = pairing.issue_device_token(device=device)
    if tokens != stored:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(tokens, f, indent=2)
        os.chmod(path, 0o600)
    return tokens
