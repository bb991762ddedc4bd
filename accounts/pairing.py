"""Pairing a browser with a device: its token (shown once when issued) or a 6-digit pairing code a
manager issues for it; re-issuing and revoking device tokens; the addresses a tablet can reach us at.

Every grant is announced as a `rights_change` access event. A wrong pairing token is only logged, not
journaled: anyone on the network can send one, and the signed journal must not be something an
unpaired stranger can fill. Tokens and codes never reach the journal or the logs.
"""

import logging
import re
import secrets
import socket
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.access import device_from_token
from accounts.models import Device, User
from accounts.signals import announce

logger = logging.getLogger(__name__)

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
    announce("rights_change", message="browser paired", device=device, address=address)
    return device


# Pairing codes: 6 digits typed on a kitchen TV's remote beat a 43-character token. A million values
# is guessable, so a code lives 10 minutes and works once, and each address may get PAIRING_MAX_FAILURES
# codes or tokens wrong in PAIRING_WINDOW_SECONDS (pairing_blocked): one address has a 0.001 % chance
# per code. Wrong guesses never cancel the real codes: a stranger must not be able to stop the
# manager's screens from pairing.
PAIRING_CODE_PATTERN = re.compile(r"[0-9]{6}")
PAIRING_CODE_SECONDS = 600


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
    announce("rights_change", message="pairing code issued", operator=by, device=device)
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
    announce("rights_change", message=message, operator=by, device=device, role=device.role)
    return token


def revoke_device(*, device: Device, by: User | None = None) -> bool:
    """Refuse the device from now on (token and paired cookies alike). False if it already was."""
    revoked = Device.objects.filter(pk=device.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), pairing_code_hash="", pairing_code_expires_at=None
    )
    if revoked:
        device.refresh_from_db(fields=["revoked_at"])
        announce("rights_change", message="device revoked", operator=by, device=device)
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
