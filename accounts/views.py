"""Pairing a device, PIN quick-login, and the home screen that sends each device where it belongs.

The views only read the request and call accounts.pairing and accounts.pins; the rules (rate limits,
lock-out, access events) live there.
"""

import math

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import access, pairing, pins
from accounts.access import device_required
from accounts.models import Device

# Where each kind of device lives once paired (URL names owned by the till, kiosk and kitchen apps).
HOME_URL_NAMES = {
    Device.Role.TILL: "till:floor",
    Device.Role.KIOSK: "kiosk:start",
    Device.Role.KDS: "kds:index",
}


class PairForm(forms.Form):
    token = forms.CharField(
        label=gettext_lazy("Pairing code or device token"),
        max_length=200,
        strip=True,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}),
    )


class PinForm(forms.Form):
    user = forms.IntegerField(widget=forms.HiddenInput)
    pin = forms.RegexField(
        label=gettext_lazy("PIN"),
        regex=pins.PIN_PATTERN,
        max_length=6,
        error_messages={"invalid": gettext_lazy("A PIN is 4 to 6 digits.")},
        widget=forms.PasswordInput(
            # No autofocus: on a tablet it would open the on-screen keyboard over the PIN pad.
            attrs={"inputmode": "numeric", "autocomplete": "off", "pattern": "[0-9]*"}
        ),
    )


def _safe_next(request: HttpRequest) -> str | None:
    """The local path to return to after pairing or logging in; never another site, never a loop."""
    target = request.POST.get("next") or request.GET.get("next")
    if not target or not target.startswith("/") or target.startswith(("/pair/", "/login/", "/logout/")):
        return None
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return None
    return target


def _url_or_none(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:  # that app's pages are not installed yet
        return None


@require_GET
@never_cache
def home(request):
    device = request.device
    if device is None:
        return redirect("orders:pair")
    if device.role == Device.Role.INTEGRATION:
        return render(request, "access/api_only.html")
    if device.role == Device.Role.TILL and not request.user.is_authenticated:
        return redirect("orders:pin_login")
    url = _url_or_none(HOME_URL_NAMES[device.role])
    if url is None:
        return render(request, "access/home.html")
    return redirect(url)


@require_http_methods(["GET", "POST"])
@never_cache
def pair(request):
    """Pair this browser: type a pairing code or paste the token (POST), or open a pairing link
    /pair/?token=... (QR code).

    Pairing by GET is deliberate: a manager shows a QR code, the tablet opens it, done. It only sets a
    cookie naming a device the visitor already holds the secret of."""
    token = request.POST.get("token") if request.method == "POST" else request.GET.get("token")
    if token is None:
        return _pair_page(request, PairForm())
    form = PairForm({"token": token})
    address = request.META.get("REMOTE_ADDR", "")
    if pairing.pairing_blocked(address=address):
        form.add_error(None, _("Too many wrong tokens from this address. Wait a few minutes and try again."))
        return _pair_page(request, form, status=429)
    device = pairing.pair_with_token(token=token, address=address) if form.is_valid() else None
    if device is None:
        if form.is_valid():
            form.add_error("token", _("This code or token is not valid (mistyped, expired, re-issued or revoked). Ask a manager."))
        return _pair_page(request, form, status=400)
    if request.user.is_authenticated:
        pins.log_out(request, reason="screen re-paired")
    response = redirect(_safe_next(request) or reverse("orders:home"))
    access.set_device_cookie(response, device)
    return response


def _pair_page(request: HttpRequest, form: PairForm, *, status: int = 200) -> HttpResponse:
    context = {"form": form, "next": _safe_next(request)}
    return render(request, "access/pair.html", context, status=status)


@device_required(*pins.PIN_ROLES)
@require_http_methods(["GET", "POST"])
@never_cache
def pin_login(request):
    """Staff tiles, then a PIN pad for the chosen person. A right PIN logs them in on this screen (and
    whoever was logged in before out); wrong ones count towards the lock-out."""
    staff = pins.pin_staff_for(request.device)
    now = timezone.now()
    chosen_id = request.POST.get("user") if request.method == "POST" else request.GET.get("user")
    chosen = staff.filter(pk=chosen_id).first() if chosen_id and str(chosen_id).isdigit() else None
    error, status = None, 200
    if request.method == "POST":
        form = PinForm(request.POST)
        if chosen is None:
            error, status = _("Choose your name first."), 400
        elif not form.is_valid():
            error, status = _("A PIN is 4 to 6 digits."), 400
        else:
            result = pins.log_in_with_pin(request, user=chosen, pin=form.cleaned_data["pin"])
            if result.ok:
                target = _safe_next(request) or reverse("orders:home")
                return HttpResponseClientRedirect(target) if request.htmx else redirect(target)
            if result.locked_until:
                error, status = _locked_message(result.locked_until, now), 429
            else:
                error = ngettext(
                    "Wrong PIN. %(count)d attempt left before the lock.",
                    "Wrong PIN. %(count)d attempts left before the lock.",
                    result.attempts_left,
                ) % {"count": result.attempts_left}
                status = 400
    chosen_lock = pins.pin_locked_until(chosen, now=now) if chosen else None
    if chosen_lock and not error:
        error = _locked_message(chosen_lock, now)
    context = {
        "tiles": [(person, pins.pin_locked_until(person, now=now)) for person in staff],
        "chosen": chosen,
        "error": error,
        "form": PinForm(initial={"user": chosen.pk} if chosen else None),  # the PIN is never sent back
        "next": _safe_next(request),
    }
    # Tapping a name (htmx) swaps the screen's body in place; a full load (or no JS) gets the page.
    template = "access/_pin_login.html" if request.htmx and request.method == "GET" else "access/pin_login.html"
    return render(request, template, context, status=status)


def _locked_message(until, now) -> str:
    minutes = max(1, math.ceil((until - now).total_seconds() / 60))
    return _("Locked after too many wrong PINs. Try again in %(minutes)d min, or ask a manager.") % {"minutes": minutes}


@require_POST
def logout_view(request):
    pins.log_out(request)
    if request.POST.get("idle"):
        messages.info(request, _("Logged out after inactivity."))
    return redirect("orders:home")

