from django.urls import path

app_name = "kds"

urlpatterns: list = []
