"""What every till page shares: the decorator stack, page/modal/toast rendering and the idempotent run."""

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import quote

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django_htmx.http import HttpResponseClientRedirect, retarget, reswap

from accounts.access import device_required, staff_required
from accounts.models import Device, User
from orders import idempotency, policy
from orders.errors import OrderError, page_status

COURSES = (1, 2, 3, 4)


def till_view(view: Callable) -> Callable:
    """A paired till with a server (or manager) logged in by PIN."""
    return device_required(Device.Role.TILL)(staff_required(User.Role.SERVER)(view))


def floor_manager_required(view: Callable) -> Callable:
    """Under `till_view`: only a manager changes the floor plan (`policy.can_edit_floor`); others get
    a 403 toast."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if not policy.can_edit_floor(request.user):
            return toast(request, _("Only a manager can change the floor plan."), status=403)
        return view(request, *args, **kwargs)

    return wrapper


def run(request: HttpRequest, scope: str, body: Any, action: Callable[[], dict | None]) -> dict:
    """Run `action` once per client key (see orders.idempotency) and return the JSON dict it returned,
    or the first call's dict on a retry. `body` identifies the request. Raises OrderError (also
    IdempotencyKeyReused, when the key came with another request)."""
    return idempotency.replay_or_run(
        device=request.device, scope=scope, key=idempotency.page_key(request), body=body, run=action
    ).body


def page(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    context["base_template"] = "orders/till/_partial.html" if request.htmx else "orders/till/base.html"
    return render(request, template, context, status=status)


def toast(request: HttpRequest, message: str, *, status: int = 409, kind: str = "bad") -> HttpResponse:
    """A refusal shown as a toast (htmx), or as a small page when the browser posted a plain form."""
    if not request.htmx:
        return page(request, "orders/till/message.html", {"message": message, "back": request.META.get("HTTP_REFERER", "")}, status=status)
    response = render(request, "orders/till/_toast.html", {"message": message, "kind": kind}, status=status)
    retarget(response, "#toasts")
    reswap(response, "beforeend")
    # Statuses htmx does not swap (403…) still reach the user: till.js shows this header as a toast.
    response["X-Brigade-Message"] = quote(message)
    return response


def refused(request: HttpRequest, error: OrderError) -> HttpResponse:
    return toast(request, error.message, status=page_status(error.code))


def modal(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    """A modal fragment, swapped into #modal (also when it comes back with form errors)."""
    response = render(request, template, context, status=status)
    if status >= 400 and request.htmx:
        retarget(response, "#modal")
        reswap(response, "innerHTML")
    return response


def client_redirect(request: HttpRequest, url: str) -> HttpResponse:
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
