"""Cloud endpoints (JSON, bearer store token) and the owner's stats page; the store's status partial.

The cloud endpoints answer only when KDS_ROLE=cloud: on a store they are 404, as if absent.
"""

import json
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from django.utils.translation import gettext as _

from accounts.access import bearer_token, json_error
from sync import selectors, services
from sync.status import sync_status

# Batches are bigger than the orders the site-wide DATA_UPLOAD_MAX_MEMORY_SIZE is sized for.
MAX_BATCH_BYTES = 8 * 1024 * 1024


def cloud_api(*methods: str) -> Callable:
    """Cloud-only JSON endpoints for a registered store (bearer token): sets `request.store`."""

    def decorator(view):
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs):
            if settings.KDS_ROLE != "cloud":
                return json_error(404, "not_found", _("This server is not a cloud instance."))
            if request.method not in methods:
                response = json_error(405, "method_not_allowed", _("Method not allowed."))
                response["Allow"] = ", ".join(methods)
                return response
            store = services.store_from_token(bearer_token(request.headers.get("Authorization")))
            if store is None:
                return json_error(401, "unauthorized", _("A valid store token is required."))
            request.store = store
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


@cloud_api("GET")
def marks(request: HttpRequest):
    return JsonResponse(services.marks_for(request.store))


@cloud_api("POST")
def records(request: HttpRequest):
    length = int(request.META.get("CONTENT_LENGTH") or 0)
    if length > MAX_BATCH_BYTES:
        return json_error(413, "batch_too_large", _("The batch is too large; send fewer records at a time."))
    # Read the stream directly: request.body would apply the site-wide limit meant for order forms.
    body = request.read(MAX_BATCH_BYTES + 1)
    if len(body) > MAX_BATCH_BYTES:
        return json_error(413, "batch_too_large", _("The batch is too large; send fewer records at a time."))
    try:
        batch = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        return json_error(400, "bad_request", _("The body is not valid JSON."))
    try:
        answer = services.receive_batch(store=request.store, batch=batch)
    except services.Rejected as rejected:
        return JsonResponse(rejected.as_json(), status=rejected.status)
    return JsonResponse(answer)


def manager_required(view):
    """The cloud's owner pages: a manager logged in through the admin's password login."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("admin:login"))
        if not user.is_manager:
            return render(request, "access/forbidden.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


@require_GET
@manager_required
def stats(request: HttpRequest):
    if settings.KDS_ROLE != "cloud":
        raise Http404
    return render(request, "sync/stats.html", {"stores": selectors.store_stats(days=selectors.STATS_DAYS)})


@require_GET
def status(request: HttpRequest):
    """The status indicator alone, for the partial's periodic refresh (a paired device or staff)."""
    if getattr(request, "device", None) is None and not request.user.is_authenticated:
        return json_error(401, "unauthorized", _("A paired device or a staff login is required."))
    return render(request, "sync/_status.html", {"sync": sync_status()})
