"""Connection flows (OAuth callbacks) outside the admin's own URLs."""

from django.urls import path  # noqa: F401

app_name = "connectors"
urlpatterns: list = []
