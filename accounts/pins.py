"""Staff PINs: hashing, checking with a lock-out, the manager override, and the PIN session (a login
made by PIN on a shared screen, ended after an idle limit).

Announced access events (accounts.signals): login (by PIN), pin_failure, pin_lockout (too many
failures), logout, rights_change (a PIN set or unlocked). PINs never reach the journal or the logs.
"""

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.signals import user_logged_in
from django.contrib.auth.hashers import PBKDF2PasswordHasher, check_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db.models import F, QuerySet
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Device, User
from accounts.signals import announce

logger = logging.getLogger(__name__)

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
    announce("rights_change", message="PIN set", operator=by, staff=user.get_username())


def unlock_pin(*, user: User, by: User | None = None) -> None:
    User.objects.filter(pk=user.pk).update(failed_pin_attempts=0, pin_locked_until=None)
    user.failed_pin_attempts, user.pin_locked_until = 0, None
    announce("rights_change", message="PIN unlocked", operator=by, staff=user.get_username())


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
    announce("pin_failure", message="wrong PIN", operator=user, device=device)
    until = _after_failure(user, now)
    user.refresh_from_db(fields=["failed_pin_attempts", "pin_locked_until"])
    if until is not None:
        announce("pin_lockout", message="PIN locked after repeated failures", operator=user, device=device,
                until=until.isoformat())
        logger.warning("PIN of %s locked until %s after repeated failures", user.get_username(), until)
    locked = pin_locked_until(user, now=now)
    if locked:
        return PinCheck(locked_until=locked)
    return PinCheck(attempts_left=max(settings.PIN_MAX_FAILURES - user.failed_pin_attempts, 0))


def _override_key(device: Device | None, operator: User | None) -> str:
    return f"brigade:override-failures:{device.pk if device else '-'}:{operator.pk if operator else '-'}"


def override_blocked(*, device: Device | None = None, operator: User | None = None) -> bool:
    """True while the person at this till has typed too many wrong override PINs."""
    return cache.get(_override_key(device, operator), 0) >= settings.PIN_MAX_FAILURES


def check_manager_pin(pin: str, *, device: Device | None = None, operator: User | None = None) -> User | None:
    """The manager whose PIN this is (for an override on a till: a big discount, a void), or None.

    Wrong override PINs count against the person typing them on this device (`operator`, `device`),
    never against the managers: a server could otherwise lock every manager out by typing five wrong
    PINs. After PIN_MAX_FAILURES wrong ones that person's overrides on that till are refused for
    PIN_LOCKOUT_SECONDS (journaled once), whatever the PIN. A manager locked by their own failed logins
    is refused too, until the lock ends or another manager unlocks it in the admin.
    """
    key = _override_key(device, operator)
    if override_blocked(device=device, operator=operator):
        return None
    now = timezone.now()
    managers = User.objects.filter(is_active=True, role=User.Role.MANAGER).exclude(pin_hash="")
    match = next((m for m in managers if pin_locked_until(m, now=now) is None and _pin_matches(m, pin)), None)
    if match is not None:
        cache.delete(key)
        return match
    announce("pin_failure", message="wrong manager override PIN", operator=operator, device=device)
    cache.add(key, 0, settings.PIN_LOCKOUT_SECONDS)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, settings.PIN_LOCKOUT_SECONDS)
        failures = 1
    if failures == settings.PIN_MAX_FAILURES:
        until = now + timedelta(seconds=settings.PIN_LOCKOUT_SECONDS)
        announce("pin_lockout", message="manager overrides blocked after repeated wrong PINs", operator=operator,
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
        announce("logout", message="logged out: another person logged in", operator=previous, device=device)
    login(request, user, backend="accounts.access.ManagerBackend")
    request.session[PIN_SESSION_KEY] = {"device": device.pk if device else None, "seen": int(time.time())}
    announce("login", message="login by PIN", operator=user, device=device)
    return result


def log_out(request: HttpRequest, *, reason: str = "logout") -> None:
    user = request.user if request.user.is_authenticated else None
    logout(request)
    if user is not None:
        announce("logout", message=f"logged out ({reason})", operator=user, device=getattr(request, "device", None))


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


@receiver(user_logged_in, dispatch_uid="accounts.password_login_ends_the_pin_session")
def password_login_ends_the_pin_session(sender, request, user, **kwargs):
    """A login with the password (the admin's login page) is no longer a PIN session: the PIN marker a
    manager's earlier PIN login left in the session goes, and with it the PIN's idle limit."""
    if request is not None and getattr(request, "resolver_match", None) and request.resolver_match.view_name == "admin:login":
        request.session.pop(PIN_SESSION_KEY, None)
