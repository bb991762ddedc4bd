from django.urls import path

from floor import views

urlpatterns = [path("api/v1/orders/", views.create_order)]
