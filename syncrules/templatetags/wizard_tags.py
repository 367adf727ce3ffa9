"""{% wizard_entry %}: the admin index's "Set up a sync" / "Sync more data" box (syncrules/wizard)."""

from __future__ import annotations

from django import template

from syncrules import permissions
from syncrules.wizard.entry import entries

register = template.Library()


@register.inclusion_tag("admin/syncrules/wizard/entry.html", takes_context=True)
def wizard_entry(context) -> dict:
    request = context.get("request")
    allowed = request is not None and permissions.can_edit_syncs(request.user)
    return {"allowed": allowed, "entries": entries() if allowed else []}
