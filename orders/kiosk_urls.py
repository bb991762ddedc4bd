"""The self-order kiosk: /kiosk/…"""

from django.urls import path

from orders import kiosk_views

app_name = "kiosk"

urlpatterns = [
    path("", kiosk_views.start, name="start"),
    path("begin/", kiosk_views.begin, name="begin"),
    path("reset/", kiosk_views.reset, name="reset"),
    path("menu/", kiosk_views.menu, name="menu"),
    path("items/<int:item_id>/", kiosk_views.item_picker, name="item"),
    path("basket/", kiosk_views.basket_add, name="basket_add"),
    path("basket/<int:index>/", kiosk_views.basket_quantity, name="basket_quantity"),
    path("confirm/", kiosk_views.confirm, name="confirm"),
    path("orders/<int:order_id>/", kiosk_views.done, name="done"),
]
