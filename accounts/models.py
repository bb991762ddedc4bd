"""Who may use the system: staff members (PIN on shared tablets, password for managers) and paired
devices (tills, kiosks, kitchen screens, integrations)."""

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A member of staff. Managers use the admin with a password; everyone uses a PIN on shared tablets."""

    class Role(models.TextChoices):
        MANAGER = "manager", _("Manager")
        SERVER = "server", _("Server")
        COOK = "cook", _("Cook")

    role = models.CharField(_("role"), max_length=16, choices=Role.choices, default=Role.SERVER)
    pin_hash = models.CharField(_("PIN"), max_length=128, blank=True, help_text=_("Stored hashed."))
    failed_pin_attempts = models.PositiveSmallIntegerField(_("failed PIN attempts"), default=0)
    pin_locked_until = models.DateTimeField(_("PIN locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff")
        constraints = [
            models.CheckConstraint(condition=Q(role__in=["manager", "server", "cook"]), name="accounts_user_role_valid"),
        ]

    def __str__(self):
        return self.get_full_name() or self.username

    @property
    def is_manager(self) -> bool:
        return self.role == self.Role.MANAGER or self.is_superuser


def hash_token(token: str) -> str:
    """Device tokens are random and long, so one unsalted SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


class Device(models.Model):
    """A till, kiosk, kitchen screen or integration, paired once by a bearer token."""

    class Role(models.TextChoices):
        TILL = "till", _("Till")
        KIOSK = "kiosk", _("Kiosk")
        KDS = "kds", _("Kitchen screen")
        INTEGRATION = "integration", _("Integration")

    name = models.CharField(_("name"), max_length=80, unique=True)
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)
    # A short-lived 6-digit code a manager shows in the admin, typed on a screen that has no camera
    # (a kitchen TV) instead of the long token. Stored keyed-hashed; single use (accounts.pairing).
    pairing_code_hash = models.CharField(max_length=64, blank=True, editable=False)
    pairing_code_expires_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        constraints = [
            models.CheckConstraint(
                condition=Q(role__in=["till", "kiosk", "kds", "integration"]), name="accounts_device_role_valid"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_role_display()})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def set_new_token(self) -> str:
        """Give the device a fresh token (the old one stops working) and return it: it is shown once."""
        token = secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        return token
