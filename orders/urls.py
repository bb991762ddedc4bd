from django.urls import include, path

from orders import access_views

app_name = "orders"

urlpatterns = [
    path("", access_views.home, name="home"),
    path("pair/", access_views.pair, name="pair"),
    path("login/", access_views.pin_login, name="pin_login"),
    path("logout/", access_views.logout_view, name="logout"),
    path("till/", include("orders.till_urls")),
    path("kiosk/", include("orders.kiosk_urls")),
]
