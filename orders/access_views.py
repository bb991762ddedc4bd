"""Pairing a device, PIN quick-login, and the home screen that sends each device where it belongs."""

from django.contrib.auth import logout
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST


@require_GET
def home(request):
    if request.device is None:
        return redirect("orders:pair")
    return render(request, "access/home.html")


@require_http_methods(["GET", "POST"])
def pair(request):
    return render(request, "access/pair.html")


@require_http_methods(["GET", "POST"])
def pin_login(request):
    return render(request, "access/pin_login.html")


@require_POST
def logout_view(request):
    logout(request)
    return redirect("orders:home")
