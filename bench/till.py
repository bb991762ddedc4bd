"""Server-side latency of the till's busiest requests, on the default set-up (file SQLite in a fresh
temporary data dir, WAL, the demo restaurant).

    .venv/bin/python bench/till.py [--requests N]

Measured in-process with Django's test Client: each figure is the time from the request entering
Django's handler (middleware: sessions, CSRF, device cookie, PIN session; then the view, the services,
the database and the template) to the full response — the server's own time, without the network or
daphne's HTTP parsing. Each request is a real htmx request (HX-Request, an Idempotency-Key).

- add item: POST /till/orders/<id>/lines/ for a one-tap item, answered with the re-rendered ticket
  pane; orders grow to 20 lines, then a fresh order is opened (untimed), as a busy table would;
- order submission (till): POST /till/orders/<id>/send/ for an order of 4 lines (a steak with its
  cooking and an extra, a set menu, a dessert, a drink): tickets per station, print jobs, ticket pane;
- order submission (kiosk): POST /kiosk/confirm/ — place_order for a 2-line basket, sent to the kitchen.

Target (issue 3): p99 < 15 ms for add item. Last line: `name: value unit` (add-item p99).
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


def setup(data_dir: str):
    os.environ["KDS_DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kds.settings")
    import django

    django.setup()
    from io import StringIO

    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("demo", stdout=StringIO())


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def report(name: str, samples: list[tuple[float, float]]) -> None:
    """Wall-clock latency (what a tablet waits for) and CPU time of this process (our own cost: the
    machine's two cores are shared, so wall time also counts waiting for a core)."""
    wall = [w * 1000 for w, _c in samples]
    cpu = [c * 1000 for _w, c in samples]
    print(f"{name}: n={len(wall)}")
    print(f"    wall  p50={percentile(wall, 50):6.2f} ms  p90={percentile(wall, 90):6.2f} ms  p99={percentile(wall, 99):6.2f} ms  "
          f"max={max(wall):6.2f} ms  mean={statistics.fmean(wall):6.2f} ms")
    print(f"    cpu   p50={percentile(cpu, 50):6.2f} ms  p90={percentile(cpu, 90):6.2f} ms  p99={percentile(cpu, 99):6.2f} ms")


def timed(fn):
    """(response, (wall seconds, CPU seconds))."""
    wall, cpu = time.perf_counter(), time.process_time()
    response = fn()
    return response, (time.perf_counter() - wall, time.process_time() - cpu)


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

        from orders import services
        from orders.access import device_cookie_value
        from orders.models import Device, Item, ModifierGroup, Order, SetMenuSlot, User

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
            return services.place_order(
                device=till, server=alice, order_type="take_away", lines=[services.LineSpec(item=wine.pk)],
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
            services.LineSpec(item=steak.pk, modifiers=(cuisson.pk, extra.pk), seat=1),
            services.LineSpec(item=formule.pk, seat=2, slots=(
                services.SlotChoice(slot=slots[0].pk, item=burger.pk, modifiers=(cuisson.pk,)),
                services.SlotChoice(slot=slots[1].pk, item=slots[1].choices.first().pk),
                services.SlotChoice(slot=slots[2].pk, item=slots[2].choices.first().pk),
            )),
            services.LineSpec(item=dessert.pk, course=2),
            services.LineSpec(item=wine.pk),
        ]
        samples = []
        for n in range(args.warmup + args.requests):
            order = services.place_order(device=till, server=alice, order_type="eat_in", lines=lines, source="till", send=False)
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
        print(f"add_item_p99: {percentile([w * 1000 for w, _c in add_item], 99):.2f} ms")


if __name__ == "__main__":
    main()
