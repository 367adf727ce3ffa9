"""URLs for `manage.py sandbox_serve`: the sandboxes alone, at the same paths as in the site."""

from django.urls import include, path

urlpatterns = [path("sandbox/", include("sandbox.urls"))]
