"""The menu admin (orders/admin_menu.py): managers only; availability changes reach the tills."""

import pytest
from django.urls import reverse

from orders.actions import ordering
from orders.models import CustomerAccount, Item, Order
from tests.orders.conftest import line

PAGES = ["category", "item", "modifiergroup", "allergen", "table", "customeraccount", "order", "payment"]


@pytest.fixture
def manager_client(client, manager):
    client.force_login(manager)
    return client


@pytest.mark.parametrize("model", PAGES)
def test_it_shows_every_menu_page_to_managers(manager_client, menu, model):
    assert manager_client.get(reverse(f"admin:orders_{model}_changelist")).status_code == 200


def test_it_shows_item_and_order_pages(manager_client, menu, till, alice):
    order = ordering.place_order(device=till, server=alice, order_type="eat_in", source="till", lines=[line(menu.dessert)], send=False)
    assert manager_client.get(reverse("admin:orders_item_change", args=[menu.formule.pk])).status_code == 200
    response = manager_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert response.status_code == 200 and b"Mousse au chocolat" in response.content


def test_it_keeps_orders_read_only(manager_client, menu):
    assert manager_client.get(reverse("admin:orders_order_add")).status_code == 403
    assert manager_client.get(reverse("admin:orders_payment_add")).status_code == 403


def test_it_refuses_servers(client, alice, menu):
    alice.is_staff = True
    alice.save()
    client.force_login(alice)
    response = client.get(reverse("admin:orders_item_changelist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_it_tells_the_tills_when_a_manager_86s_an_item(manager_client, menu, monkeypatch, django_capture_on_commit_callbacks):
    from core import events

    published = []
    monkeypatch.setattr(events, "publish_now", lambda group, event: published.append((group, event)))
    url = reverse("admin:orders_item_changelist")
    form = {
        "form-TOTAL_FORMS": "1", "form-INITIAL_FORMS": "1", "form-0-id": str(menu.steak.pk),
        "form-0-available": "", "form-0-remaining": "3", "_save": "Save",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = manager_client.post(f"{url}?id__exact={menu.steak.pk}", form)
    assert response.status_code == 302, response.content[:2000]
    steak = Item.objects.get(pk=menu.steak.pk)
    assert (steak.available, steak.remaining) == (False, 3)
    assert ("menu", {"type": "menu.item", "item_id": menu.steak.pk, "available": False, "remaining": 3}) in published


def test_it_shows_account_balances_read_only(manager_client, menu):
    account = CustomerAccount.objects.create(name="Cabinet Durand")
    response = manager_client.post(
        reverse("admin:orders_customeraccount_change", args=[account.pk]),
        {"name": "Cabinet Durand", "balance": "-500.00", "active": "on",
         "settlements-TOTAL_FORMS": "0", "settlements-INITIAL_FORMS": "0"},
    )
    assert response.status_code == 302
    account.refresh_from_db()
    assert str(account.balance) == "0.00"
    assert Order.objects.count() == 0
