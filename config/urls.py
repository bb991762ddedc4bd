from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

urlpatterns = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("orders.api_urls")),
    path("kitchen/", include("kds.kitchen_urls")),
    path("fiscal/", include("fiscal.urls")),
    path("sync/v1/", include("sync.urls")),
    # Top-level namespaces "till" and "kiosk" (inside accounts.urls they would become "orders:till").
    path("till/", include("orders.till_urls")),
    path("kiosk/", include("orders.kiosk_urls")),
    path("", include("accounts.urls")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
