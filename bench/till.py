"""Server-side latency of the till's busiest requests, on the default set-up (file SQLite in a fresh
temporary data dir, WAL, the demo restaurant).

    .venv/bin/python bench/till.py [--requests N]

Measured in-process with Django's test Client. "server" is the server's own time: a timing middleware
put first in MIDDLEWARE (bench only) measures from the request entering Django's middleware stack
(sessions, CSRF, device cookie, PIN session; then the view, the actions, the database and the
template) to the finished response, and reports it as a `Server-Timing: app;dur=…` header — without the
network, daphne's HTTP parsing or the test client's own work. "round trip" is the same request timed
around the test client call. Wall-clock and CPU time of this process are given both: the machine's
two cores are shared, so wall time also counts waiting for a core. Each request is a real htmx
request (HX-Request, an Idempotency-Key).

- add item: POST /till/orders/<id>/lines/ for a one-tap item, answered with the re-rendered ticket
  pane; orders grow to 20 lines, then a fresh order is opened (untimed), as a busy table would;
- order submission (till): POST /till/orders/<id>/send/ for an order of 4 lines (a steak with its
  cooking and an extra, a set menu, a dessert, a drink): tickets per station, print jobs, ticket pane;
- order submission (kiosk): POST /kiosk/confirm/ — place_order for a 2-line basket, sent to the kitchen.

Target: p99 < 15 ms for adding an item on the till. Last line: `name: value unit` (add-item p99).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class ServerTiming:
    """Bench-only middleware: the time Django spends on a request, as a Server-Timing header."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        wall, cpu = time.perf_counter(), time.process_time()
        response = self.get_response(request)
        response["Server-Timing"] = (
            f"app;dur={(time.perf_counter() - wall) * 1000:.3f}, cpu;dur={(time.process_time() - cpu) * 1000:.3f}"
        )
        return response


def server_timing(response) -> tuple[float, float]:
    """(wall seconds, CPU seconds) from the Server-Timing header."""
    parts = dict(part.strip().split(";dur=") for part in response["Server-Timing"].split(","))
    return float(parts["app"]) / 1000, float(parts["cpu"]) / 1000


def setup(data_dir: str):
    os.environ["KDS_DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from io import StringIO

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("demo", stdout=StringIO())
    from django.conf import settings

    settings.MIDDLEWARE = [f"{__name__}.ServerTiming", *settings.MIDDLEWARE]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def report(name: str, samples: list[tuple]) -> None:
    """samples: (server wall, server CPU, round-trip wall) seconds per request."""
    print(f"{name}: n={len(samples)}")
    for label, index in (("server wall", 0), ("server cpu ", 1), ("round trip ", 2)):
        ms = [sample[index] * 1000 for sample in samples]
        print(f"    {label}  p50={percentile(ms, 50):6.2f} ms  p90={percentile(ms, 90):6.2f} ms  p99={percentile(ms, 99):6.2f} ms  "
              f"max={max(ms):7.2f} ms  mean={statistics.fmean(ms):6.2f} ms")


def timed(fn):
    """(response, (server wall, server CPU, round-trip wall) seconds)."""
    start = time.perf_counter()
    response = fn()
    round_trip = time.perf_counter() - start
    return response, (*server_timing(response), round_trip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="timed requests per figure (default 1000)")
    parser.add_argument("--warmup", type=int, default=30)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="brigade-bench-") as data_dir:
        setup(data_dir)
        from django.conf import settings
        from django.test import Client
        from django.urls import reverse

        from orders.actions.ordering import place_order
        from orders.lines import LineSpec, SlotChoice
        from accounts.access import device_cookie_value
        from accounts.models import Device, User
        from orders.models import Item, ModifierGroup, Order, SetMenuSlot

        alice = User.objects.get(username="alice")
        till = Device.objects.create(name="Bench till", role=Device.Role.TILL, token_hash="bench-till")
        kiosk = Device.objects.create(name="Bench kiosk", role=Device.Role.KIOSK, token_hash="bench-kiosk")
        items = {i.name: i for i in Item.objects.all()}
        coffee, dessert, wine = items["Café"], items["Crème brûlée"], items["Verre de Bordeaux"]
        steak, formule = items["Entrecôte frites"], items["Formule midi"]
        cuisson = ModifierGroup.objects.get(name="Cuisson").modifiers.get(name="Saignant")
        extra = ModifierGroup.objects.get(name="Suppléments").modifiers.get(name="Œuf")
        slots = list(SetMenuSlot.objects.filter(set_menu=formule).order_by("position"))

        client = Client()
        client.cookies[settings.DEVICE_COOKIE_NAME] = device_cookie_value(till)
        client.force_login(alice)
        keys = iter(range(10**9))

        def post(c, url, data):
            return c.post(url, data, HTTP_HX_REQUEST="true", HTTP_IDEMPOTENCY_KEY=f"bench-{next(keys)}")

        def fresh_order() -> Order:
            return place_order(
                device=till, server=alice, order_type="take_away", lines=[LineSpec(item=wine.pk)],
                source="till", send=False,
            )

        # --- add item ---------------------------------------------------------------------------
        samples = []
        order = fresh_order()
        for n in range(args.warmup + args.requests):
            if n % 20 == 19:
                order = fresh_order()
            url = reverse("till:add_line", args=[order.pk])
            response, elapsed = timed(lambda: post(client, url, {"item": coffee.pk, "course": 1}))
            assert response.status_code == 200, response.content[:500]
            if n >= args.warmup:
                samples.append(elapsed)
        add_item = samples

        # --- order submission: the till's "send to kitchen" --------------------------------------
        burger = next(c for c in slots[0].choices.all() if c.modifier_groups.exists())
        lines = [
            LineSpec(item=steak.pk, modifiers=(cuisson.pk, extra.pk), seat=1),
            LineSpec(item=formule.pk, seat=2, slots=(
                SlotChoice(slot=slots[0].pk, item=burger.pk, modifiers=(cuisson.pk,)),
                SlotChoice(slot=slots[1].pk, item=slots[1].choices.first().pk),
                SlotChoice(slot=slots[2].pk, item=slots[2].choices.first().pk),
            )),
            LineSpec(item=dessert.pk, course=2),
            LineSpec(item=wine.pk),
        ]
        samples = []
        for n in range(args.warmup + args.requests):
            order = place_order(device=till, server=alice, order_type="eat_in", lines=lines, source="till", send=False)
            response, elapsed = timed(lambda: post(client, reverse("till:send", args=[order.pk]), {}))
            assert response.status_code == 200 and order.lines.filter(status="pending").count() == 0
            if n >= args.warmup:
                samples.append(elapsed)
        send = samples

        # --- order submission: the kiosk's confirmation -----------------------------------------
        customer = Client()
        customer.cookies[settings.DEVICE_COOKIE_NAME] = device_cookie_value(kiosk)
        samples = []
        for n in range(args.warmup + args.requests):
            customer.post(reverse("kiosk:begin"), {"order_type": "take_away"})
            post(customer, reverse("kiosk:basket_add"), {"item": items["Jambon-beurre"].pk, "quantity": 2})
            post(customer, reverse("kiosk:basket_add"), {"item": items["Coca-Cola 33cl"].pk})
            response, elapsed = timed(lambda: post(customer, reverse("kiosk:confirm"), {"payment": "counter"}))
            assert response.status_code == 200 and "HX-Redirect" in response, response.content[:500]
            if n >= args.warmup:
                samples.append(elapsed)
        kiosk_confirm = samples

        print(f"Brigade till bench: in-process Django test client, file SQLite (WAL) in {data_dir}, "
              f"{args.requests} timed requests each after {args.warmup} warm-up")
        report("add item (htmx, ticket re-rendered)", add_item)
        report("order submission: till send to kitchen (4 lines)", send)
        report("order submission: kiosk confirm (place_order, 2 lines)", kiosk_confirm)
        print(f"add_item_p99: {percentile([sample[0] * 1000 for sample in add_item], 99):.2f} ms")


if __name__ == "__main__":
    main()
