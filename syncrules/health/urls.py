"""/admin/health/...: mounted in syncsite/urls.py before the admin, every view wrapped in
admin.site.admin_view (login and staff); each view checks its own permission."""

from django.contrib import admin
from django.urls import path

from syncrules.health import actions, views

app_name = "health"

_pages = [
    ("", views.overview, "overview"),
    ("records/", views.records, "records"),
    ("records/<int:link_id>/", views.story, "story"),
    ("sync/<int:sync_id>/errors/", views.sync_errors, "errors"),
    ("sync/<int:sync_id>/errors/export/", actions.export, "export"),
    ("sync/<int:sync_id>/retry/", actions.retry, "retry"),
    ("sync/<int:sync_id>/resync/<str:side>/", actions.resync, "resync"),
    ("sync/<int:sync_id>/activity/", views.sync_charts, "charts"),
    ("sync/<int:sync_id>/toggle/", actions.toggle, "toggle"),
]
urlpatterns = [path(route, admin.site.admin_view(view), name=name) for route, view, name in _pages]
