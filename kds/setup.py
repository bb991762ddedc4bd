"""The kitchen's setup, kept in memory: stations, routing rules, and the printer each station prints on.

It changes a few times a year (the admin, the demo) and is read on every order sent to the kitchen,
so each process keeps one copy and reads it again only when `KitchenSetup.version` changed: one
single-value query per use, where reading the setup itself takes three. Every save or delete of a
station, a printer or a routing rule bumps the version (kds.models.KitchenSetup), whichever process
made it.
"""

import copy
import threading
from collections import defaultdict
from dataclasses import dataclass

from kds import sql
from kds.models import Station


@dataclass(frozen=True)
class Setup:
    version: int | None
    stations: tuple[Station, ...]  # screen order
    item_routes: dict[int, tuple[int, ...]]  # item id -> station ids that list it
    category_routes: dict[int, tuple[int, ...]]  # category id -> station ids that list it
    printers: dict[int, int]  # station id -> id of its printer, when it has one that is enabled


_lock = threading.Lock()
_cached: Setup | None = None


def _load(version: int | None) -> Setup:
    stations = tuple(Station.objects.select_related("printer").order_by("position", "name"))
    item_routes: dict[int, list[int]] = defaultdict(list)
    for item_id, station_id in Station.items.through.objects.order_by("pk").values_list("item_id", "station_id"):
        item_routes[item_id].append(station_id)
    category_routes: dict[int, list[int]] = defaultdict(list)
    for category_id, station_id in Station.categories.through.objects.order_by("pk").values_list(
        "category_id", "station_id"
    ):
        category_routes[category_id].append(station_id)
    printers = {s.pk: s.printer_id for s in stations if s.printer_id is not None and s.printer.enabled}
    return Setup(
        version=version,
        stations=stations,
        item_routes={k: tuple(v) for k, v in item_routes.items()},
        category_routes={k: tuple(v) for k, v in category_routes.items()},
        printers=printers,
    )


def current() -> Setup:
    """The setup as the database has it now (one query when nothing changed)."""
    global _cached
    version = sql.setup_version()
    cached = _cached
    if cached is not None and cached.version == version:
        return cached
    # Read before the version moves again: a change committed meanwhile bumps it once more, and the
    # next call reads again. Reads in a transaction that has not committed its own change are cached
    # under that change's version, which nobody else can see until it commits (or ever, if it rolls
    # back: the versions are random).
    loaded = _load(version)
    with _lock:
        _cached = loaded
    return loaded


def stations() -> list[Station]:
    """Every station in screen order, as copies the caller may change (services number their events
    on them); `last_seq` in them is stale: read it from the database."""
    return [copy.copy(station) for station in current().stations]


def forget() -> None:
    """Drop this process's copy (tests)."""
    global _cached
    with _lock:
        _cached = None
