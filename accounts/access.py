"""Who is calling: paired devices (signed cookie or bearer token) and staff (session, PIN quick-login).

Every view states what it needs with one decorator:

    @device_required(Device.Role.TILL)            a paired till (HTML: pairing page; API: 401/403 JSON)
    @staff_required(User.Role.SERVER)             a staff member logged in on it (managers always pass)
    @api_view(Device.Role.KIOSK, ...)             bearer-token JSON endpoints

WebSocket consumers call `device_from_scope(scope)`.

The rest of the module is the access services the views call: pairing a browser with a device token
or a short pairing code, staff PINs (hashing, checking with a lock-out, the manager override) and the PIN session's idle limit.

Access events announced here (accounts.signals; the fiscal app journals them as JET codes):
    login (by PIN), pin_failure, pin_lockout (too many failures), logout,
    rights_change (a browser paired; a device token or pairing code issued; a device revoked;
    a PIN set or unlocked).
A wrong pairing token is only logged, not journaled: anyone on the network can send one, and the
signed journal must not be something an unpaired stranger can fill.
PINs and tokens never reach the journal or the logs.
"""

import logging
import re
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from http.cookies import SimpleCookie
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password
from django.core import signing
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from accounts.models import Device, User, hash_token
from accounts.signals import KINDS, access_event

logger = logging.getLogger(__name__)

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
    context = {"device": getattr(request, "device", None)}
    session = getattr(request, "session", None)
    if session is not None and session.get(PIN_SESSION_KEY) and settings.PIN_IDLE_SECONDS > 0:
        context["pin_idle_seconds"] = settings.PIN_IDLE_SECONDS
    return context


def json_error(status: int, code: str, detail) -> JsonResponse:
    """The API's one error shape (DESIGN.md): {"error": code, "detail": ...} with a 4xx status."""
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


# --- Journal ------------------------------------------------------------------------------------------

def journal(kind: str, *, message: str, operator: User | None = None, device: Device | None = None, **details) -> None:
    """Announce an access event; the fiscal app journals it (accounts.signals)."""
    assert kind in KINDS, kind
    access_event.send(sender=User, kind=kind, message=message, operator=operator, device=device, details=details or None)


# --- Pairing ------------------------------------------------------------------------------------------

# A device token carries 256 random bits, so guessing one is hopeless; the limit only stops a script from
# hammering the server (and its log) from one address. The cache is per process, which is enough.
PAIRING_MAX_FAILURES = 10
PAIRING_WINDOW_SECONDS = 600


def _pairing_key(address: str) -> str:
    return f"brigade:pairing-failures:{address}"


def pairing_blocked(*, address: str) -> bool:
    return cache.get(_pairing_key(address), 0) >= PAIRING_MAX_FAILURES


def _count(key: str, window: int) -> int:
    cache.add(key, 0, window)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, window)
        return 1


def pair_with_token(*, token: str, address: str) -> Device | None:
    """The active device holding `token` — or the 6-digit pairing code a manager issued for it —
    journaled as paired; None (and a failure counted against `address`) otherwise. The caller sets
    the cookie with `set_device_cookie`."""
    secret = token.strip()
    if PAIRING_CODE_PATTERN.fullmatch(secret):
        device = _device_from_pairing_code(secret)
    else:
        device = device_from_token(secret)
    if device is None:
        _count(_pairing_key(address), PAIRING_WINDOW_SECONDS)
        logger.warning("Pairing refused from %s: unknown, expired or revoked token or code", address)
        return None
    journal("rights_change", message="browser paired", device=device, address=address)
    return device


# Pairing codes: 6 digits typed on a kitchen TV's remote beat a 43-character token. A million values
# is guessable, so a code lives 10 minutes, works once, and every pending code is cancelled after
# PAIRING_CODE_MAX_FAILURES wrong codes from anywhere (a guesser then has ~0.002 % of a chance).
PAIRING_CODE_PATTERN = re.compile(r"[0-9]{6}")
PAIRING_CODE_SECONDS = 600
PAIRING_CODE_MAX_FAILURES = 20
_CODE_FAILURES_KEY = "brigade:pairing-code-failures"


def _code_hash(code: str) -> str:
    # Keyed with SECRET_KEY: the database alone does not reveal a pending code (a plain hash of six
    # digits would be reversed in a second).
    return salted_hmac("brigade.pairing-code", code, algorithm="sha256").hexdigest()


def issue_pairing_code(*, device: Device, by: User | None = None) -> str:
    """A fresh 6-digit code that pairs a browser as `device` once, within PAIRING_CODE_SECONDS. It
    replaces the device's previous code; the device's token is unchanged."""
    now = timezone.now()
    while True:
        code = f"{secrets.randbelow(10**6):06d}"
        digest = _code_hash(code)
        if not Device.objects.filter(pairing_code_hash=digest, pairing_code_expires_at__gt=now).exists():
            break
    expires = now + timedelta(seconds=PAIRING_CODE_SECONDS)
    Device.objects.filter(pk=device.pk).update(pairing_code_hash=digest, pairing_code_expires_at=expires)
    device.pairing_code_hash, device.pairing_code_expires_at = digest, expires
    journal("rights_change", message="pairing code issued", operator=by, device=device)
    return code


def _device_from_pairing_code(code: str) -> Device | None:
    digest = _code_hash(code)
    device = Device.objects.filter(
        pairing_code_hash=digest, pairing_code_expires_at__gt=timezone.now(), revoked_at__isnull=True
    ).first()
    # Single use, even when two screens type it at the same moment: only one clears it.
    if device is not None and Device.objects.filter(pk=device.pk, pairing_code_hash=digest).update(
        pairing_code_hash="", pairing_code_expires_at=None
    ):
        return device
    if _count(_CODE_FAILURES_KEY, PAIRING_CODE_SECONDS) >= PAIRING_CODE_MAX_FAILURES:
        cancelled = Device.objects.exclude(pairing_code_hash="").update(pairing_code_hash="", pairing_code_expires_at=None)
        cache.delete(_CODE_FAILURES_KEY)
        logger.warning("Too many wrong pairing codes: %d pending code(s) cancelled", cancelled)
    return None


def issue_device_token(*, device: Device, by: User | None = None) -> str:
    """Give `device` a fresh token (saving it) and return it, to be shown once. Every browser paired
    with the old token is unpaired: its cookie carries the old token's fingerprint. Re-issuing also
    re-activates a revoked device: handing out a token is a deliberate grant."""
    creating = device.pk is None
    token = device.set_new_token()
    device.revoked_at = None
    device.save()
    message = "device created" if creating else "device token re-issued"
    journal("rights_change", message=message, operator=by, device=device, role=device.role)
    return token


def revoke_device(*, device: Device, by: User | None = None) -> bool:
    """Refuse the device from now on (token and paired cookies alike). False if it already was."""
    revoked = Device.objects.filter(pk=device.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), pairing_code_hash="", pairing_code_expires_at=None
    )
    if revoked:
        device.refresh_from_db(fields=["revoked_at"])
        journal("rights_change", message="device revoked", operator=by, device=device)
    return bool(revoked)


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses a tablet on the LAN could use, best guess first. No packet is sent:
    connecting a UDP socket only asks the kernel which interface would route there."""
    found = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("10.255.255.255", 9))
            found.append(probe.getsockname()[0])
    except OSError:  # no route at all: an isolated machine
        pass
    try:
        found += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    return [a for i, a in enumerate(found) if not a.startswith("127.") and a != "0.0.0.0" and a not in found[:i]]


# --- Staff PINs ---------------------------------------------------------------------------------------

PIN_PATTERN = re.compile(r"[0-9]{4,6}")

# Who may log in by PIN on which kind of device (managers everywhere staff log in).
PIN_ROLES = {
    Device.Role.TILL: (User.Role.SERVER, User.Role.MANAGER),
    Device.Role.KDS: (User.Role.COOK, User.Role.MANAGER),
}


class PinHasher(PBKDF2PasswordHasher):
    """PBKDF2 with 20 000 iterations (about 7 ms here) instead of the password default of 1 000 000.

    A PIN has at most a million values: no iteration count stops someone holding the database from
    trying them all, so the slow hash buys nothing there, while it would make every tap on a till wait
    (and checking a manager override tries every manager). What protects a PIN is the lock-out after
    `PIN_MAX_FAILURES` online attempts; hashing keeps PINs unreadable in backups and admin screens.
    The distinct algorithm name keeps these hashes apart from passwords: it is deliberately not in
    PASSWORD_HASHERS, so a PIN hash can never pass as a password.
    """

    algorithm = "pbkdf2_sha256_pin"
    iterations = 20_000


_pin_hasher = PinHasher()


def validate_pin(pin: str) -> None:
    if not isinstance(pin, str) or not PIN_PATTERN.fullmatch(pin):
        raise ValidationError(_("A PIN is 4 to 6 digits."), code="invalid_pin")


def hash_pin(pin: str) -> str:
    validate_pin(pin)
    return _pin_hasher.encode(pin, _pin_hasher.salt())


def _pin_matches(user: User, pin: str) -> bool:
    """Compare in constant time. Hashes made another way (make_password in fixtures or older data) are
    still accepted and upgraded to the PIN hasher on the first success."""
    encoded = user.pin_hash
    if not encoded or not PIN_PATTERN.fullmatch(pin or ""):
        return False
    if encoded.startswith(PinHasher.algorithm + "$"):
        return _pin_hasher.verify(pin, encoded)
    if check_password(pin, encoded):
        User.objects.filter(pk=user.pk, pin_hash=encoded).update(pin_hash=hash_pin(pin))
        return True
    return False


def set_pin(*, user: User, pin: str, by: User | None = None) -> None:
    """Give `user` a new PIN (4–6 digits, else ValidationError) and lift any lock."""
    user.pin_hash = hash_pin(pin)
    user.failed_pin_attempts = 0
    user.pin_locked_until = None
    user.save(update_fields=["pin_hash", "failed_pin_attempts", "pin_locked_until"])
    journal("rights_change", message="PIN set", operator=by, staff=user.get_username())


def unlock_pin(*, user: User, by: User | None = None) -> None:
    User.objects.filter(pk=user.pk).update(failed_pin_attempts=0, pin_locked_until=None)
    user.failed_pin_attempts, user.pin_locked_until = 0, None
    journal("rights_change", message="PIN unlocked", operator=by, staff=user.get_username())


def pin_locked_until(user: User, *, now: datetime | None = None) -> datetime | None:
    """When the user's PIN unlocks, or None if it is usable now."""
    now = now or timezone.now()
    if user.pin_locked_until and user.pin_locked_until > now:
        return user.pin_locked_until
    if user.pin_locked_until is None and user.failed_pin_attempts >= settings.PIN_MAX_FAILURES:
        # Claimed to the limit but the lock time not written yet (a crash in between): locked until a
        # manager unlocks it. Shown as a lock of one full period from now.
        return now + timedelta(seconds=settings.PIN_LOCKOUT_SECONDS)
    return None


def pin_staff_for(device: Device) -> QuerySet[User]:
    """The staff shown as tiles on a device's PIN screen."""
    roles = PIN_ROLES.get(device.role, ())
    return User.objects.filter(is_active=True, role__in=roles).exclude(pin_hash="").order_by("first_name", "username")


@dataclass
class PinCheck:
    """The outcome of one PIN attempt."""

    user: User | None = None  # set when the PIN was right
    locked_until: datetime | None = None  # set when the account is (now) locked
    attempts_left: int | None = None  # after a wrong PIN that did not lock

    @property
    def ok(self) -> bool:
        return self.user is not None


def _claim_attempt(user: User, now: datetime) -> bool:
    """Reserve one PIN attempt for `user`. The counter is raised *before* the PIN is compared, in one
    conditional UPDATE, so concurrent attempts can never run more comparisons than the limit allows:
    the attempt that would exceed it updates 0 rows and is refused as locked."""
    # A lock that has run out: start afresh (only one concurrent request wins this).
    User.objects.filter(pk=user.pk, pin_locked_until__lte=now).update(pin_locked_until=None, failed_pin_attempts=0)
    return bool(
        User.objects.filter(
            pk=user.pk, is_active=True, pin_locked_until__isnull=True, failed_pin_attempts__lt=settings.PIN_MAX_FAILURES
        ).update(failed_pin_attempts=F("failed_pin_attempts") + 1)
    )


def _after_failure(user: User, now: datetime) -> datetime | None:
    """Lock the account if the attempt just failed reached the limit; return the lock's end if this
    call set it. The compare-and-set makes sure one request (and one journal line) sets the lock."""
    until = now + timedelta(seconds=settings.PIN_LOCKOUT_SECONDS)
    locked = User.objects.filter(
        pk=user.pk, pin_locked_until__isnull=True, failed_pin_attempts__gte=settings.PIN_MAX_FAILURES
    ).update(pin_locked_until=until)
    return until if locked else None


def check_pin(*, user: User, pin: str, device: Device | None = None) -> PinCheck:
    """One PIN attempt for `user`, with the lock-out. Steps:

    1. claim an attempt (conditional UPDATE; refused when locked — the PIN is then not even compared);
    2. compare the hash (~7 ms, outside any transaction);
    3. right: reset the counter; wrong: journal it, and lock the account when it was the last attempt
       allowed (journaled once, by the request whose compare-and-set wins).
    """
    now = timezone.now()
    if not _claim_attempt(user, now):
        user.refresh_from_db(fields=["failed_pin_attempts", "pin_locked_until", "is_active"])
        return PinCheck(locked_until=pin_locked_until(user, now=now) or now)
    if _pin_matches(user, pin):
        User.objects.filter(pk=user.pk).update(failed_pin_attempts=0)
        user.refresh_from_db(fields=["pin_hash", "failed_pin_attempts", "pin_locked_until"])
        return PinCheck(user=user)
    journal("pin_failure", message="wrong PIN", operator=user, device=device)
    until = _after_failure(user, now)
    user.refresh_from_db(fields=["failed_pin_attempts", "pin_locked_until"])
    if until is not None:
        journal("pin_lockout", message="PIN locked after repeated failures", operator=user, device=device,
                until=until.isoformat())
        logger.warning("PIN of %s locked until %s after repeated failures", user.get_username(), until)
    locked = pin_locked_until(user, now=now)
    if locked:
        return PinCheck(locked_until=locked)
    return PinCheck(attempts_left=max(settings.PIN_MAX_FAILURES - user.failed_pin_attempts, 0))


def check_manager_pin(pin: str, *, device: Device | None = None) -> User | None:
    """The manager whose PIN this is (for an override on a till: a big discount, a void), or None.

    The same lock-out rules as the login screen: a wrong PIN could have been any manager's, so it
    counts as a failed attempt against every manager it was compared with; the right one clears the
    matching manager's counter and gives the others their attempt back. A locked manager's PIN is
    refused until the lock ends (or another manager unlocks it in the admin).
    """
    now = timezone.now()
    managers = list(User.objects.filter(is_active=True, role=User.Role.MANAGER).exclude(pin_hash=""))
    claimed = [m for m in managers if _claim_attempt(m, now)]
    match = next((m for m in claimed if _pin_matches(m, pin)), None)
    for manager in claimed:
        if match is not None and manager != match:
            User.objects.filter(pk=manager.pk, failed_pin_attempts__gt=0).update(
                failed_pin_attempts=F("failed_pin_attempts") - 1
            )
    if match is not None:
        User.objects.filter(pk=match.pk).update(failed_pin_attempts=0)
        match.refresh_from_db()
        return match
    journal("pin_failure", message="wrong manager override PIN", device=device)
    for manager in claimed:
        until = _after_failure(manager, now)
        if until is not None:
            journal("pin_lockout", message="PIN locked after repeated failures", operator=manager,
                    device=device, until=until.isoformat())
    return None


# --- The PIN session ----------------------------------------------------------------------------------

# Session key marking a login made by PIN on a shared screen: {"device": id, "seen": unix time}.
PIN_SESSION_KEY = "brigade_pin"
# Writing the session on every request would cost a database write per tap; a minute's precision is
# plenty for an idle limit counted in minutes.
ACTIVITY_PRECISION_SECONDS = 30


def log_in_with_pin(request: HttpRequest, *, user: User, pin: str) -> PinCheck:
    """Check the PIN and, when right, make `user` the person logged in on this screen. Django's login
    starts a fresh session when someone else was logged in, so the previous person is logged out."""
    device = request.device
    result = check_pin(user=user, pin=pin, device=device)
    if not result.ok:
        return result
    previous = request.user if request.user.is_authenticated else None
    if previous is not None and previous.pk != user.pk:
        journal("logout", message="logged out: another person logged in", operator=previous, device=device)
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    request.session[PIN_SESSION_KEY] = {"device": device.pk if device else None, "seen": int(time.time())}
    journal("login", message="login by PIN", operator=user, device=device)
    return result


def log_out(request: HttpRequest, *, reason: str = "logout") -> None:
    user = request.user if request.user.is_authenticated else None
    logout(request)
    if user is not None:
        journal("logout", message=f"logged out ({reason})", operator=user, device=getattr(request, "device", None))


def pin_session_expired(request: HttpRequest) -> bool:
    """True when a PIN login has seen no activity for PIN_IDLE_SECONDS (0: never expires)."""
    marker = request.session.get(PIN_SESSION_KEY)
    if not marker or settings.PIN_IDLE_SECONDS <= 0:
        return False
    return time.time() - marker.get("seen", 0) > settings.PIN_IDLE_SECONDS


def note_pin_activity(request: HttpRequest) -> None:
    marker = request.session.get(PIN_SESSION_KEY)
    if marker and time.time() - marker.get("seen", 0) > ACTIVITY_PRECISION_SECONDS:
        request.session[PIN_SESSION_KEY] = {**marker, "seen": int(time.time())}


# --- Admin permissions --------------------------------------------------------------------------------


class ManagerBackend(ModelBackend):
    """Password and session authentication as usual, plus: an active manager holds every model
    permission. A small restaurant has no use for per-model permission lists, and a manager must be
    able to manage the menu, staff and devices the day the system is installed. Who reaches the admin
    at all is decided by its `has_permission` (orders/admin_access.py); fiscal admins still refuse
    edits to sealed records for everyone."""

    def _is_manager(self, user_obj) -> bool:
        return user_obj.is_active and getattr(user_obj, "role", None) == User.Role.MANAGER

    def has_perm(self, user_obj, perm, obj=None) -> bool:
        return self._is_manager(user_obj) or super().has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj, app_label) -> bool:
        return self._is_manager(user_obj) or super().has_module_perms(user_obj, app_label)
