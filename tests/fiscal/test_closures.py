"""Closures: day, month and year, the scheduled step `serve` runs, the command, and the Z report."""

from datetime import UTC, date, datetime

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from fiscal import closures, codes, receipt, services, verification
from fiscal.models import ChainHead, SealedRecord

from .conftest import receipt_payload


def lunch(day: int, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, 11, 30, tzinfo=UTC)  # 12:30 in Paris


def sell(clock, n, *, lines=None):
    made = []
    for _ in range(n):
        clock.advance(minutes=1)
        payload = receipt_payload(*(lines or ()))
        made.append(services.seal_receipt(payload=payload, operator="alice", device="Till 1"))
    return made


def test_it_closes_each_finished_day_with_its_totals(db, clock):
    clock.set(lunch(24))
    day1 = sell(clock, 3)
    clock.set(lunch(25))
    day2 = sell(clock, 2, lines=[("Vin", 1, "30.00", "20.00"), ("Plat", 1, "20.00", "10.00")])
    services.seal_cancellation(original=day2[0], operator="marie", device="Till 1", reason="erreur")
    clock.set(datetime(2026, 11, 26, 3, 30, tzinfo=UTC))  # 04:30 in Paris, after the 4 h roll-over
    assert closures.run_scheduled_closures() is True
    made = list(SealedRecord.objects.filter(chain="closure").order_by("seq"))
    assert [(c.type, c.period) for c in made] == [("day", "2026-11-24"), ("day", "2026-11-25")]
    first, second = (c.data() for c in made)
    assert (first["first_seq"], first["last_seq"], first["count"], first["total"]) == (1, 3, 3, 3 * 5050)
    assert first["last_hash"] == day1[-1].hash
    assert first["vat"] == [{"rate": 1000, "base": 13773, "vat": 1377, "total": 15150}]
    assert second["by_type"] == {"sale": {"count": 2, "total": 10000}, "cancellation": {"count": 1, "total": -5000}}
    assert second["total"] == 5000
    assert {r["rate"]: r["total"] for r in second["vat"]} == {1000: 2000, 2000: 3000}
    assert second["grand_total"] == {"total": 15150 + 5000, "absolute": 15150 + 15000,
                                     "by_rate": {"1000": 15150 + 2000, "2000": 3000}}
    assert SealedRecord.objects.filter(chain="jet", subject=str(codes.CLOSURE_DAY)).count() == 2
    assert closures.run_scheduled_closures() is False  # nothing left to do
    report = verification.verify_store()
    assert report.ok and report.closures_checked == 2


def test_it_waits_for_the_rollover_hour_before_closing(db, clock):
    clock.set(lunch(25))
    sell(clock, 1)
    clock.set(datetime(2026, 11, 26, 2, 30, tzinfo=UTC))  # 03:30 in Paris: still the 25th's service
    closures.run_scheduled_closures()
    assert not SealedRecord.objects.filter(chain="closure").exists()


def test_it_closes_the_day_early_on_request_and_moves_later_sales_to_the_next_day(db, clock):
    clock.set(lunch(26))
    sell(clock, 2)
    (z,) = closures.close_day(date(2026, 11, 26))
    assert z.data()["count"] == 2
    (late,) = sell(clock, 1)
    assert late.business_day == date(2026, 11, 27)
    with pytest.raises(services.AlreadyClosed):
        closures.close_day(date(2026, 11, 26))
    with pytest.raises(services.FiscalError):
        closures.close_day(date(2026, 11, 28))  # has not started
    assert verification.verify_store().ok


def test_it_closes_months_and_years_summarising_their_closures(db, clock):
    for day in (28, 29, 30):
        clock.set(lunch(day))
        sell(clock, 2)
    clock.set(lunch(2, month=12))
    closures.run_scheduled_closures()
    month = SealedRecord.objects.get(chain="closure", type="month")
    days = list(SealedRecord.objects.filter(chain="closure", type="day").order_by("seq"))
    assert month.period == "2026-11" and len(days) == 3
    data = month.data()
    assert [c["hash"] for c in data["closures"]] == [d.hash for d in days]
    assert data["total"] == 6 * 5050 and data["grand_total"] == days[-1].data()["grand_total"]
    assert (data["first_seq"], data["last_seq"]) == (1, 6)
    clock.set(lunch(3, month=12))
    sell(clock, 1)
    clock.set(lunch(2, month=1, year=2027))
    closures.run_scheduled_closures()
    year = SealedRecord.objects.get(chain="closure", type="year")
    months = list(SealedRecord.objects.filter(chain="closure", type="month").order_by("seq"))
    assert [m.period for m in months] == ["2026-11", "2026-12"]
    assert year.period == "2026" and year.data()["total"] == 7 * 5050
    assert [c["hash"] for c in year.data()["closures"]] == [m.hash for m in months]
    assert year.data()["grand_total"]["total"] == 7 * 5050
    report = verification.verify_store()
    assert report.ok, report.errors
    assert report.closures_checked == 4


def test_it_verifies_a_thousand_receipts_with_their_closures(db, clock):
    sales = []
    for day in range(1, 11):
        clock.set(lunch(day))
        sales += sell(clock, 100, lines=[("Menu", 1, "19.90", "10.00"), ("Bière", 2, "6.50", "20.00")])
        services.seal_cancellation(original=sales[-1], operator="marie", device="Till 1", reason="test")
    clock.set(lunch(2, month=12))
    closures.run_scheduled_closures()
    assert SealedRecord.objects.filter(chain="ticket", type="sale").count() == 1000
    assert SealedRecord.objects.filter(chain="closure", type="day").count() == 10
    head = ChainHead.objects.get(chain="ticket")
    assert head.grand_total["total"] == 990 * 3290
    report = verification.verify_store()
    assert report.ok, report.errors
    assert report.results["ticket"].count == 1010
    assert report.closures_checked == 10
    strict = verification.verify_store(strict=True)
    assert strict.ok


def test_it_refuses_to_close_a_month_that_is_not_over(db, clock):
    clock.set(lunch(26))
    with pytest.raises(services.FiscalError):
        closures.close_month(2026, 11)


def test_it_closes_from_the_command_line_and_prints_the_z_report(db, clock, capsys):
    clock.set(lunch(25))
    sell(clock, 2)
    clock.set(lunch(26))
    call_command("fiscal_close", "--day")
    out = capsys.readouterr().out
    assert "2026-11-25" in out and "101.00" in out
    with pytest.raises(CommandError, match="already closed"):
        call_command("fiscal_close", "--day", "2026-11-25")
    with pytest.raises(CommandError):
        call_command("fiscal_close", "--day", "not-a-date")
    clock.set(lunch(1, month=12))
    call_command("fiscal_close", "--month", "2026-11")
    assert SealedRecord.objects.filter(chain="closure", type="month", period="2026-11").exists()


def test_it_renders_the_z_report_as_text_and_escpos(db, clock):
    clock.set(lunch(25))
    sell(clock, 2)
    (z,) = closures.close_day(date(2026, 11, 25))
    text = receipt.z_report_text(z)
    assert "2026-11-25" in text and "101.00" in text
    assert all(len(line) <= 42 for line in text.splitlines())
    data = receipt.z_report_escpos(z)
    assert data.startswith(b"\x1b@") and data.endswith(b"\x1dV\x00") and b"101.00" in data


def test_it_shows_the_z_report_to_managers_only(db, clock, client, manager, alice):
    clock.set(lunch(25))
    sell(clock, 2)
    (z,) = closures.close_day(date(2026, 11, 25))
    url = f"/fiscal/closures/{z.pk}/"
    assert client.get(url).status_code == 302  # not logged in: to the PIN login
    client.force_login(alice)
    assert client.get(url).status_code == 403
    client.force_login(manager)
    page = client.get(url)
    assert page.status_code == 200
    assert "101.00" in page.content.decode()
    assert client.get("/fiscal/closures/").status_code == 200
    receipts = SealedRecord.objects.filter(chain="ticket").first()
    assert client.get(f"/fiscal/closures/{receipts.pk}/").status_code == 404
    printed = client.post(f"/fiscal/closures/{z.pk}/print/")
    assert printed.status_code == 200
    assert printed.context["printed"] is False  # no printer prints reports yet: the page says so


def test_it_queues_the_z_report_on_the_report_printer(db, clock, client, manager):
    from printing.models import PrintJob, Printer

    clock.set(lunch(25))
    sell(clock, 2)
    (z,) = closures.close_day(date(2026, 11, 25))
    printer = Printer.objects.create(name="Till", host="127.0.0.1", port=9100, prints_reports=True)
    client.force_login(manager)
    response = client.post(f"/fiscal/closures/{z.pk}/print/")
    assert response.status_code == 200 and response.context["printed"] is True
    job = PrintJob.objects.get(printer=printer, kind="report")
    assert bytes(job.data) == receipt.z_report_escpos(z)
