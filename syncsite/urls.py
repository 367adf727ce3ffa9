"""Root URLs: the admin is the application; the sandboxes are mounted only when allowed."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from syncrules.webhooks.hubspot import hubspot_webhook

admin.site.site_header = "Syncsite"
admin.site.site_title = "Syncsite"
admin.site.index_title = "Data sync"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    # The health pages sit under /admin/ but before the admin's own catch-all patterns.
    path("admin/health/", include("syncrules.health.urls")),
    path("admin/", admin.site.urls),
    path("connect/", include("connectors.urls")),
    # Called by HubSpot, not a person: outside the admin login, the one CSRF-exempt view.
    path("webhooks/hubspot/", hubspot_webhook, name="hubspot-webhook"),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
