"""The wizard's URLs, prepended to ObjectSyncAdmin's own (STYLE rule 6)."""

from __future__ import annotations

from django.contrib.admin import AdminSite
from django.urls import URLPattern, path

from syncrules.wizard import configure, limit, manage, review, select, values


def wizard_urls(site: AdminSite) -> list[URLPattern]:
    def view(func, **kwargs):
        return site.admin_view(func) if not kwargs else site.admin_view(lambda request, pk: func(request, pk, **kwargs))

    name = "syncrules_objectsync_"
    return [
        path("wizard/", view(select.select_new), name=f"{name}wizard"),
        path("wizard/<int:pk>/select/", view(select.select_step), name=f"{name}wizard_select"),
        path("wizard/<int:pk>/configure/", view(configure.configure_step), name=f"{name}wizard_configure"),
        path("wizard/<int:pk>/configure/values/<int:mapping_id>/", view(values.value_map_step),
             name=f"{name}wizard_values"),
        path("wizard/<int:pk>/limit/", view(limit.limit_step), name=f"{name}wizard_limit"),
        path("wizard/<int:pk>/review/", view(review.review_step), name=f"{name}wizard_review"),
        path("<int:pk>/overview/", view(manage.sync_page), name=f"{name}page"),
        path("<int:pk>/turn-off/", view(manage.toggle, on=False), name=f"{name}turn_off"),
        path("<int:pk>/turn-on/", view(manage.toggle, on=True), name=f"{name}turn_on"),
        path("<int:pk>/delete-sync/", view(manage.delete), name=f"{name}delete_sync"),
        path("<int:pk>/run/", view(manage.run_now), name=f"{name}run"),
    ]
