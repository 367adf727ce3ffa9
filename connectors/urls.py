"""Connection flows (OAuth callbacks) outside the admin's own URLs."""

from django.urls import path

from connectors import views

app_name = "connectors"
urlpatterns = [
    path("callback/", views.callback, name="oauth_callback"),
    path("<int:pk>/", views.start, name="oauth_start"),
]
