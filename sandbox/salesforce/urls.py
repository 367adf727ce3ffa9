"""The Salesforce sandbox: login host and instance at once, under /sandbox/salesforce/."""

from django.urls import path, re_path

from sandbox.salesforce import views, views_record

urlpatterns = [
    re_path(r"^services/oauth2/authorize/?$", views.authorize, name="sf-authorize"),
    re_path(r"^services/oauth2/token/?$", views.token, name="sf-token"),
    path("services/data/", views.versions, name="sf-versions"),
    re_path(r"^services/data/v(?P<version>\d+\.\d)/(?P<rest>.*)$", views.api, name="sf-api"),
    # The Lightning record page, read-only
    path("lightning/r/<str:sobject>/<str:record_id>/view", views_record.record, name="sf-record"),
]
