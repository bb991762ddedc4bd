"""Pages every device meets first: home (routes by device role), pairing, PIN login.

The till and kiosk pages are mounted at the top level in kds/urls.py (namespaces "till" and "kiosk").
"""

from django.urls import path

from accounts import views as access_views

app_name = "orders"

urlpatterns = [
    path("", access_views.home, name="home"),
    path("pair/", access_views.pair, name="pair"),
    path("login/", access_views.pin_login, name="pin_login"),
    path("logout/", access_views.logout_view, name="logout"),
]
