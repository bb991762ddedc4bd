"""Kitchen pages: who may open them, what they show, the no-JavaScript bump path, the admin report."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from kds import services
from kds.models import Screen, Station, Ticket, TicketItem
from printing.models import PrintJob, Printer
from accounts.access import device_cookie_value
from tests.kds.conftest import add_line, make_order


@pytest.fixture
def kds_client(client, kds_screen):
    """A browser on a paired kitchen screen."""
    client.cookies[settings.DEVICE_COOKIE_NAME] = device_cookie_value(kds_screen)
    return client


def sent(menu, item="steak", **kwargs):
    order = make_order(**kwargs)
    services.send_lines_to_kitchen(order=order, lines=[add_line(order, menu[item], note="<script>x</script>")])
    return order


def test_it_shows_the_station_screen_with_its_open_tickets(kds_client, stations, menu, table4):
    order = sent(menu, table=table4, is_rush=True)
    response = kds_client.get("/kitchen/grill/")
    assert response.status_code == 200
    html = response.content.decode()
    grill = Ticket.objects.get(order=order, station__slug="grill")
    assert 'ws-connect="/ws/kds/grill/"' in html and 'hx-ext="ws"' in html
    assert f'id="ticket-{grill.pk}"' in html and f'data-order-id="{order.pk}"' in html and f'data-seq="{grill.seq}"' in html
    assert 'data-seq="1"' in html  # the board's own seq, sent back on reconnect
    assert "STEAK FRITES" in html and "Table 4" in html and "badge-rush" in html
    assert "&lt;script&gt;x&lt;/script&gt;" in html and "<script>x</script>" not in html
    assert "hx-ws-2" in html and "kds/screen.js" in html


def test_it_shows_expo_with_the_stations_of_each_order(kds_client, stations, menu):
    sent(menu)
    html = kds_client.get("/kitchen/expo/").content.decode()
    assert "Grill" in html and "Friteuse" in html and "chip" in html


def test_it_refuses_a_till(client, till, stations):
    client.cookies[settings.DEVICE_COOKIE_NAME] = device_cookie_value(till)
    assert client.get("/kitchen/grill/").status_code == 403
    assert client.post("/kitchen/grill/tickets/1/", {"to": "done"}).status_code == 403


def test_it_sends_an_unpaired_browser_to_pairing(client, stations):
    response = client.get("/kitchen/grill/")
    assert response.status_code == 302 and "/pair/" in response["Location"]


def test_it_answers_404_for_an_unknown_station(kds_client, stations):
    assert kds_client.get("/kitchen/nowhere/").status_code == 404


def test_it_opens_the_bound_station_and_lets_a_screen_choose(kds_client, kds_screen, stations):
    response = kds_client.get("/kitchen/")
    assert response.status_code == 200 and "/kitchen/grill/" in response.content.decode()
    response = kds_client.post("/kitchen/bind/", {"station": "grill"})
    assert response.status_code == 302 and response["Location"] == "/kitchen/grill/"
    assert Screen.objects.get(device=kds_screen).station == stations["grill"]
    assert kds_client.get("/kitchen/")["Location"] == "/kitchen/grill/"
    assert kds_client.get("/kitchen/?choose=1").status_code == 200
    kds_client.post("/kitchen/bind/", {"station": "ready"})
    assert kds_client.get("/kitchen/")["Location"] == "/kitchen/ready/"
    assert kds_client.post("/kitchen/bind/", {"station": "nowhere"}).status_code == 404


def test_it_bumps_and_recalls_without_javascript(kds_client, stations, menu):
    order = sent(menu)
    grill = Ticket.objects.get(order=order, station__slug="grill")
    response = kds_client.post(f"/kitchen/grill/tickets/{grill.pk}/", {"action": "bump", "to": "done"})
    assert response.status_code == 302 and response["Location"] == "/kitchen/grill/"
    assert Ticket.objects.get(pk=grill.pk).status == "done"
    kds_client.post("/kitchen/grill/recall/")
    assert Ticket.objects.get(pk=grill.pk).status == "new"
    item = grill.items.get()
    kds_client.post(f"/kitchen/grill/items/{item.pk}/", {"to": "done"})
    assert Ticket.objects.get(pk=grill.pk).status == "done"  # its only item


def test_it_answers_htmx_refusals_with_409_and_an_event(kds_client, stations, menu):
    order = sent(menu, "cola")
    bar = Ticket.objects.get(order=order, station__slug="bar")
    response = kds_client.post(f"/kitchen/grill/tickets/{bar.pk}/", {"to": "done"}, headers={"HX-Request": "true"})
    assert response.status_code == 409 and "wrong_station" in response["HX-Trigger"]
    assert Ticket.objects.get(pk=bar.pk).status == "new"
    response = kds_client.post(f"/kitchen/bar/tickets/{bar.pk}/", {"to": "done"}, headers={"HX-Request": "true"})
    assert response.status_code == 204


def test_it_shows_the_ready_board(kds_client, stations, menu):
    order = sent(menu, "cola")
    html = kds_client.get("/kitchen/ready/").content.decode()
    assert 'ws-connect="/ws/kds/ready/"' in html
    assert f'data-order-id="{order.pk}"' in html.split("ready-preparing", 1)[1].split("ready-ready", 1)[0]


def test_it_reports_speed_of_service_per_station_and_hour(client, manager, stations, menu):
    order = sent(menu, "cola")
    bar = Ticket.objects.get(order=order, station__slug="bar")
    sent_at = timezone.now().replace(minute=10, second=0, microsecond=0)
    Ticket.objects.filter(pk=bar.pk).update(sent_at=sent_at - timedelta(minutes=0))
    services.set_ticket_status(station=stations["bar"], ticket_id=bar.pk, to="done")
    Ticket.objects.filter(pk=bar.pk).update(prep_seconds=150)
    client.force_login(manager)
    day = timezone.localdate(sent_at)
    response = client.get(f"/admin/kds/ticket/speed/?day={day.isoformat()}")
    assert response.status_code == 200
    html = response.content.decode()
    hour = timezone.localtime(sent_at).hour
    assert f"{hour:02d}:00" in html and 'data-seconds="150"' in html and "2:30" in html and "Bar" in html
    # The chart: the bar's bar (2:30 is under its amber threshold: green) and its two thresholds drawn.
    chart = html.split('<figure class="speed-chart" data-station="bar">', 1)[1].split("</figure>", 1)[0]
    assert f'class="bar bar-green" data-hour="{hour}" data-seconds="150"' in chart
    assert 'class="rule rule-amber"' in chart and 'class="rule rule-red"' in chart
    assert client.get("/admin/kds/ticket/speed/?day=garbage").status_code == 200
    assert client.get("/admin/kds/ticket/").status_code == 200


@pytest.mark.parametrize(
    "url",
    ["/admin/kds/station/", "/admin/kds/station/add/", "/admin/printing/printer/", "/admin/printing/printer/add/",
     "/admin/printing/printjob/", "/admin/kds/screen/", "/admin/kds/stationevent/"],
)
def test_it_opens_the_kitchen_admin_pages(client, manager, stations, url):
    client.force_login(manager)
    assert client.get(url).status_code == 200


def test_it_opens_a_station_in_the_admin(client, manager, stations):
    client.force_login(manager)
    assert client.get(f"/admin/kds/station/{stations['grill'].pk}/change/").status_code == 200


def test_it_sets_a_stations_printer_in_the_admin_and_the_next_order_prints_there(client, manager, stations, menu):
    """The admin saves the station: the kitchen's setup in memory (kds.setup) is read again."""
    grill = stations["grill"]
    send_burger = lambda: services.send_lines_to_kitchen(order=(o := make_order()), lines=[add_line(o, menu["burger"])])
    send_burger()  # the setup is now in memory, without a printer
    assert not PrintJob.objects.exists()
    printer = Printer.objects.create(name="Grill", host="127.0.0.1", port=9100)
    client.force_login(manager)
    response = client.post(f"/admin/kds/station/{grill.pk}/change/", {
        "name": grill.name, "slug": grill.slug, "kind": grill.kind, "position": grill.position, "printer": printer.pk,
        "amber_after": grill.amber_after, "red_after": grill.red_after, "sound_on": "on",
        "categories": [menu["plats"].pk], "items": [menu["steak"].pk],
    })
    assert response.status_code == 302, response.content.decode()[:2000]
    send_burger()
    assert list(PrintJob.objects.values_list("printer__name", "kind")) == [("Grill", "ticket")]


def test_it_shows_a_printers_state_and_prints_a_job_again_from_the_admin(client, manager, stations):
    printer = Printer.objects.create(name="Till", host="127.0.0.1", port=9100, down_since=timezone.now())
    job = PrintJob.objects.create(printer=printer, kind="report", data=b"x", status="failed", attempts=8)
    client.force_login(manager)
    assert '<span style="color:#c62828">' in client.get("/admin/printing/printer/").content.decode()  # down
    response = client.post("/admin/printing/printjob/", {"action": "retry_now", "_selected_action": [job.pk]})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "pending" and job.attempts == 0


def test_it_never_formats_ids_and_numbers_with_thousand_separators(kds_client, stations, menu):
    """French formatting writes 1234 as "1 234": ids, seqs and counters in the markup must stay raw,
    or bumps and resumes break after the thousandth ticket."""
    Station.objects.filter(pk=stations["grill"].pk).update(last_seq=1233)
    order = make_order(number=1500)
    line = add_line(order, menu["burger"])
    services.send_lines_to_kitchen(order=order, lines=[line])
    ticket = Ticket.objects.get(order=order, station__slug="grill")
    # A ticket id past a thousand, as after a few days of service.
    Ticket.objects.create(id=54321, order=order, station=stations["grill"], sent_at=timezone.now(), seq=1234)
    TicketItem.objects.create(id=98765, ticket_id=54321, line=line, quantity=1)
    html = kds_client.get("/kitchen/grill/").content.decode()
    assert ticket.seq == 1234 and 'data-seq="1234"' in html
    assert 'id="ticket-54321"' in html and 'value="54321"' in html and 'value="98765"' in html
    assert "#1500" in html
    assert "1\u202f234" not in html and "1\xa0234" not in html and "54\u202f321" not in html
