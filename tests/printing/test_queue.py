"""The print queue on its own: prints queued in one statement, the references of what was printed,
the "printer down" reads the screens' banner draws from."""

from django.utils import timezone

from printing import queue, selectors
from printing.models import Printer, PrintJob


def test_it_queues_several_prints_in_one_statement(db, django_assert_num_queries):
    grill = Printer.objects.create(name="Grill", host="127.0.0.1", port=9100)
    bar = Printer.objects.create(name="Bar", host="127.0.0.1", port=9100)
    prints = [
        queue.Print(grill.pk, PrintJob.Kind.TICKET, b"a", "ticket:1"),
        queue.Print(bar.pk, PrintJob.Kind.TICKET, b"b", "ticket:2"),
    ]
    with django_assert_num_queries(1):
        jobs = queue.enqueue_many(prints=prints)
    assert all(job.pk for job in jobs)
    stored = PrintJob.objects.order_by("pk").values_list("printer__name", "reference", "status", "data")
    assert [(name, ref, status, bytes(data)) for name, ref, status, data in stored] == [
        ("Grill", "ticket:1", "pending", b"a"), ("Bar", "ticket:2", "pending", b"b"),
    ]
    with django_assert_num_queries(0):
        assert queue.enqueue_many(prints=[]) == []


def test_it_tells_which_references_were_queued_as_what(db):
    printer = Printer.objects.create(name="Grill", host="127.0.0.1", port=9100)
    queue.enqueue(printer_id=printer.pk, kind=PrintJob.Kind.TICKET, data=b"x", reference="ticket:1")
    queue.enqueue(printer_id=printer.pk, kind=PrintJob.Kind.VOID, data=b"x", reference="ticket:2")
    found = queue.queued_references(references=["ticket:1", "ticket:2", "ticket:3"], kind=PrintJob.Kind.TICKET)
    assert found == {"ticket:1"}
    assert queue.queued_references(references=[], kind=PrintJob.Kind.TICKET) == set()


def test_it_lists_the_enabled_printers_that_are_down_with_their_waiting_jobs(db, django_assert_num_queries):
    now = timezone.now()
    backup = Printer.objects.create(name="Bar", host="127.0.0.1", port=9100)
    down = Printer.objects.create(name="Grill", host="127.0.0.1", port=9100, down_since=now, backup=backup)
    Printer.objects.create(name="Off", host="127.0.0.1", port=9100, down_since=now, enabled=False)
    for status in ("pending", "printing", "done", "failed", "pending"):
        PrintJob.objects.create(printer=down, data=b"x", status=status)
    PrintJob.objects.create(printer=backup, data=b"x")
    with django_assert_num_queries(1):
        alerts = selectors.down_printers()
        assert [(a["printer"].name, a["waiting"], a["printer"].backup.name) for a in alerts] == [("Grill", 3, "Bar")]
    assert selectors.down_fingerprint() == (down.pk,)
    Printer.objects.filter(pk=down.pk).update(down_since=None)
    assert selectors.down_printers() == [] and selectors.down_fingerprint() == ()
