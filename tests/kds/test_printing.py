"""Kitchen printers over real TCP on 127.0.0.1: exact bytes, retries, the backup, the alert."""

import socket
import threading
from datetime import timedelta

import pytest
from django.utils import timezone, translation

from kds import chits, services
from printing import queue, spooler
from printing.models import PrintJob, Printer
from tests.kds.conftest import add_line, make_order


class FakePrinter:
    """A listening socket on 127.0.0.1 that records everything each connection sends."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]
        self.received: list[bytes] = []
        self.arrived = threading.Condition()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            with conn:
                chunks = []
                while data := conn.recv(65536):
                    chunks.append(data)
            with self.arrived:
                self.received.append(b"".join(chunks))
                self.arrived.notify_all()

    def wait(self, count: int = 1) -> list[bytes]:
        """What was received, once `count` connections have finished sending (or 5 s passed)."""
        with self.arrived:
            self.arrived.wait_for(lambda: len(self.received) >= count, timeout=5)
            return list(self.received)

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept()
        except OSError:
            pass
        self.sock.close()
        self.thread.join(5)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fake_printer():
    printer = FakePrinter()
    yield printer
    printer.close()


@pytest.fixture
def clock(monkeypatch):
    """The spooler's clock, moved by hand."""
    state = {"now": timezone.now() + timedelta(seconds=1)}
    monkeypatch.setattr(spooler, "now", lambda: state["now"])
    return state


@pytest.fixture
def step(django_capture_on_commit_callbacks):
    """One pass of the spooler loop, run as `serve` runs it: outside any transaction, so what it
    publishes goes out at once."""

    def run() -> bool:
        with django_capture_on_commit_callbacks(execute=True):
            return spooler.process_one_job()

    return run


def station_printer(station, **fields) -> Printer:
    """A printer, and `station` printing on it."""
    printer = Printer.objects.create(**fields)
    station.printer = printer
    station.save(update_fields=["printer"])
    return printer


def grill_job(stations, menu, printer, alice=None, table=None):
    order = make_order(server=alice, table=table)
    services.send_lines_to_kitchen(order=order, lines=[add_line(order, menu["burger"], quantity=2, note="bien cuit")])
    return PrintJob.objects.get(printer=printer)


@translation.override("en")
def test_it_renders_a_kitchen_ticket_as_esc_pos():
    spec = chits.TicketSpec(
        station="Grill", order_number=12, where="Table 4", server="Alice", time="12:30", rush=True,
        items=(chits.PrintItem(2, "Entrecôte", ("SAIG",), "sans sel", 3),),
    )
    data = chits.render_ticket(spec)
    assert data.startswith(b"\x1b@")  # ESC @: initialise
    assert data.endswith(b"\x1dV\x00")  # GS V 0: full cut
    assert b"#12\n" in data and b"Table 4\n" in data and b"Grill - 12:30 - Alice\n" in data
    assert b"2 x Entrec\x93te\n" in data  # code page 437: ô is 0x93
    assert b"   + SAIG\n" in data and b"   ! sans sel\n" in data
    assert b"RUSH" in data


def test_it_prints_the_exact_bytes_and_marks_the_job_done(stations, menu, alice, table4, fake_printer, clock, step):
    printer = station_printer(stations["grill"], name="Grill", host="127.0.0.1", port=fake_printer.port)
    job = grill_job(stations, menu, printer, alice, table4)
    assert step() is True
    job.refresh_from_db()
    assert job.status == "done" and job.printed_on == printer and job.attempts == 1
    received = fake_printer.wait()
    assert received == [bytes(job.data)]
    assert b"2 x Burger\n" in received[0] and b"Table 4" in received[0]
    assert step() is False  # nothing left


def test_it_retries_with_backoff_then_fails_over_to_the_backup_and_raises_an_alert(
    stations, menu, fake_printer, clock, published, step):
    backup = station_printer(stations["bar"], name="Bar", host="127.0.0.1", port=fake_printer.port)
    printer = station_printer(stations["grill"], name="Grill", host="127.0.0.1", port=closed_port(), backup=backup)
    job = grill_job(stations, menu, printer)

    assert step() is True
    job.refresh_from_db()
    printer.refresh_from_db()
    assert job.status == "pending" and job.attempts == 1 and job.last_error.startswith(f"127.0.0.1:{printer.port}: ")
    assert job.next_attempt_at == clock["now"] + spooler.retry_delay(1)
    assert printer.down_since == clock["now"]
    assert published == [("alerts", {"type": "kds.alert"})]
    assert step() is False  # not due yet, and the printer was just tried: nothing to do
    assert PrintJob.objects.get(pk=job.pk).attempts == 1

    # The station's printer is known down and has a healthy backup: the next attempt goes there.
    clock["now"] += timedelta(seconds=10)
    assert step() is True
    job.refresh_from_db()
    assert job.status == "done" and job.printed_on == backup
    assert fake_printer.wait() == [bytes(job.data)]


def test_it_gives_up_after_max_attempts_and_keeps_the_alert(stations, menu, clock, published, step):
    printer = station_printer(stations["grill"], name="Grill", host="127.0.0.1", port=closed_port())
    job = grill_job(stations, menu, printer)
    for _ in range(spooler.MAX_ATTEMPTS):
        assert step() is True
        clock["now"] += timedelta(minutes=2)
    job.refresh_from_db()
    assert job.status == "failed" and job.attempts == spooler.MAX_ATTEMPTS
    assert Printer.objects.get(pk=printer.pk).is_down
    assert published.count(("alerts", {"type": "kds.alert"})) == 1  # raised once, not per attempt


def test_it_clears_the_alert_when_the_printer_answers_again(stations, menu, fake_printer, clock, published, step):
    printer = station_printer(stations["grill"], name="Grill", host="127.0.0.1", port=closed_port())
    job = grill_job(stations, menu, printer)
    step()
    assert Printer.objects.get(pk=printer.pk).is_down
    Printer.objects.filter(pk=printer.pk).update(port=fake_printer.port)  # plugged back in
    clock["now"] += timedelta(minutes=1)
    step()
    assert PrintJob.objects.get(pk=job.pk).status == "done"
    assert not Printer.objects.get(pk=printer.pk).is_down
    assert published == [("alerts", {"type": "kds.alert"}), ("alerts", {"type": "kds.alert"})]


def test_it_probes_a_down_printer_when_idle(stations, fake_printer, clock, published, step):
    printer = station_printer(stations["grill"], name="Grill", host="127.0.0.1", port=fake_printer.port, down_since=clock["now"])
    assert step() is True
    assert not Printer.objects.get(pk=printer.pk).is_down
    assert published == [("alerts", {"type": "kds.alert"})]
    assert step() is False


def test_it_reprints_a_job_left_printing_by_a_killed_process(stations, menu, fake_printer, clock, step):
    printer = station_printer(stations["grill"], name="Grill", host="127.0.0.1", port=fake_printer.port)
    job = grill_job(stations, menu, printer)
    PrintJob.objects.filter(pk=job.pk).update(status="printing", claimed_at=clock["now"])
    assert step() is False  # another spooler may still be on it
    clock["now"] += spooler.STUCK_AFTER + timedelta(seconds=1)
    assert step() is True
    assert PrintJob.objects.get(pk=job.pk).status == "done"


def test_it_never_lets_a_stuck_printer_block_an_order(stations, menu):
    """Sending to the kitchen only writes the job: no socket is opened in the order's transaction."""
    station_printer(stations["grill"], name="Grill", host="10.255.255.1", port=9100)
    order = make_order()
    tickets = services.send_lines_to_kitchen(order=order, lines=[add_line(order, menu["burger"])])
    assert tickets and PrintJob.objects.get().status == "pending"


def test_it_prints_a_report_on_the_printer_set_to_print_reports(stations, fake_printer, clock, step):
    station_printer(stations["grill"], name="Grill", host="127.0.0.1", port=closed_port())
    till_printer = Printer.objects.create(name="Till", host="127.0.0.1", port=fake_printer.port, prints_reports=True)
    report = b"\x1b@Z REPORT 2026-11-25\n\x1dV\x00"
    job = queue.enqueue_report(data=report)
    assert job.printer == till_printer and job.kind == PrintJob.Kind.REPORT
    assert step() is True
    assert fake_printer.wait() == [report]


def test_it_queues_no_report_when_no_printer_prints_reports(stations):
    Printer.objects.create(name="Off", host="127.0.0.1", port=9100, prints_reports=True, enabled=False)
    assert queue.enqueue_report(data=b"x") is None
    assert not PrintJob.objects.exists()
