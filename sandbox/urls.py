"""The sandboxes, mounted under /sandbox/ only while settings.SANDBOX_ENABLED is on."""

from django.urls import include, path

urlpatterns = [
    path("hubspot/", include("sandbox.hubspot.urls")),
    path("salesforce/", include("sandbox.salesforce.urls")),
]
