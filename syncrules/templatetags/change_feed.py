"""{% change_feed sync as lines %}: how the sync's changes arrive (syncrules.webhooks.status)."""

from django import template
from django.urls import reverse

from syncrules.webhooks.status import change_feed as feed

register = template.Library()


@register.simple_tag(takes_context=True)
def change_feed(context, sync) -> list[str]:
    request = context.get("request")
    path = reverse("hubspot-webhook")
    return feed(sync, request.build_absolute_uri(path) if request else path)
