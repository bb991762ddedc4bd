"""Mounted at /sync/v1/. marks/ and records/ are the cloud's API for stores (cloud role only); stats/
is the owner's page on the cloud; status/ is the store's indicator partial."""

from django.urls import path

from sync import views

app_name = "sync"

urlpatterns = [
    path("marks/", views.marks, name="marks"),
    path("records/", views.records, name="records"),
    path("stats/", views.stats, name="stats"),
    path("status/", views.status, name="status"),
]
