from django.urls import path

from orders import api

app_name = "api"

urlpatterns = [
    path("menu/", api.menu, name="menu"),
    path("orders/", api.orders, name="orders"),
    path("orders/<int:order_id>/", api.order_detail, name="order"),
    path("orders/<int:order_id>/payments/", api.payments, name="payments"),
]
