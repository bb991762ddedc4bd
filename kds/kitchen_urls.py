"""Kitchen screens, under /kitchen/ (kds/urls.py). The WebSockets are in kds/routing.py."""

from django.urls import path

from kds import views

app_name = "kds"

urlpatterns = [
    path("", views.index, name="index"),
    path("bind/", views.bind, name="bind"),
    path("ready/", views.ready_board, name="ready"),
    path("<slug:slug>/", views.station, name="station"),
    path("<slug:slug>/tickets/<int:ticket_id>/", views.ticket_status, name="ticket"),
    path("<slug:slug>/items/<int:item_id>/", views.item_status, name="item"),
    path("<slug:slug>/recall/", views.recall_last, name="recall_last"),
]
