"""The self-order kiosk's views: a customer on the kiosk device, the bistro menu of tests/orders/conftest.py."""

import itertools
from decimal import Decimal

import pytest
from django.conf import settings
from django.urls import reverse

from orders.actions import menu as menu_actions
from orders.actions import ordering
from accounts.access import device_cookie_value
from orders.models import Order, OrderLine, Payment
from tests.orders.conftest import line

D = Decimal
_keys = itertools.count(1)


def htmx_post(client, url, data=None, *, key=None):
    return client.post(url, data or {}, HTTP_HX_REQUEST="true", HTTP_IDEMPOTENCY_KEY=key or f"kiosk-{next(_keys)}")


@pytest.fixture
def kiosk_client(client, kiosk, menu):
    client.cookies[settings.DEVICE_COOKIE_NAME] = device_cookie_value(kiosk)
    return client


@pytest.fixture
def take_away(kiosk_client):
    kiosk_client.post(reverse("kiosk:begin"), {"order_type": "take_away"})
    return kiosk_client


def formule_fields(menu, **overrides):
    fields = {
        "item": menu.formule.pk,
        "from_picker": 1,
        f"slot_{menu.formule_main.pk}": menu.burger.pk,
        f"slot_{menu.formule_main.pk}_modifier_{menu.cuisson.pk}": menu.a_point.pk,
        f"slot_{menu.formule_side.pk}": menu.fries.pk,
        f"slot_{menu.formule_drink.pk}": menu.water.pk,
    }
    fields.update(overrides)
    return fields


def test_it_refuses_a_till_on_the_kiosk(client, till, menu):
    client.cookies[settings.DEVICE_COOKIE_NAME] = device_cookie_value(till)
    assert client.get(reverse("kiosk:start")).status_code == 403


def test_it_sends_an_unpaired_browser_to_pairing(client, menu):
    response = client.get(reverse("kiosk:start"))
    assert response.status_code == 302 and reverse("orders:pair") in response["Location"]


def test_it_shows_the_attract_screen_with_both_languages(kiosk_client):
    html = kiosk_client.get(reverse("kiosk:start")).content.decode()
    assert 'value="eat_in"' in html and 'value="take_away"' in html
    assert 'value="fr"' in html and 'value="en"' in html


def test_it_needs_a_choice_of_eat_in_or_take_away_before_the_menu(kiosk_client):
    assert kiosk_client.get(reverse("kiosk:menu"))["Location"] == reverse("kiosk:start")
    kiosk_client.post(reverse("kiosk:begin"), {"order_type": "delivery"})
    assert kiosk_client.get(reverse("kiosk:menu")).status_code == 302


def test_it_shows_the_menu_with_sold_out_items_greyed(take_away, menu):
    menu_actions.set_item_availability(item=menu.dessert, remaining=0)
    html = take_away.get(reverse("kiosk:menu")).content.decode()
    assert "Formule midi" in html
    start = html.index(f'data-item-id="{menu.dessert.pk}"')
    assert "is-86" in html[start - 120:start]


def test_it_builds_a_basket_and_changes_quantities(take_away, menu):
    response = htmx_post(take_away, reverse("kiosk:basket_add"), {"item": menu.sandwich.pk})
    assert response.status_code == 200 and "Jambon-beurre" in response.content.decode()
    htmx_post(take_away, reverse("kiosk:basket_add"), formule_fields(menu))

    more = htmx_post(take_away, reverse("kiosk:basket_quantity", args=[0]), {"quantity": 3})
    assert "19,50" in more.content.decode()  # 3 × 6.50
    assert "39,00" in more.content.decode()  # + 19.50

    removed = htmx_post(take_away, reverse("kiosk:basket_quantity", args=[0]), {"quantity": 0})
    assert "Jambon-beurre" not in removed.content.decode()
    assert not Order.objects.exists()  # nothing reaches the database before confirming


def test_it_keeps_the_picker_open_when_a_slot_is_missing(take_away, menu):
    fields = formule_fields(menu)
    del fields[f"slot_{menu.formule_drink.pk}"]
    response = htmx_post(take_away, reverse("kiosk:basket_add"), fields)
    assert response.status_code == 422
    assert response["HX-Retarget"] == "#modal"
    assert "Boisson" in response.content.decode()
    assert f'hx-get="{reverse("kiosk:item", args=[menu.formule.pk])}"' in response.content.decode()


def test_it_explains_the_cooking_error_in_english(take_away, menu):
    take_away.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    fields = formule_fields(menu)
    del fields[f"slot_{menu.formule_main.pk}_modifier_{menu.cuisson.pk}"]
    response = htmx_post(take_away, reverse("kiosk:basket_add"), fields)
    assert response.status_code == 422
    assert "Burger maison — “Cuisson”: choose exactly 1." in response.content.decode()


def test_it_shows_a_customer_note_as_text(take_away, menu):
    response = htmx_post(take_away, reverse("kiosk:basket_add"), {"item": menu.sandwich.pk, "note": "<img src=x onerror=alert(1)>"})
    html = response.content.decode()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html


def test_it_orders_a_take_away_set_menu_to_pay_at_the_counter(take_away, menu):
    htmx_post(take_away, reverse("kiosk:basket_add"), formule_fields(menu))
    assert "19,50" in take_away.get(reverse("kiosk:confirm")).content.decode()

    response = htmx_post(take_away, reverse("kiosk:confirm"), {"payment": "counter"}, key="confirm-1")

    order = Order.objects.get()
    assert response["HX-Redirect"] == reverse("kiosk:done", args=[order.pk])
    assert (order.order_type, order.source, order.status, order.total) == ("take_away", "kiosk", "open", D("19.50"))
    assert OrderLine.objects.filter(order=order, parent=None).get().status == "sent"
    done = take_away.get(response["HX-Redirect"]).content.decode()
    assert f'id="order-number">{order.number}<' in done
    assert "19,50" in done  # to pay at the counter


def test_it_records_a_card_payment(take_away, menu):
    htmx_post(take_away, reverse("kiosk:basket_add"), {"item": menu.sandwich.pk})
    htmx_post(take_away, reverse("kiosk:confirm"), {"payment": "card"})
    order = Order.objects.get()
    assert order.status == "paid"
    assert Payment.objects.get(order=order).method == "card"


def test_it_places_one_order_when_the_confirmation_is_retried(take_away, menu):
    htmx_post(take_away, reverse("kiosk:basket_add"), {"item": menu.sandwich.pk})
    first = htmx_post(take_away, reverse("kiosk:confirm"), {"payment": "card"}, key="confirm-1")
    retry = htmx_post(take_away, reverse("kiosk:confirm"), {"payment": "card"}, key="confirm-1")
    assert first["HX-Redirect"] == retry["HX-Redirect"]
    assert Order.objects.count() == 1 and Payment.objects.count() == 1


def test_it_refuses_an_empty_basket(take_away):
    response = htmx_post(take_away, reverse("kiosk:confirm"), {"payment": "counter"})
    assert response.status_code == 422
    assert not Order.objects.exists()


def test_it_tells_the_customer_when_an_item_sold_out_meanwhile(take_away, menu):
    htmx_post(take_away, reverse("kiosk:basket_add"), {"item": menu.sandwich.pk})
    menu_actions.set_item_availability(item=menu.sandwich, available=False)
    response = htmx_post(take_away, reverse("kiosk:confirm"), {"payment": "counter"})
    assert response.status_code == 409
    assert "Jambon-beurre" in response.content.decode()
    assert not Order.objects.exists()


def test_it_starts_over_and_forgets_the_basket(take_away, menu):
    htmx_post(take_away, reverse("kiosk:basket_add"), {"item": menu.sandwich.pk})
    take_away.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = take_away.post(reverse("kiosk:reset"))
    assert response["Location"] == reverse("kiosk:start")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == ""
    assert take_away.get(reverse("kiosk:menu")).status_code == 302


def test_it_shows_only_its_own_orders_number(kiosk_client, menu, till, alice):
    other = ordering.place_order(device=till, server=alice, order_type="take_away", lines=[line(menu.sandwich)], source="till")
    assert kiosk_client.get(reverse("kiosk:done", args=[other.pk])).status_code == 404
