from django.urls import path

from fiscal import views

app_name = "fiscal"

urlpatterns = [
    path("verify/", views.verify, name="verify"),
    path("closures/", views.closures, name="closures"),
    path("closures/<int:pk>/", views.closure, name="closure"),
    path("closures/<int:pk>/print/", views.print_closure, name="print_closure"),
]
