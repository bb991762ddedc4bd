"""Fiscal sealing throughput on the default set-up (SQLite in a fresh temporary data dir).

    .venv/bin/python bench/sealing.py [--receipts N] [--verify-records N]

Prints:
- receipts sealed per second by `fiscal.services.seal_receipt` inside an atomic block, with an
  order-sized payload (4 lines, 2 VAT rates, 2 payments) — the fiscal part of a payment;
- receipts per second through the whole payment transaction, `orders.actions.payments.take_payment` (order
  row lock, payment row, status change, receipt payload, seal), on orders placed beforehand (untimed),
  and how many milliseconds of each payment the seal takes;
- records verified per second by `fiscal.verification.verify_store` (every chain, hashes, links, grand
  totals, closures against receipts; signatures at checkpoints) and in strict mode (every signature).
Sealing and payments are measured twice: with SQLite's synchronous=FULL (the default: each commit
waits for the disk, so a receipt survives a power cut) and with NORMAL, to show what that costs.
Wall-clock and CPU-time rates both: the machine is shared, CPU time is our own cost.
Targets: >= 500 receipts sealed per second with FULL; >= 1,000 receipts per second through the whole
payment transaction (a target set when commits did not wait for the disk: with FULL each payment pays
one fsync more, measured here); >= 20,000 verified records/s. Last line: `name: value unit` —
`sealing: N receipts/s`, the take_payment rate with FULL (wall clock).
"""

import argparse
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def payload(number: int) -> dict:
    return {
        "order": {"number": number, "business_day": "2026-11-26", "type": "eat_in", "table": "4", "covers": 4,
                  "source": "till"},
        "lines": [
            {"name": "Entrecôte", "quantity": 2, "unit_price": "24.00", "modifiers": ["Saignant"], "discount": "0.00",
             "vat_rate": "10.00", "total": "48.00"},
            {"name": "Salade César", "quantity": 1, "unit_price": "14.50", "modifiers": [], "discount": "0.00",
             "vat_rate": "10.00", "total": "14.50"},
            {"name": "Côtes-du-Rhône 50 cl", "quantity": 1, "unit_price": "22.00", "modifiers": [], "discount": "0.00",
             "vat_rate": "20.00", "total": "22.00"},
            {"name": "Café", "quantity": 4, "unit_price": "2.50", "modifiers": [], "discount": "0.00",
             "vat_rate": "10.00", "total": "10.00"},
        ],
        "vat": [{"rate": "10.00", "base": "65.91", "vat": "6.59", "total": "72.50"},
                {"rate": "20.00", "base": "18.33", "vat": "3.67", "total": "22.00"}],
        "discount": "0.00", "total": "94.50",
        "payments": [{"method": "card", "amount": "50.00"}, {"method": "cash", "amount": "44.50"}], "tips": "2.00",
    }


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) — the machine is shared: CPU time shows our cost
    when other processes compete for the two cores."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_seal(n: int) -> tuple[float, float]:
    from django.db import transaction

    from fiscal import services

    def run(count):
        for i in range(count):
            with transaction.atomic():
                services.seal_receipt(payload=payload(i), operator="alice", device="Till 1")

    run(50)  # warm-up: key loaded, statements prepared
    wall, cpu = timed(lambda: run(n))
    return n / wall, n / cpu


def bench_take_payment(n: int) -> tuple | None:
    try:
        from accounts.models import Device, User
        from orders.actions.ordering import place_order
        from orders.actions.payments import take_payment
        from orders.lines import LineSpec
        from orders.models import Category, Item
    except ImportError as exc:
        print(f"take_payment: not measured ({exc})")
        return None
    category, _ = Category.objects.get_or_create(name="Bench")
    steak = Item.objects.create(category=category, name="Entrecôte", kitchen_name="ENTRE", price=Decimal("24.00"))
    wine = Item.objects.create(category=category, name="Vin", kitchen_name="VIN", price=Decimal("22.00"),
                               vat_eat_in=Decimal("20.00"), vat_take_away=Decimal("20.00"))
    device = Device.objects.filter(name="Bench till").first()
    if device is None:
        device = Device(name="Bench till", role=Device.Role.TILL)
        device.set_new_token()
        device.save()
    server = User.objects.filter(username="bench").first() or User.objects.create_user("bench", role=User.Role.SERVER)
    placed = []
    for _ in range(n + 20):
        placed.append(place_order(
            device=device, server=server, order_type="take_away", source="till", send=False,
            lines=[LineSpec(item=steak.pk, quantity=2), LineSpec(item=wine.pk, quantity=1)],
        ))
    for order in placed[:20]:
        take_payment(order=order, method="cash", amount=order.total, operator=server, device=device)

    from fiscal import services as fiscal

    sealing = [0.0]
    seal_receipt = fiscal.seal_receipt

    def timed_seal(**kwargs):  # how much of each payment is the seal itself
        start = time.perf_counter()
        try:
            return seal_receipt(**kwargs)
        finally:
            sealing[0] += time.perf_counter() - start

    fiscal.seal_receipt = timed_seal

    def run():
        for order in placed[20:]:
            result = take_payment(order=order, method="cash", amount=order.total, operator=server, device=device)
            assert result.settled and result.receipt is not None

    try:
        wall, cpu = timed(run)
    finally:
        fiscal.seal_receipt = seal_receipt
    return n / wall, n / cpu, sealing[0] / n * 1000, wall / n * 1000


def bench_verify(target_records: int) -> tuple[int, float, float]:
    from django.db import transaction

    from fiscal import closures, services, verification
    from fiscal.business_day import business_day
    from fiscal.models import SealedRecord

    have = SealedRecord.objects.count()
    with transaction.atomic():
        for i in range(max(0, target_records - have)):
            services.seal_receipt(payload=payload(i), operator="alice", device="Till 1")
    closures.close_day(business_day(services.now()))
    count = SealedRecord.objects.count()
    rates = []
    for strict in (False, True):
        reports = []
        wall, cpu = timed(lambda: reports.append(verification.verify_store(strict=strict)))
        report = reports[0]
        assert report.ok, report.errors
        assert report.count == count
        rates.append((count / wall, count / cpu))
    return count, rates[0], rates[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--receipts", type=int, default=3000)
    parser.add_argument("--verify-records", type=int, default=30000)
    args = parser.parse_args()

    data_dir = tempfile.mkdtemp(prefix="brigade-bench-sealing-")
    os.environ["KDS_DATA_DIR"] = data_dir
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0, skip_checks=True)
    print(f"data dir {data_dir} (SQLite, WAL, IMMEDIATE transactions)")

    from django.db import connection

    rates = {}
    # FULL (the default): each commit waits for the disk. NORMAL, for comparison: what that costs.
    for level in ("FULL", "NORMAL"):
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous={level}")
        seals, seals_cpu = bench_seal(args.receipts)
        print(f"[synchronous={level}] seal_receipt, one transaction each: {seals:,.0f} receipts/s wall, "
              f"{seals_cpu:,.0f}/s of CPU time ({args.receipts} receipts, order-sized payload)")
        payments = bench_take_payment(min(args.receipts, 1000))
        if payments is not None:
            rate, rate_cpu, seal_ms, payment_ms = payments
            print(f"[synchronous={level}] take_payment (whole payment transaction, seal included): {rate:,.0f} "
                  f"receipts/s wall, {rate_cpu:,.0f}/s of CPU time; {payment_ms:.2f} ms per payment of which "
                  f"{seal_ms:.2f} ms sealing")
        rates[level] = (seals, payments)
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA synchronous={settings.SQLITE_SYNCHRONOUS}")
    seals, payments = rates["FULL"]
    count, (fast, fast_cpu), (strict, strict_cpu) = bench_verify(args.verify_records)
    print(f"verify_store: {fast:,.0f} records/s wall, {fast_cpu:,.0f}/s of CPU time "
          f"({count} records; signatures at checkpoints)")
    print(f"verify_store --strict: {strict:,.0f} records/s wall, {strict_cpu:,.0f}/s of CPU time (every signature)")
    print(f"load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"verified_records_per_second: {fast:.0f} records/s")
    print(f"seal_receipt_per_second_normal: {rates['NORMAL'][0]:.0f} receipts/s")
    print(f"seal_receipt_per_second: {seals:.0f} receipts/s")
    if payments is None:
        print("sealing: not measured (no orders.actions.payments.take_payment)")
    else:
        print(f"sealing: {payments[0]:.0f} receipts/s")


if __name__ == "__main__":
    main()
