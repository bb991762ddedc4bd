"""Who is calling: paired devices (signed cookie or bearer token) and staff (a session opened by PIN).

Every view states what it needs with one decorator:

    @device_required(Device.Role.TILL)            a paired till (HTML: pairing page; API: 401/403 JSON)
    @staff_required(User.Role.SERVER)             a staff member logged in on it (managers always pass)
    @api_view(Device.Role.KIOSK, ...)             bearer-token JSON endpoints

WebSocket consumers call `device_from_scope(scope)`. API errors have one shape, `json_error`.

Pairing a browser with a device is accounts/pairing.py; staff PINs, the lock-out and the PIN session's
idle limit are accounts/pins.py. Both announce access events (accounts.signals), which the fiscal app
journals; PINs and tokens never reach the journal or the logs.
"""

from collections.abc import Callable
from functools import wraps
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.backends import ModelBackend
from django.core import signing
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Device, User, hash_token
from accounts.pins import PIN_SESSION_KEY, log_out, note_pin_activity, pin_session_expired

COOKIE_SALT = "brigade.device"


def device_cookie_value(device: Device) -> str:
    """Signed, long-lived: a kitchen TV stays paired across reboots. Re-issuing the token invalidates it."""
    return signing.dumps({"id": device.pk, "t": device.token_hash[:16]}, salt=COOKIE_SALT)


def set_device_cookie(response: HttpResponse, device: Device) -> None:
    response.set_cookie(
        settings.DEVICE_COOKIE_NAME,
        device_cookie_value(device),
        max_age=settings.DEVICE_COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
    )


def _active_device(**lookup) -> Device | None:
    return Device.objects.filter(revoked_at__isnull=True, **lookup).first()


def device_from_cookie(value: str | None) -> Device | None:
    if not value:
        return None
    try:
        data = signing.loads(value, salt=COOKIE_SALT)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict) or type(data.get("id")) is not int:
        return None
    device = _active_device(pk=data["id"])
    if device is None or device.token_hash[:16] != data.get("t"):
        return None
    return device


def device_from_token(token: str | None) -> Device | None:
    if not token or len(token) > 200:
        return None
    return _active_device(token_hash=hash_token(token))


def bearer_token(authorization: str | None) -> str | None:
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def touch(device: Device) -> None:
    """Record when a device was last seen, at most once a minute (one write, not one per request)."""
    now = timezone.now()
    if device.last_seen_at is None or (now - device.last_seen_at).total_seconds() > 60:
        Device.objects.filter(pk=device.pk).update(last_seen_at=now)
        device.last_seen_at = now


class DeviceMiddleware:
    """Sets `request.device` (or None) from the bearer token, else the paired-device cookie."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        token = bearer_token(request.headers.get("Authorization"))
        if token is not None:
            request.device = device_from_token(token)
            request.device_by_token = True
        else:
            request.device = device_from_cookie(request.COOKIES.get(settings.DEVICE_COOKIE_NAME))
            request.device_by_token = False
        if request.device is not None:
            touch(request.device)
        return self.get_response(request)


def device_context(request: HttpRequest) -> dict:
    """Template context: the device, and for a PIN session the idle limit the page's timer enforces."""
    context = {"device": getattr(request, "device", None), "is_cloud": settings.KDS_ROLE == "cloud"}
    session = getattr(request, "session", None)
    if session is not None and session.get(PIN_SESSION_KEY) and settings.PIN_IDLE_SECONDS > 0:
        context["pin_idle_seconds"] = settings.PIN_IDLE_SECONDS
    return context


def json_error(status: int, code: str, detail) -> JsonResponse:
    """The API's one error shape: {"error": code, "detail": ...} with a 4xx status (docs/contracts.md).
    Endpoints that can name the offending input add "field" (orders.api)."""
    return JsonResponse({"error": code, "detail": detail}, status=status)


def device_required(*roles: str) -> Callable:
    """Pages for paired devices. An unpaired browser gets the pairing page (401); a device of another
    role gets a 403 page naming what it is paired as."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            device = request.device
            if device is None:
                if request.method == "GET" and not request.htmx:
                    return redirect(f"{_pair_url()}?{urlencode({'next': request.get_full_path()})}")
                return render(request, "access/unpaired.html", status=401)
            if roles and device.role not in roles:
                return render(request, "access/wrong_device.html", {"roles": roles}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def staff_required(*roles: str) -> Callable:
    """Pages that need a person logged in (by PIN) on top of the device. Managers pass everywhere."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            user = request.user
            if user.is_authenticated and pin_session_expired(request):
                # The till was left alone: whoever walks up next must not act as the last person.
                log_out(request, reason="idle")
                messages.info(request, _("Logged out after inactivity."))
                user = request.user
            if not user.is_authenticated:
                if request.htmx:
                    from django_htmx.http import HttpResponseClientRedirect

                    return HttpResponseClientRedirect(_login_url())
                return redirect(f"{_login_url()}?{urlencode({'next': request.get_full_path()})}")
            if roles and not (user.is_manager or user.role in roles):
                return render(request, "access/forbidden.html", status=403)
            note_pin_activity(request)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def api_view(*roles: str) -> Callable:
    """JSON endpoints: a bearer token (or a paired cookie) of one of `roles`, JSON errors otherwise."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            device = request.device
            if device is None:
                return json_error(401, "unauthorized", _("A valid device token is required."))
            if roles and device.role not in roles:
                return json_error(403, "forbidden", _("This device may not use this endpoint."))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _pair_url() -> str:
    from django.urls import reverse

    return reverse("orders:pair")


def _login_url() -> str:
    from django.urls import reverse

    return reverse("orders:pin_login")


# --- WebSockets ---------------------------------------------------------------------------------------


def device_from_scope(scope: dict) -> Device | None:
    """The device behind a WebSocket handshake: bearer header first, then the paired cookie.
    Synchronous (database): call it through `database_sync_to_async`."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
    token = bearer_token(headers.get("authorization"))
    if token is not None:
        return device_from_token(token)
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:  # a malformed Cookie header is simply no cookie
        return None
    morsel = cookie.get(settings.DEVICE_COOKIE_NAME)
    return device_from_cookie(morsel.value if morsel else None)


def socket_refusal(device: Device | None, roles) -> int | None:
    """The close code a WebSocket consumer answers with when the caller may not use it: 4401 without a
    paired device, 4403 for a device of another role; None when it may go on. The consumer accepts the
    handshake first, then closes with the code: a refused handshake looks like a network error to a
    browser, which would retry for ever."""
    if device is None:
        return 4401
    if device.role not in roles:
        return 4403
    return None


# --- Admin permissions --------------------------------------------------------------------------------


class ManagerBackend(ModelBackend):
    """Password and session authentication as usual, plus: an active manager holds every model
    permission. A small restaurant has no use for per-model permission lists, and a manager must be
    able to manage the menu, staff and devices the day the system is installed. Who reaches the admin
    at all is decided by `manager_has_permission` (accounts/admin.py); fiscal admins still refuse
    edits to sealed records for everyone."""

    def _is_manager(self, user_obj) -> bool:
        return user_obj.is_active and getattr(user_obj, "role", None) == User.Role.MANAGER

    def has_perm(self, user_obj, perm, obj=None) -> bool:
        return self._is_manager(user_obj) or super().has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj, app_label) -> bool:
        return self._is_manager(user_obj) or super().has_module_perms(user_obj, app_label)
