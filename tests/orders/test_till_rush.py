"""The order screen's rush toggle (POST /till/orders/<id>/rush/) and "rush" in the JSON API."""

import json

import pytest
from django.urls import reverse

from orders.actions import courses, ordering
from orders.models import Order
from tests.orders.test_till_views import htmx_post


@pytest.fixture
def open_order(menu, till, alice):
    return ordering.open_table(device=till, server=alice, table=menu.tables["4"], covers=2)


def rush_url(order):
    return reverse("till:rush", args=[order.pk])


def test_the_order_screen_offers_rush_and_shows_it(till_client, open_order):
    page = till_client.get(reverse("till:order", args=[open_order.pk])).content.decode()
    assert 'data-action="rush"' in page and 'aria-pressed="false"' in page and "badge-rush" not in page
    response = htmx_post(till_client, rush_url(open_order), {"rush": "1"})
    assert response.status_code == 200
    body = response.content.decode()
    assert 'aria-pressed="true"' in body and 'id="rush-badge"' in body
    assert Order.objects.get(pk=open_order.pk).is_rush
    response = htmx_post(till_client, rush_url(open_order), {"rush": "0"})
    assert response.status_code == 200 and 'id="rush-badge"' not in response.content.decode()
    assert not Order.objects.get(pk=open_order.pk).is_rush


def test_a_retried_tap_is_answered_once_and_changes_nothing_twice(till_client, open_order, monkeypatch):
    calls = []
    real = courses.set_rush
    monkeypatch.setattr(courses, "set_rush", lambda **kw: calls.append(kw) or real(**kw))
    for _ in range(2):
        response = htmx_post(till_client, rush_url(open_order), {"rush": "1"}, key="rush-tap-1")
        assert response.status_code == 200
    assert len(calls) == 1 and Order.objects.get(pk=open_order.pk).is_rush


@pytest.mark.parametrize("value", ["", "yes", "2"])
def test_a_bad_value_is_refused(till_client, open_order, value):
    response = htmx_post(till_client, rush_url(open_order), {"rush": value})
    assert response.status_code == 422
    assert not Order.objects.get(pk=open_order.pk).is_rush


def test_a_closed_order_is_refused_with_a_toast(till_client, open_order):
    Order.objects.filter(pk=open_order.pk).update(status=Order.Status.CANCELLED)
    response = htmx_post(till_client, rush_url(open_order), {"rush": "1"})
    assert response.status_code == 409 and "X-Brigade-Message" in response.headers


def test_it_needs_a_post_from_a_till(client, till_client, open_order):
    assert till_client.get(rush_url(open_order)).status_code == 405
    client.logout()
    client.cookies.clear()
    assert client.post(rush_url(open_order), {"rush": "1"}).status_code in (302, 401, 403)
    assert not Order.objects.get(pk=open_order.pk).is_rush


# --- The JSON API ------------------------------------------------------------------------------------


def api_post(client, token, body):
    return client.post("/api/v1/orders/", data=json.dumps(body), content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token}")


def test_the_api_places_a_rush_order_and_shows_it(client, till, menu):
    body = {"idempotency_key": "rush-1", "order_type": "eat_in", "rush": True, "lines": [{"item": menu.fries.pk}]}
    response = api_post(client, till.token, body)
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["rush"] is True and Order.objects.get(pk=data["id"]).is_rush
    shown = client.get(f"/api/v1/orders/{data['id']}/", HTTP_AUTHORIZATION=f"Bearer {till.token}").json()
    assert shown["rush"] is True
    plain = api_post(client, till.token, {**body, "idempotency_key": "rush-2", "rush": False}).json()
    assert plain["rush"] is False


def test_the_api_checks_rush(client, till, kiosk, menu):
    body = {"idempotency_key": "rush-3", "order_type": "eat_in", "rush": "yes", "lines": [{"item": menu.fries.pk}]}
    response = api_post(client, till.token, body)
    assert response.status_code == 400 and response.json()["field"] == "rush"
    response = api_post(client, kiosk.token, {**body, "rush": True})
    assert response.status_code == 403 and response.json()["field"] == "rush"
    assert not Order.objects.exists()


def test_an_api_rush_order_reaches_the_kitchen_as_rush(client, till, menu):
    from kds.models import Station, Ticket

    Station.objects.create(name="Grill", slug="grill", is_default=True)
    body = {"idempotency_key": "rush-4", "order_type": "eat_in", "rush": True, "lines": [{"item": menu.fries.pk}]}
    assert api_post(client, till.token, body).status_code == 201
    assert Ticket.objects.exists() and all(Ticket.objects.values_list("is_rush", flat=True))
