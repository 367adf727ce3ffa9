"""The sandboxes, mounted under /sandbox/ only while settings.SANDBOX_ENABLED is on."""

from django.urls import include, path

from sandbox import faults

urlpatterns = [
    path("faults/", faults.control, name="sandbox_faults"),
    path("hubspot/", include("sandbox.hubspot.urls")),
    path("salesforce/", include("sandbox.salesforce.urls")),
]
