"""Admin for who may use the system: staff (roles, PINs, lock-outs) and devices (tokens, revocation).

The whole admin is for managers: `manager_has_permission` below refuses any other login, even one with
is_staff set (accounts.access.ManagerBackend gives managers the model permissions).
"""

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.formats import date_format
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from accounts import pairing, pins
from accounts.models import Device, User


def manager_has_permission(request: HttpRequest) -> bool:
    """The admin's gate: an active staff login whose role is manager (or a superuser), made with the
    manager's password. A PIN login on a shared till never opens the admin (issuing tokens, creating
    staff): four digits seen over a shoulder must not give that. A server who was given is_staff by
    mistake still gets the login page."""
    user = request.user
    if request.session.get(pins.PIN_SESSION_KEY):
        return False
    return user.is_active and user.is_staff and user.is_manager


class ManagerLoginForm(AdminAuthenticationForm):
    """The admin's login form: refuses a non-manager at the door rather than logging them in to a
    site that then shows them nothing."""

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if not user.is_manager:
            raise forms.ValidationError(
                _("Only managers may use the administration. Log in with a manager's account."), code="not_manager"
            )


admin.site.has_permission = manager_has_permission
admin.site.login_form = ManagerLoginForm
admin.site.site_header = _("Brigade administration")
admin.site.site_title = _("Brigade")
# The admin is also opened on a tablet: the index and breadcrumbs lead everywhere, and a change list keeps
# the whole width for its columns and filters instead of sharing it with a menu of every model.
admin.site.enable_nav_sidebar = False


# --- Staff --------------------------------------------------------------------------------------------


class PinField(forms.CharField):
    """A write-only PIN: typed in clear (managers set it with the person), stored hashed, never shown."""

    def __init__(self, **kwargs):
        super().__init__(
            required=False,
            max_length=6,
            strip=True,
            label=_("New PIN"),
            help_text=_("4 to 6 digits. Leave empty to keep the current PIN. Setting it also lifts a lock."),
            widget=forms.PasswordInput(attrs={"inputmode": "numeric", "autocomplete": "new-password"}),
            validators=[pins.validate_pin],
            **kwargs,
        )


class StaffCreationForm(AdminUserCreationForm):
    new_pin = PinField()

    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username", "first_name", "role")


class StaffChangeForm(UserChangeForm):
    new_pin = PinField()

    class Meta(UserChangeForm.Meta):
        model = User


@admin.register(User)
class StaffAdmin(UserAdmin):
    form = StaffChangeForm
    add_form = StaffCreationForm
    list_display = ("username", "first_name", "last_name", "role", "is_active", "has_pin", "pin_lock")
    list_filter = ("role", "is_active", "is_staff")
    search_fields = ("username", "first_name", "last_name")
    ordering = ("first_name", "username")
    readonly_fields = ("failed_pin_attempts", "pin_locked_until", "last_login", "date_joined")
    actions = ["unlock_pins"]
    fieldsets = (
        (None, {"fields": ("username", "first_name", "last_name", "role", "is_active")}),
        (_("PIN quick-login"), {"fields": ("new_pin", "failed_pin_attempts", "pin_locked_until")}),
        (
            _("Admin access (managers)"),
            {
                "fields": ("password", "email", "is_staff", "is_superuser"),
                "description": _("Only managers with “staff status” can log in to this admin, with their password."),
            },
        ),
        (_("Dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",), "fields": ("username", "first_name", "role", "new_pin", "usable_password", "password1", "password2")}),
    )

    @admin.display(boolean=True, description=_("PIN"))
    def has_pin(self, obj: User) -> bool:
        return bool(obj.pin_hash)

    @admin.display(description=_("PIN locked until"))
    def pin_lock(self, obj: User) -> str:
        until = pins.pin_locked_until(obj)
        return date_format(timezone.localtime(until), "SHORT_DATETIME_FORMAT") if until else "—"

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        pin = form.cleaned_data.get("new_pin")
        if pin:
            pins.set_pin(user=obj, pin=pin, by=request.user)

    @admin.action(description=_("Unlock the PIN of the selected staff"))
    def unlock_pins(self, request, queryset):
        for user in queryset:
            pins.unlock_pin(user=user, by=request.user)
        count = queryset.count()
        self.message_user(request, ngettext("%(count)d PIN unlocked.", "%(count)d PINs unlocked.", count) % {"count": count})


# --- Devices ------------------------------------------------------------------------------------------


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ("name", "role", "last_seen_at", "active", "revoked_at", "created_at")
    list_filter = ("role", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("name",)
    fields = ("name", "role", "created_at", "last_seen_at", "revoked_at")
    readonly_fields = ("created_at", "last_seen_at", "revoked_at")
    actions = ["show_pairing_codes", "issue_tokens", "revoke"]

    @admin.display(boolean=True, description=_("active"))
    def active(self, obj: Device) -> bool:
        return obj.is_active

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
        else:
            # A new device gets its token here; response_add shows it (once) instead of the list.
            request.brigade_new_tokens = [(obj, pairing.issue_device_token(device=obj, by=request.user))]

    def response_add(self, request, obj, post_url_continue=None):
        tokens = getattr(request, "brigade_new_tokens", None)
        if tokens:
            return self._token_page(request, tokens)
        return super().response_add(request, obj, post_url_continue)

    @admin.action(description=_("Issue a new token (paired screens must pair again)"))
    def issue_tokens(self, request, queryset):
        tokens = [(device, pairing.issue_device_token(device=device, by=request.user)) for device in queryset]
        return self._token_page(request, tokens)

    @admin.action(description=_("Show a pairing code (6 digits, valid 10 minutes)"))
    def show_pairing_codes(self, request, queryset):
        """Codes for screens without a camera: open the server's address on the screen, type the code.
        The device keeps its token; the code works once."""
        active = [device for device in queryset if device.is_active]
        if len(active) < len(queryset):
            self.message_user(request, _("Revoked devices get no code: issue them a new token instead."), messages.WARNING)
        if not active:
            return None
        rows = [{"device": device, "code": pairing.issue_pairing_code(device=device, by=request.user)} for device in active]
        context = {
            **self.admin_site.each_context(request), "title": _("Pairing codes"), "rows": rows, "opts": self.model._meta,
            "server_url": _lan_base_url(request) + "/", "minutes": pairing.PAIRING_CODE_SECONDS // 60,
        }
        response = TemplateResponse(request, "access/admin_pairing_codes.html", context)
        add_never_cache_headers(response)
        return response

    @admin.action(description=_("Revoke (refuse these devices from now on)"))
    def revoke(self, request, queryset):
        count = sum(pairing.revoke_device(device=device, by=request.user) for device in queryset)
        self.message_user(request, ngettext("%(count)d device revoked.", "%(count)d devices revoked.", count) % {"count": count})

    def _token_page(self, request, tokens: list[tuple[Device, str]]) -> TemplateResponse:
        """The one page that ever shows tokens: rendered straight from the action (not stored in a
        message, a session or a log) and marked not to be cached."""
        import segno

        base = _lan_base_url(request)
        rows = []
        for device, token in tokens:
            link = f"{base}/pair/?token={token}"
            rows.append({"device": device, "token": token, "link": link, "qr": segno.make(link).svg_inline(scale=4)})
        context = {**self.admin_site.each_context(request), "title": _("Device tokens"), "rows": rows, "opts": self.model._meta}
        response = TemplateResponse(request, "access/admin_device_tokens.html", context)
        add_never_cache_headers(response)
        return response


def _lan_base_url(request: HttpRequest) -> str:
    """The server's address as a tablet would type it. A manager on the server itself sees
    http://127.0.0.1:8000, which means nothing to a tablet: use the machine's LAN address instead."""
    host = request.get_host()
    name, _sep, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    if name in ("localhost", "127.0.0.1", "[::1]"):
        addresses = pairing.lan_addresses()
        if addresses:
            host = f"{addresses[0]}:{port}" if port else addresses[0]
    return f"{request.scheme}://{host}"
